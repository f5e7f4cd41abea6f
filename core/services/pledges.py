"""Pledges: joining and leaving a challenge, the counters, and the milestones they cross."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, and_, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.clock import Clock
from core.db.database import Database
from core.db.tables import area_counts, challenges, members, milestones, pledges, tiers
from core.db.types import UTCDateTime
from core.db.upsert import insert_for
from core.errors import Conflict, NotFound
from core.events import CROSSED_BY, emit
from core.milestones import next_threshold, percent_thresholds
from core.models import (
    Challenge,
    ChallengeStatus,
    EventKind,
    Location,
    OutboxEvent,
    Pledge,
    PledgeResult,
)
from core.places import stored_location
from core.services.challenges import OPEN_FOR_PLEDGES, load_challenges


def pledge_from_row(row: Any) -> Pledge:
    """Build a Pledge from a `pledges` row."""
    return Pledge(
        member_id=row.member_id,
        challenge_id=row.challenge_id,
        created_at=row.created_at,
        withdrawn_at=row.withdrawn_at,
        referrer_id=row.referrer_id,
        area_key=row.area_key,
        streak=row.streak,
        best_streak=row.best_streak,
        last_checkin_on=row.last_checkin_on,
        checkin_total=row.checkin_total,
    )


def release_pledge_counts(conn: Connection, challenge_id: int, area_key: str | None) -> None:
    """Give back one pledge from the challenge's counters (withdrawal, merge)."""
    conn.execute(
        update(challenges)
        .where(challenges.c.id == challenge_id)
        .values(pledge_count=challenges.c.pledge_count - 1)
    )
    if area_key is not None:
        conn.execute(
            update(area_counts)
            .where(area_counts.c.challenge_id == challenge_id, area_counts.c.area_key == area_key)
            .values(pledgers=area_counts.c.pledgers - 1)
        )


async def _add_area(
    conn: AsyncConnection,
    clock: Clock,
    challenge_id: int,
    member_id: int,
    area_key: str,
    area_goal: int | None,
) -> OutboxEvent | None:
    """Count the pledge in its area; the event of the area reaching its own goal, if now."""
    location = await _member_location(conn, member_id)
    label = location.label if location else area_key
    stmt = insert_for(conn, area_counts).values(
        challenge_id=challenge_id, area_key=area_key, label=label, pledgers=1
    )
    pledgers = (
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[area_counts.c.challenge_id, area_counts.c.area_key],
                set_={"pledgers": area_counts.c.pledgers + 1, "label": label},
            ).returning(area_counts.c.pledgers)
        )
    ).scalar_one()
    if area_goal is None or pledgers != area_goal:
        return None
    return await conn.run_sync(
        emit,
        clock,
        EventKind.AREA_GOAL,
        challenge_id,
        f"area_goal:{challenge_id}:{area_key}",
        area=label,
        count=pledgers,
        goal=area_goal,
    )


class _AlreadyPledged(Exception):
    """Raised inside the pledge transaction to undo its count: the pledge was active."""


def _build_upsert(dialect: str) -> Any:
    """INSERT the pledge, or reactivate a withdrawn one, copying the member's area; an active
    pledge is left alone and returns no row. Built once per dialect: building SQL constructs
    costs more than running them."""
    referrers = members.alias("referrers")
    source = select(
        bindparam("member_id", type_=Integer),
        bindparam("challenge_id", type_=Integer),
        bindparam("now", type_=UTCDateTime),
        # An unknown referrer (a forged or stale link) is simply not credited.
        select(referrers.c.id)
        .where(referrers.c.id == bindparam("referrer_id", type_=Integer))
        .scalar_subquery(),
        members.c.area_key,
    ).where(members.c.id == bindparam("member_id"))
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(pledges).from_select(
        ["member_id", "challenge_id", "created_at", "referrer_id", "area_key"], source
    )
    return stmt.on_conflict_do_update(
        index_elements=[pledges.c.member_id, pledges.c.challenge_id],
        set_={"withdrawn_at": None, "area_key": stmt.excluded.area_key},
        where=pledges.c.withdrawn_at.is_not(None),
    ).returning(*pledges.c)


_UPSERT = {dialect: _build_upsert(dialect) for dialect in ("sqlite", "postgresql")}
_COUNT = (
    update(challenges)
    .where(
        challenges.c.id == bindparam("challenge_id"),
        challenges.c.status.in_([s.value for s in OPEN_FOR_PLEDGES]),
        challenges.c.deadline > bindparam("now", type_=UTCDateTime),
    )
    .values(pledge_count=challenges.c.pledge_count + 1)
    .returning(challenges.c.pledge_count, challenges.c.next_threshold, challenges.c.area_goal)
)


def active_pledge(member_id: int, challenge_id: int) -> Any:
    """The condition selecting a member's active (not withdrawn) pledge to a challenge."""
    return and_(
        pledges.c.member_id == member_id,
        pledges.c.challenge_id == challenge_id,
        pledges.c.withdrawn_at.is_(None),
    )


class PledgeService:
    """Pledge, withdraw, and read a member's pledges."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def pledge(
        self, member_id: int, challenge_id: int, referrer_id: int | None = None
    ) -> PledgeResult:
        """Commit the member to the challenge's action; pledging twice changes nothing."""
        try:
            return await self._pledge(member_id, challenge_id, referrer_id)
        except IntegrityError:
            # The same member pledged twice at once: the other transaction won; read its result.
            return await self._pledge(member_id, challenge_id, referrer_id)

    async def _pledge(
        self, member_id: int, challenge_id: int, referrer_id: int | None
    ) -> PledgeResult:
        now = self.clock.now()
        if referrer_id == member_id:
            referrer_id = None
        try:
            async with self.db.write() as conn:
                counted = (
                    await conn.execute(_COUNT, {"challenge_id": challenge_id, "now": now})
                ).first()
                if counted is None:
                    await _refuse_pledge(conn, challenge_id)
                assert counted is not None
                params = {
                    "member_id": member_id,
                    "challenge_id": challenge_id,
                    "now": now,
                    "referrer_id": referrer_id,
                }
                row = (await conn.execute(_UPSERT[conn.dialect.name], params)).first()
                if row is None:
                    raise _AlreadyPledged  # rolls back the count
                events: tuple[OutboxEvent, ...] = ()
                if row.area_key is not None:
                    reached = await _add_area(
                        conn, self.clock, challenge_id, member_id, row.area_key, counted.area_goal
                    )
                    events = (reached,) if reached is not None else ()
                if (
                    counted.next_threshold is not None
                    and counted.pledge_count >= counted.next_threshold
                ):
                    events += await cross_thresholds(
                        conn, self.clock, challenge_id, counted.pledge_count, by=member_id
                    )
                return PledgeResult(pledge_from_row(row), True, counted.pledge_count, events)
        except _AlreadyPledged:
            pass
        async with self.db.read() as conn:
            existing = (
                await conn.execute(
                    select(pledges, challenges.c.pledge_count)
                    .join(challenges, challenges.c.id == pledges.c.challenge_id)
                    .where(pledges.c.member_id == member_id, pledges.c.challenge_id == challenge_id)
                )
            ).first()
        if existing is None:
            raise NotFound("error.member_not_found")
        return PledgeResult(pledge_from_row(existing), created=False, count=existing.pledge_count)

    async def withdraw(self, member_id: int, challenge_id: int) -> int:
        """Withdraw a pledge while the challenge is open; returns the new count."""
        async with self.db.write() as conn:
            row = (
                await conn.execute(
                    select(pledges.c.area_key, challenges.c.status)
                    .join(challenges, challenges.c.id == pledges.c.challenge_id)
                    .where(active_pledge(member_id, challenge_id))
                )
            ).first()
            if row is None:
                raise NotFound("error.not_pledged")
            if row.status != ChallengeStatus.OPEN.value:
                raise Conflict("error.withdraw_closed")
            await conn.execute(
                update(pledges)
                .where(pledges.c.member_id == member_id, pledges.c.challenge_id == challenge_id)
                .values(withdrawn_at=self.clock.now())
            )
            await conn.run_sync(release_pledge_counts, challenge_id, row.area_key)
            return int(
                (
                    await conn.execute(
                        select(challenges.c.pledge_count).where(challenges.c.id == challenge_id)
                    )
                ).scalar_one()
            )

    async def follow_place(self, member_id: int, challenge_id: int) -> tuple[OutboxEvent, ...]:
        """Count an active pledge in the member's place as it is now (given after the pledge);
        the event of that area reaching its goal, if it does now."""
        return await self.db.transaction(_follow_place, self.clock, member_id, challenge_id)

    async def get(self, member_id: int, challenge_id: int) -> Pledge | None:
        """The member's pledge to the challenge (active or withdrawn), or None."""
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(pledges).where(
                        pledges.c.member_id == member_id, pledges.c.challenge_id == challenge_id
                    )
                )
            ).first()
        return None if row is None else pledge_from_row(row)

    async def of_member(self, member_id: int) -> list[tuple[Pledge, Challenge]]:
        """The member's active pledges with their challenges, soonest deadline first."""
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    select(pledges).where(
                        pledges.c.member_id == member_id, pledges.c.withdrawn_at.is_(None)
                    )
                )
            ).all()
            by_id = {r.challenge_id: pledge_from_row(r) for r in rows}
            found = await conn.run_sync(
                load_challenges, challenges.c.id.in_(list(by_id)), challenges.c.deadline
            )
        return [(by_id[c.id], c) for c in found]


def _follow_place(
    conn: Connection, clock: Clock, member_id: int, challenge_id: int
) -> tuple[OutboxEvent, ...]:
    row = conn.execute(
        select(
            pledges.c.area_key.label("counted"),
            members.c.area_key,
            members.c.location_name,
            members.c.latitude,
            members.c.longitude,
            challenges.c.area_goal,
        )
        .join(members, members.c.id == pledges.c.member_id)
        .join(challenges, challenges.c.id == pledges.c.challenge_id)
        .where(active_pledge(member_id, challenge_id))
    ).first()
    if row is None or row.counted == row.area_key:
        return ()
    mine = active_pledge(member_id, challenge_id)
    conn.execute(update(pledges).where(mine).values(area_key=row.area_key))
    if row.counted is not None:
        conn.execute(
            update(area_counts)
            .where(
                area_counts.c.challenge_id == challenge_id, area_counts.c.area_key == row.counted
            )
            .values(pledgers=area_counts.c.pledgers - 1)
        )
    if row.area_key is None:
        return ()
    place = stored_location(row.location_name, row.latitude, row.longitude, row.area_key)
    label = place.label if place else row.area_key
    pledgers = conn.execute(
        insert_for(conn, area_counts)
        .values(challenge_id=challenge_id, area_key=row.area_key, label=label, pledgers=1)
        .on_conflict_do_update(
            index_elements=[area_counts.c.challenge_id, area_counts.c.area_key],
            set_={"pledgers": area_counts.c.pledgers + 1, "label": label},
        )
        .returning(area_counts.c.pledgers)
    ).scalar_one()
    if row.area_goal is None or pledgers != row.area_goal:
        return ()
    payload = {"area": label, "count": pledgers, "goal": row.area_goal}
    event = emit(
        conn,
        clock,
        EventKind.AREA_GOAL,
        challenge_id,
        f"area_goal:{challenge_id}:{row.area_key}",
        **payload,
    )
    return () if event is None else (event,)


async def _member_location(conn: AsyncConnection, member_id: int) -> Location | None:
    row = (
        await conn.execute(
            select(
                members.c.location_name,
                members.c.latitude,
                members.c.longitude,
                members.c.area_key,
            ).where(members.c.id == member_id)
        )
    ).first()
    if row is None:
        raise NotFound("error.member_not_found")
    return stored_location(row.location_name, row.latitude, row.longitude, row.area_key)


async def _refuse_pledge(conn: AsyncConnection, challenge_id: int) -> None:
    found = await conn.run_sync(load_challenges, challenges.c.id == challenge_id)
    if not found:
        raise NotFound("error.challenge_not_found", slug=str(challenge_id))
    raise Conflict("error.challenge_not_open", title=found[0].title)


async def cross_thresholds(
    conn: AsyncConnection, clock: Clock, challenge_id: int, count: int, *, by: int | None = None
) -> tuple[OutboxEvent, ...]:
    """Record every milestone and tier reached at `count`, once each, with its events.

    Runs in the pledge's transaction. The unique milestone row decides: under concurrent
    pledges only the transaction that inserts it emits the event. `by` is the member whose
    pledge crossed them: their thanks celebrate these, so the events are not sent to them.
    """
    now = clock.now()
    told = {} if by is None else {CROSSED_BY: by}
    challenge = (
        await conn.execute(
            select(challenges.c.goal, challenges.c.status).where(challenges.c.id == challenge_id)
        )
    ).one()
    tier_rows = (
        await conn.execute(
            select(tiers).where(tiers.c.challenge_id == challenge_id).order_by(tiers.c.threshold)
        )
    ).all()
    events: list[OutboxEvent] = []

    async def reach(
        kind: str, value: int, dedupe: str, event: EventKind, **payload: object
    ) -> bool:
        inserted = await conn.execute(
            insert_for(conn, milestones)
            .values(
                challenge_id=challenge_id, kind=kind, value=value, count_at=count, reached_at=now
            )
            .on_conflict_do_nothing()
        )
        if not inserted.rowcount:
            return False
        emitted = await conn.run_sync(
            emit, clock, event, challenge_id, dedupe, count=count, **payload, **told
        )
        if emitted is not None:
            events.append(emitted)
        return True

    for percent, at in percent_thresholds(challenge.goal).items():
        if count >= at:
            await reach(
                "percent",
                percent,
                f"milestone:{challenge_id}:{percent}",
                EventKind.MILESTONE,
                percent=percent,
                goal=challenge.goal,
            )
    for tier in tier_rows:
        if count >= tier.threshold and await reach(
            "tier",
            tier.id,
            f"tier:{tier.id}",
            EventKind.TIER_UNLOCKED,
            tier_id=tier.id,
            threshold=tier.threshold,
            sponsor=tier.sponsor,
            reward=tier.reward,
        ):
            await conn.execute(update(tiers).where(tiers.c.id == tier.id).values(unlocked_at=now))
    values: dict[str, object] = {
        "next_threshold": next_threshold(challenge.goal, [t.threshold for t in tier_rows], count)
    }
    if count >= challenge.goal and challenge.status == ChallengeStatus.OPEN.value:
        values["status"] = ChallengeStatus.SUCCEEDED.value
        values["updated_at"] = now
        succeeded = await conn.run_sync(
            emit,
            clock,
            EventKind.SUCCEEDED,
            challenge_id,
            f"succeeded:{challenge_id}",
            count=count,
            goal=challenge.goal,
            **told,
        )
        if succeeded is not None:
            events.append(succeeded)
    await conn.execute(update(challenges).where(challenges.c.id == challenge_id).values(**values))
    return tuple(events)
