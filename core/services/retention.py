"""The daily purge: what is no longer needed leaves the database after its retention period
(KOOM_KEEP_DELIVERIES_DAYS, KOOM_KEEP_CONVERSATIONS_DAYS, KOOM_KEEP_UPDATES_DAYS)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from core.clock import Clock
from core.db.database import Database
from core.db.tables import conversations, deliveries, job_runs, outbox, processed_updates
from core.models import ANNOUNCEMENTS
from core.settings import Settings

log = logging.getLogger(__name__)

PURGE = "purge"
EVERY = timedelta(hours=23)
"""A purge claims the day when the last one is at least this old (a day, less some slack
for the scheduler's drift)."""


@dataclass(frozen=True)
class Purged:
    """How many rows one purge deleted."""

    deliveries: int
    conversations: int
    updates: int


class RetentionService:
    """Deletes sent deliveries, idle conversations and processed update ids once they are
    older than the configured retention; once a day across every instance."""

    def __init__(self, db: Database, clock: Clock, settings: Settings) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings

    async def purge_daily(self) -> Purged | None:
        """Purge, unless another instance (or this one) did within the last day: None then."""
        purged = await self.db.transaction(self._purge, self.clock.now(), True)
        if purged is not None:
            log.info(
                "purged %s deliveries, %s conversations, %s update ids",
                purged.deliveries,
                purged.conversations,
                purged.updates,
            )
        return purged

    async def purge(self) -> Purged:
        """Purge now, whenever the last purge ran."""
        purged = await self.db.transaction(self._purge, self.clock.now(), False)
        assert purged is not None
        return purged

    def _purge(self, conn: Connection, now: datetime, daily: bool) -> Purged | None:
        if daily and not _claim(conn, now):
            return None
        settings = self.settings
        # The latest announcement of each challenge stays: its rows are what tells a member
        # who pledges again later that they heard it already (core.delivery.latest).
        latest = (
            select(func.max(outbox.c.id))
            .where(outbox.c.kind.in_([kind.value for kind in ANNOUNCEMENTS]))
            .group_by(outbox.c.challenge_id)
        )
        sent = conn.execute(
            delete(deliveries).where(
                deliveries.c.status != "pending",
                deliveries.c.created_at < now - timedelta(days=settings.keep_deliveries_days),
                or_(deliveries.c.event_id.is_(None), deliveries.c.event_id.not_in(latest)),
            )
        ).rowcount
        idle = conn.execute(
            delete(conversations).where(
                conversations.c.updated_at < now - timedelta(days=settings.keep_conversations_days)
            )
        ).rowcount
        updates = conn.execute(
            delete(processed_updates).where(
                processed_updates.c.received_at < now - timedelta(days=settings.keep_updates_days)
            )
        ).rowcount
        return Purged(int(sent), int(idle), int(updates))


def _claim(conn: Connection, now: datetime) -> bool:
    """Take today's purge: one UPDATE moves last_run_at forward only when it is a day old,
    so of two instances racing, the second finds it moved and updates nothing."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(job_runs).values(name=PURGE).on_conflict_do_nothing())
    claimed = conn.execute(
        update(job_runs)
        .where(
            job_runs.c.name == PURGE,
            or_(job_runs.c.last_run_at.is_(None), job_runs.c.last_run_at <= now - EVERY),
        )
        .values(last_run_at=now)
    )
    return bool(claimed.rowcount)
