"""Platform updates seen already: a redelivered update (restart, webhook retry) runs once.

Several instances behind a load balancer share the log. An update is claimed in it with a
lease before it is handled and marked done after: a copy retried to another instance while
it is in flight waits for it, and one whose instance died mid-way is taken over once the
lease runs out (or at once when that instance ran on this host and is gone). One person's
updates take turns by the platform's update id, across instances (PostgreSQL).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.engine import Connection

from core.clock import Clock
from core.db.database import Database
from core.db.tables import processed_updates as log_table
from core.db.upsert import insert_ignore
from core.instance import dead_here, instance_id

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
"""How long an update in flight stays its instance's: longer than any handling."""
TURN_WAIT = 10.0
"""Seconds an update waits for the same person's earlier one, in flight elsewhere."""
POLL = 0.05
"""Seconds between two looks at the log while waiting."""


class Claim(enum.Enum):
    """What claiming an update found."""

    NEW = "new"  # claimed here: handle it, then mark it done
    DONE = "done"  # handled before
    BUSY = "busy"  # in flight in another instance


class UpdateLog:
    """Remembers processed update ids per platform until the daily purge forgets them."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.me = instance_id()

    async def first_time(self, platform: str, update_key: str) -> bool:
        """Record the update as done; False when it was processed before."""
        return await self.db.transaction(_record, platform, update_key[:64], self.clock.now())

    async def claim(
        self, platform: str, update_key: str, order_key: str | None, seq: int | None
    ) -> Claim:
        """Claim the update for this instance (NEW), unless it is done or in flight elsewhere;
        a claim whose instance died is taken over."""
        return await self.db.transaction(
            _claim, platform, update_key[:64], order_key, seq, self.me, self.clock.now()
        )

    async def take_turn(self, platform: str, update_key: str) -> None:
        """Wait until no earlier update of the same person is in flight and none of theirs is
        being handled (at most TURN_WAIT seconds), then mark this one started."""
        if self.db.is_sqlite:  # one instance: its in-process order is enough
            return
        key = update_key[:64]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TURN_WAIT
        while not await self.db.transaction(_turn, platform, key, self.clock.now(), False):
            if loop.time() > deadline:
                log.warning("update %s waited %.0f s for its turn: handled now", key, TURN_WAIT)
                await self.db.transaction(_turn, platform, key, self.clock.now(), True)
                return
            await asyncio.sleep(POLL)

    async def done(self, platform: str, update_key: str) -> None:
        """Mark a claimed update handled: its copies are skipped from now on."""
        await self.db.transaction(self.marking_done(platform, update_key))

    def marking_done(self, platform: str, update_key: str) -> Callable[[Connection], None]:
        """`done` as a unit of work, for a caller that writes it with others (a conversation
        turn writes it with its state: both or neither)."""
        return partial(_done, platform, update_key[:64])

    async def wait_done(self, platform: str, update_key: str, seconds: float) -> bool:
        """Whether an update in flight elsewhere is done within `seconds`."""
        key = update_key[:64]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            async with self.db.read() as conn:
                lease = (
                    await conn.execute(
                        select(log_table.c.lease_until).where(
                            log_table.c.platform == platform, log_table.c.update_key == key
                        )
                    )
                ).first()
            if lease is None or lease.lease_until is None:
                return True
            if loop.time() > deadline:
                return False
            await asyncio.sleep(POLL)


def _record(conn: Connection, platform: str, update_key: str, now: datetime) -> bool:
    return insert_ignore(conn, log_table, platform=platform, update_key=update_key, received_at=now)


def _row_of(platform: str, update_key: str) -> ColumnElement[bool]:
    return and_(log_table.c.platform == platform, log_table.c.update_key == update_key)


def _claim(
    conn: Connection,
    platform: str,
    update_key: str,
    order_key: str | None,
    seq: int | None,
    me: str,
    now: datetime,
) -> Claim:
    if insert_ignore(
        conn,
        log_table,
        platform=platform,
        update_key=update_key,
        received_at=now,
        order_key=order_key,
        seq=seq,
        claimed_by=me,
        lease_until=now + LEASE,
    ):
        return Claim.NEW
    row = conn.execute(
        select(log_table.c.claimed_by, log_table.c.lease_until)
        .where(_row_of(platform, update_key))
        .with_for_update()
    ).one()
    if row.lease_until is None:
        return Claim.DONE
    if row.lease_until > now and not dead_here(row.claimed_by or ""):
        return Claim.BUSY
    conn.execute(
        update(log_table)
        .where(_row_of(platform, update_key))
        .values(claimed_by=me, lease_until=now + LEASE, started=False)
    )
    log.info("update %s of a dead instance (%s) taken over", update_key, row.claimed_by)
    return Claim.NEW


def _turn(conn: Connection, platform: str, update_key: str, now: datetime, anyway: bool) -> bool:
    """Start the update if its person has no earlier one in flight and none being handled."""
    mine = conn.execute(
        select(log_table.c.order_key, log_table.c.seq).where(_row_of(platform, update_key))
    ).one()
    if mine.order_key is not None and not anyway:
        # Two updates of one person decide their turns one after the other.
        lock = func.hashtext(f"koom-update:{platform}:{mine.order_key}")
        conn.execute(select(func.pg_advisory_xact_lock(lock)))
        before = conn.execute(
            select(log_table.c.claimed_by).where(
                log_table.c.platform == platform,
                log_table.c.order_key == mine.order_key,
                log_table.c.update_key != update_key,
                log_table.c.lease_until > now,
                or_(log_table.c.seq < mine.seq, log_table.c.started),
            )
        ).all()
        if any(not dead_here(row.claimed_by or "") for row in before):
            return False
    conn.execute(update(log_table).where(_row_of(platform, update_key)).values(started=True))
    return True


def _done(platform: str, update_key: str, conn: Connection) -> None:
    conn.execute(
        update(log_table)
        .where(_row_of(platform, update_key))
        .values(lease_until=None, claimed_by=None, started=False)
    )
