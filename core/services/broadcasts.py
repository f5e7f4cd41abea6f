"""Organiser broadcasts: draft, confirm (now or later), fan out to one delivery row per chat,
follow the progress, cancel.

A broadcast's rows carry its id, so its progress is a count by status and cancelling it is one
UPDATE of its pending rows. The fan-out happens in one transaction with the status change and
each row's dedupe key is the broadcast and the chat: a crash or a second sweep writes no row
twice.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from core.clock import Clock
from core.db.database import Database
from core.db.tables import (
    accounts,
    broadcasts,
    challenges,
    deliveries,
    members,
    organisation_groups,
    organisation_members,
    pledges,
)
from core.db.upsert import insert_all_new
from core.errors import Conflict, Invalid, NotFound
from core.identity import PUSH_PLATFORMS
from core.models import Visibility
from core.services.groups import reachable_followers

BROADCAST_KIND = "broadcast"
BROADCAST_PRIORITY = 20
"""Broadcasts go after reminders and announcements."""
MAX_TEXT = 3000
"""Room is left for the header and footer within every platform's message limit."""
RATE_WINDOW = timedelta(minutes=1)
"""The recent sends the ETA is reckoned from."""


class Audience(StrEnum):
    """Who a broadcast reaches."""

    PLEDGERS = "pledgers"  # active pledgers of the challenge who accept news
    MEMBERS = "members"  # every member who accepts news
    GROUPS = "groups"  # the groups and channels following the challenge


class BroadcastStatus(StrEnum):
    """draft -> scheduled -> sending -> done, or cancelled."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Broadcast:
    """An organiser's message to an audience."""

    id: int
    created_by: int | None
    challenge_id: int | None
    audiences: frozenset[Audience]
    text: str
    status: BroadcastStatus
    send_at: datetime | None
    recipients: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class BroadcastProgress:
    """How far a broadcast got."""

    broadcast: Broadcast
    sent: int
    failed: int
    cancelled: int
    remaining: int
    eta: timedelta | None
    """Time left at the pace of the last minute; None before anything was sent."""

    @property
    def total(self) -> int:
        """Every recipient."""
        return self.sent + self.failed + self.cancelled + self.remaining


def _broadcast(row: Any) -> Broadcast:
    return Broadcast(
        id=row.id,
        created_by=row.created_by,
        challenge_id=row.challenge_id,
        audiences=frozenset(Audience(a) for a in row.audience.split(",")),
        text=row.text,
        status=BroadcastStatus(row.status),
        send_at=row.send_at,
        recipients=row.recipients,
        created_at=row.created_at,
    )


class BroadcastService:
    """Drafts, schedules, sends (by fan-out to delivery rows) and cancels broadcasts."""

    def __init__(self, db: Database, clock: Clock, default_locale: str) -> None:
        self.db = db
        self.clock = clock
        self.default_locale = default_locale

    async def create(
        self,
        created_by: int | None,
        audiences: set[Audience],
        text: str,
        challenge_id: int | None = None,
    ) -> Broadcast:
        """A draft; refused when the text is empty or too long, no audience is chosen, or a
        challenge's audience is chosen without a challenge."""
        text = _checked_text(text)
        if not audiences:
            raise Invalid("broadcast.error_no_audience")
        if challenge_id is None and audiences - {Audience.MEMBERS}:
            raise Invalid("broadcast.error_needs_challenge")
        statement = (
            insert(broadcasts)
            .values(
                created_by=created_by,
                challenge_id=challenge_id,
                audience=",".join(sorted(a.value for a in audiences)),
                text=text,
                status=BroadcastStatus.DRAFT.value,
                created_at=self.clock.now(),
            )
            .returning(*broadcasts.c)
        )

        def unit(conn: Connection) -> Broadcast:
            return _broadcast(conn.execute(statement).one())

        return await self.db.transaction(unit)

    async def get(self, broadcast_id: int) -> Broadcast:
        """One broadcast; NotFound when there is none."""
        async with self.db.read() as conn:
            return await conn.run_sync(_load, broadcast_id)

    async def recent(
        self, limit: int = 10, challenge_ids: Collection[int] | None = None
    ) -> list[Broadcast]:
        """The latest confirmed broadcasts (scheduled, sending, done or cancelled), newest
        first; drafts are left out, and with `challenge_ids` those to other audiences."""
        query = select(broadcasts).where(broadcasts.c.status != BroadcastStatus.DRAFT.value)
        if challenge_ids is not None:
            query = query.where(broadcasts.c.challenge_id.in_(list(challenge_ids)))
        async with self.db.read() as conn:
            rows = await conn.execute(query.order_by(broadcasts.c.id.desc()).limit(limit))
            return [_broadcast(r) for r in rows]

    async def edit_text(self, broadcast_id: int, text: str) -> Broadcast:
        """Change a draft's text (checked as in `create`); Conflict once confirmed."""

        def unit(conn: Connection) -> Broadcast:
            _load(conn, broadcast_id)  # NotFound when it does not exist
            checked = _checked_text(text)
            row = conn.execute(
                update(broadcasts)
                .where(
                    broadcasts.c.id == broadcast_id,
                    broadcasts.c.status == BroadcastStatus.DRAFT.value,
                )
                .values(text=checked)
                .returning(*broadcasts.c)
            ).first()
            if row is None:
                raise Conflict("broadcast.error_not_draft")
            return _broadcast(row)

        return await self.db.transaction(unit)

    async def discard(self, broadcast_id: int) -> None:
        """Delete a draft nobody will read; Conflict once confirmed."""

        def unit(conn: Connection) -> None:
            result = conn.execute(
                broadcasts.delete().where(
                    broadcasts.c.id == broadcast_id,
                    broadcasts.c.status == BroadcastStatus.DRAFT.value,
                )
            )
            if not result.rowcount:
                _load(conn, broadcast_id)  # NotFound when it does not exist
                raise Conflict("broadcast.error_not_draft")

        await self.db.transaction(unit)

    async def audience_size(self, broadcast_id: int) -> dict[str, int]:
        """How many chats would receive the broadcast now, by language."""
        broadcast = await self.get(broadcast_id)
        async with self.db.read() as conn:
            targets = await conn.run_sync(_targets, broadcast, self.default_locale)
        sizes: dict[str, int] = {}
        for target in targets.values():
            sizes[target["locale"]] = sizes.get(target["locale"], 0) + 1
        return sizes

    async def confirm(self, broadcast_id: int, send_at: datetime | None = None) -> Broadcast:
        """Schedule a draft for `send_at` (now when None); the sweep sends it when due."""
        now = self.clock.now()
        when = now if send_at is None else send_at
        if when < now - timedelta(minutes=1):
            raise Invalid("broadcast.error_in_past")

        def unit(conn: Connection) -> Broadcast:
            row = conn.execute(
                update(broadcasts)
                .where(
                    broadcasts.c.id == broadcast_id,
                    broadcasts.c.status == BroadcastStatus.DRAFT.value,
                )
                .values(status=BroadcastStatus.SCHEDULED.value, send_at=when)
                .returning(*broadcasts.c)
            ).first()
            if row is None:
                _load(conn, broadcast_id)  # NotFound when it does not exist
                raise Conflict("broadcast.error_not_draft")
            return _broadcast(row)

        return await self.db.transaction(unit)

    async def launch_due(self) -> int:
        """Fan out every scheduled broadcast whose time has come; the rows written."""
        now = self.clock.now()
        async with self.db.read() as conn:
            due = list(
                (
                    await conn.execute(
                        select(broadcasts.c.id).where(
                            broadcasts.c.status == BroadcastStatus.SCHEDULED.value,
                            broadcasts.c.send_at <= now,
                        )
                    )
                ).scalars()
            )
        written = 0
        for broadcast_id in due:
            written += await self.db.transaction(self._launch, broadcast_id, now)
        return written

    def _launch(self, conn: Connection, broadcast_id: int, now: datetime) -> int:
        """Unit of work: mark a due broadcast sending and write its delivery rows."""
        row = conn.execute(
            update(broadcasts)
            .where(
                broadcasts.c.id == broadcast_id,
                broadcasts.c.status == BroadcastStatus.SCHEDULED.value,
            )
            .values(status=BroadcastStatus.SENDING.value, launched_at=now)
            .returning(*broadcasts.c)
        ).first()
        if row is None:  # launched or cancelled meanwhile
            return 0
        broadcast = _broadcast(row)
        targets = _targets(conn, broadcast, self.default_locale)
        title = ""
        if broadcast.challenge_id is not None:
            title = conn.execute(
                select(challenges.c.title).where(challenges.c.id == broadcast.challenge_id)
            ).scalar_one()
        values = [
            {
                **target,
                "broadcast_id": broadcast.id,
                "kind": BROADCAST_KIND,
                "challenge_id": broadcast.challenge_id,
                "payload": {
                    "text": broadcast.text,
                    "title": title,
                    "group": target["is_group"],
                },
                "dedupe_key": f"broadcast:{broadcast.id}:{key}",
                "priority": BROADCAST_PRIORITY,
                "status": "pending",
                "attempts": 0,
                "not_before": now,
                "created_at": now,
            }
            for key, target in targets.items()
        ]
        written = insert_all_new(conn, deliveries, values)
        conn.execute(
            update(broadcasts).where(broadcasts.c.id == broadcast.id).values(recipients=len(values))
        )
        if not values:
            _finish(conn, broadcast.id, BroadcastStatus.DONE)
        return written

    async def progress(self, broadcast_id: int) -> BroadcastProgress:
        """Sent, failed, cancelled and remaining rows, with an ETA; a broadcast with nothing
        left is marked done."""
        now = self.clock.now()
        async with self.db.read() as conn:
            counts = {
                r.status: r.n
                for r in await conn.execute(
                    select(deliveries.c.status, func.count().label("n"))
                    .where(deliveries.c.broadcast_id == broadcast_id)
                    .group_by(deliveries.c.status)
                )
            }
            recent = (
                await conn.execute(
                    select(func.count()).where(
                        deliveries.c.broadcast_id == broadcast_id,
                        deliveries.c.status == "sent",
                        deliveries.c.sent_at >= now - RATE_WINDOW,
                    )
                )
            ).scalar_one()
            broadcast = await conn.run_sync(_load, broadcast_id)
        remaining = counts.get("pending", 0)
        if broadcast.status is BroadcastStatus.SENDING and remaining == 0:

            def finish(conn: Connection) -> Broadcast:
                _finish(conn, broadcast_id, BroadcastStatus.DONE)
                return _load(conn, broadcast_id)

            broadcast = await self.db.transaction(finish)
        eta = None
        if remaining and recent:
            eta = timedelta(seconds=remaining * RATE_WINDOW.total_seconds() / recent)
        return BroadcastProgress(
            broadcast=broadcast,
            sent=counts.get("sent", 0),
            failed=counts.get("dead", 0),
            cancelled=counts.get("cancelled", 0),
            remaining=remaining,
            eta=eta,
        )

    async def cancel(self, broadcast_id: int) -> int:
        """Stop a broadcast: its pending rows are cancelled at once; the number cancelled.
        Refused once it is done."""
        now = self.clock.now()

        def unit(conn: Connection) -> int:
            if _load(conn, broadcast_id).status in (
                BroadcastStatus.DONE,
                BroadcastStatus.CANCELLED,
            ):
                raise Conflict("broadcast.error_finished")
            result = conn.execute(
                update(deliveries)
                .where(deliveries.c.broadcast_id == broadcast_id, deliveries.c.status == "pending")
                .values(status="cancelled")
            )
            conn.execute(
                update(broadcasts)
                .where(broadcasts.c.id == broadcast_id)
                .values(status=BroadcastStatus.CANCELLED.value, cancelled_at=now)
            )
            return max(result.rowcount, 0)

        return await self.db.transaction(unit)


def _checked_text(text: str) -> str:
    """The text stripped; Invalid when empty or too long."""
    text = text.strip()
    if not text:
        raise Invalid("broadcast.error_empty")
    if len(text) > MAX_TEXT:
        raise Invalid("broadcast.error_too_long", limit=MAX_TEXT)
    return text


def _load(conn: Connection, broadcast_id: int) -> Broadcast:
    """One broadcast; NotFound when there is none."""
    row = conn.execute(select(broadcasts).where(broadcasts.c.id == broadcast_id)).first()
    if row is None:
        raise NotFound("broadcast.error_not_found")
    return _broadcast(row)


def _finish(conn: Connection, broadcast_id: int, status: BroadcastStatus) -> None:
    conn.execute(
        update(broadcasts)
        .where(
            broadcasts.c.id == broadcast_id,
            broadcasts.c.status == BroadcastStatus.SENDING.value,
        )
        .values(status=status.value)
    )


@dataclass(frozen=True, slots=True)
class _Walls:
    """A private challenge's organisation and the groups it owns."""

    organisation_id: int
    groups: frozenset[int]


def _private_to(conn: Connection, challenge_id: int | None) -> _Walls | None:
    """The walls of the challenge when it is open to its organisation's members only: its
    broadcasts reach them and the organisation's groups, nobody else."""
    if challenge_id is None:
        return None
    row = conn.execute(
        select(challenges.c.visibility, challenges.c.organisation_id).where(
            challenges.c.id == challenge_id
        )
    ).first()
    if row is None or row.visibility != Visibility.MEMBERS.value:
        return None
    owned = conn.execute(
        select(organisation_groups.c.group_id).where(
            organisation_groups.c.organisation_id == row.organisation_id
        )
    )
    return _Walls(row.organisation_id, frozenset(r.group_id for r in owned))


def _targets(
    conn: Connection, broadcast: Broadcast, default_locale: str
) -> dict[str, dict[str, Any]]:
    """One target per chat (`platform:chat_id` -> delivery columns): the groups, then each
    member's first reachable account."""
    targets: dict[str, dict[str, Any]] = {}
    walls = _private_to(conn, broadcast.challenge_id)
    if Audience.GROUPS in broadcast.audiences:
        for group in conn.execute(reachable_followers(broadcast.challenge_id)):
            if walls is not None and group.id not in walls.groups:
                continue
            targets[f"{group.platform}:{group.chat_id}"] = {
                "platform": group.platform,
                "chat_id": group.chat_id,
                "is_group": True,
                "group_id": group.id,
                "member_id": None,
                "locale": group.language or default_locale,
            }
    people = select(members.c.id, members.c.language, accounts.c.platform, accounts.c.external_id)
    people = people.join(accounts, accounts.c.member_id == members.c.id).where(
        members.c.news_opt_out.is_(False),
        members.c.erased_at.is_(None),
        accounts.c.unreachable_at.is_(None),
        accounts.c.platform.in_(PUSH_PLATFORMS),
    )
    pledged = select(pledges.c.member_id).where(
        pledges.c.challenge_id == broadcast.challenge_id, pledges.c.withdrawn_at.is_(None)
    )
    if Audience.MEMBERS not in broadcast.audiences:
        if Audience.PLEDGERS not in broadcast.audiences:
            return targets
        people = people.where(members.c.id.in_(pledged))
    elif walls is not None:  # "every member" of a private challenge: its organisation's
        inside = select(organisation_members.c.member_id).where(
            organisation_members.c.organisation_id == walls.organisation_id
        )
        people = people.where(members.c.id.in_(inside) | members.c.id.in_(pledged))
    reached: set[int] = set()
    for person in conn.execute(people.order_by(members.c.id, accounts.c.id)):
        if person.id in reached:
            continue
        reached.add(person.id)
        targets[f"{person.platform}:{person.external_id}"] = {
            "platform": person.platform,
            "chat_id": person.external_id,
            "is_group": False,
            "group_id": None,
            "member_id": person.id,
            "locale": person.language or default_locale,
        }
    return targets
