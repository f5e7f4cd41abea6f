"""Sponsors in the loop: a tier's sponsor account is told when the tier is reached, confirms
its commitment, is reminded while it has not, and posts the proof every pledger hears once.

Each tier reads as promised (not reached yet), reached, confirmed or kept.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from core.clock import Clock
from core.db.database import Database
from core.db.tables import (
    accounts,
    challenges,
    members,
    pledges,
    proof_pictures,
    sponsors,
    tiers,
)
from core.errors import Conflict, Forbidden, NotFound
from core.events import emit
from core.identity import PUSH_PLATFORMS
from core.models import ChallengeStatus, EventKind, OutboxEvent, Tier
from core.pictures import CONTENT_TYPE, clean_picture
from core.services.challenge_reminders import forecast
from core.services.challenges import check_proof, keep_promise, tier_from_row
from core.services.organisations import Actor, may_manage_challenge

REMIND_AFTER = timedelta(days=3)
"""How long an unconfirmed commitment waits before its sponsor is reminded (and again)."""
FORECAST_SHARE = (3, 4)
"""A sponsor hears the forecast once the count reaches this share of its tier (3/4)."""
SPONSOR_KINDS = frozenset(
    {EventKind.SPONSOR_FORECAST, EventKind.SPONSOR_REACHED, EventKind.SPONSOR_REMINDER}
)


class SponsorState(StrEnum):
    """Where a tier's promise stands."""

    PROMISED = "promised"
    REACHED = "reached"
    CONFIRMED = "confirmed"
    KEPT = "kept"


@dataclass(frozen=True, slots=True)
class SponsorStatus:
    """One tier of a challenge, its sponsor and where its promise stands."""

    tier: Tier
    state: SponsorState
    has_account: bool
    picture: bool = False
    """Whether the proof has a picture (`SponsorService.picture`)."""


def state_of(tier: Tier, confirmed: bool) -> SponsorState:
    """Promised until reached, then reached, confirmed and kept in turn."""
    if tier.kept_at is not None:
        return SponsorState.KEPT
    if tier.unlocked_at is None:
        return SponsorState.PROMISED
    return SponsorState.CONFIRMED if confirmed else SponsorState.REACHED


def sponsor_recipient(tier_id: int) -> Select[Any]:
    """The sponsor's first reachable account where the bot can speak first, with its
    language (the fan-out's recipient of sponsor events, whatever their news setting)."""
    return (
        select(accounts.c.platform, accounts.c.external_id, members.c.id, members.c.language)
        .join(members, members.c.id == accounts.c.member_id)
        .join(sponsors, sponsors.c.member_id == members.c.id)
        .where(
            sponsors.c.tier_id == tier_id,
            members.c.erased_at.is_(None),
            accounts.c.unreachable_at.is_(None),
            accounts.c.platform.in_(PUSH_PLATFORMS),
        )
        .order_by(accounts.c.id)
        .limit(1)
    )


def forecast_sponsors(conn: Connection, clock: Clock) -> list[OutboxEvent]:
    """An event for each sponsor whose tier is 3/4 reached and who has not heard the
    forecast: when the tier is reached at the pace of the last seven days, if it is."""
    now = clock.now()
    share, whole = FORECAST_SHARE
    week = (
        select(func.count())
        .where(
            pledges.c.challenge_id == challenges.c.id,
            pledges.c.created_at > now - timedelta(days=7),
            pledges.c.withdrawn_at.is_(None),
        )
        .scalar_subquery()
    )
    near = conn.execute(
        select(
            sponsors.c.tier_id,
            tiers.c.challenge_id,
            tiers.c.threshold,
            tiers.c.sponsor,
            tiers.c.reward,
            challenges.c.pledge_count,
            challenges.c.deadline,
            week.label("week"),
        )
        .join(tiers, tiers.c.id == sponsors.c.tier_id)
        .join(challenges, challenges.c.id == tiers.c.challenge_id)
        .where(
            sponsors.c.forecast_at.is_(None),
            tiers.c.unlocked_at.is_(None),
            challenges.c.status == ChallengeStatus.OPEN.value,
            challenges.c.pledge_count * whole >= tiers.c.threshold * share,
        )
        .order_by(sponsors.c.tier_id)
    ).all()
    events: list[OutboxEvent] = []
    for row in near:
        seen = forecast(row.week, row.pledge_count, row.threshold, now, row.deadline)
        event = emit(
            conn,
            clock,
            EventKind.SPONSOR_FORECAST,
            row.challenge_id,
            f"sponsor_forecast:{row.tier_id}",
            tier_id=row.tier_id,
            threshold=row.threshold,
            sponsor=row.sponsor,
            reward=row.reward,
            count=row.pledge_count,
            reached_on=None if seen.reached_on is None else seen.reached_on.isoformat(),
        )
        if event is not None:
            events.append(event)
        conn.execute(
            update(sponsors).where(sponsors.c.tier_id == row.tier_id).values(forecast_at=now)
        )
    return events


def tell_sponsors(conn: Connection, clock: Clock, remind_after: timedelta) -> list[OutboxEvent]:
    """Unit: the forecast to sponsors whose tier is near; an event for each sponsor whose
    tier was reached and who was not told yet; a reminder for each commitment still
    unconfirmed `remind_after` after the last word."""
    events = forecast_sponsors(conn, clock)
    now = clock.now()
    last_word = func.coalesce(sponsors.c.reminded_at, sponsors.c.told_at)
    due = conn.execute(
        select(
            sponsors.c.tier_id,
            sponsors.c.told_at,
            tiers.c.challenge_id,
            tiers.c.threshold,
            tiers.c.sponsor,
            tiers.c.reward,
            challenges.c.pledge_count,
        )
        .join(tiers, tiers.c.id == sponsors.c.tier_id)
        .join(challenges, challenges.c.id == tiers.c.challenge_id)
        .where(
            tiers.c.unlocked_at.is_not(None),
            tiers.c.kept_at.is_(None),
            sponsors.c.confirmed_at.is_(None),
            or_(sponsors.c.told_at.is_(None), last_word <= now - remind_after),
        )
        .order_by(sponsors.c.tier_id)
    ).all()
    for row in due:
        first = row.told_at is None
        kind = EventKind.SPONSOR_REACHED if first else EventKind.SPONSOR_REMINDER
        key = f"sponsor:{row.tier_id}" if first else f"sponsor:{row.tier_id}:{now.isoformat()}"
        event = emit(
            conn,
            clock,
            kind,
            row.challenge_id,
            key,
            tier_id=row.tier_id,
            threshold=row.threshold,
            sponsor=row.sponsor,
            reward=row.reward,
            count=row.pledge_count,
        )
        if event is not None:
            events.append(event)
        told = {"told_at": now} if first else {"reminded_at": now}
        conn.execute(update(sponsors).where(sponsors.c.tier_id == row.tier_id).values(**told))
    return events


def _sponsored_tier(conn: Connection, member_id: int, tier_id: int) -> Any:
    """The tier row, if this member is its sponsor; Forbidden otherwise."""
    row = conn.execute(
        select(tiers, sponsors.c.member_id.label("sponsor_member"), sponsors.c.confirmed_at)
        .outerjoin(sponsors, sponsors.c.tier_id == tiers.c.id)
        .where(tiers.c.id == tier_id)
    ).first()
    if row is None:
        raise NotFound("error.tier_not_found")
    if row.sponsor_member != member_id:
        raise Forbidden("error.sponsor.not_yours")
    return row


class SponsorService:
    """Attach sponsor accounts to tiers, tell and remind them, take their word and proof."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def attach(self, actor: Actor, tier_id: int, member_id: int) -> None:
        """Make a member the account of a tier's sponsor; whoever manages the challenge."""

        def unit(conn: Connection) -> None:
            challenge_id = conn.execute(
                select(tiers.c.challenge_id).where(tiers.c.id == tier_id)
            ).scalar_one_or_none()
            if challenge_id is None:
                raise NotFound("error.tier_not_found")
            if not may_manage_challenge(conn, actor, challenge_id):
                raise Forbidden("error.org.not_allowed")
            if conn.execute(select(members.c.id).where(members.c.id == member_id)).first() is None:
                raise NotFound("error.member_not_found")
            taken = conn.execute(
                select(sponsors.c.member_id).where(sponsors.c.tier_id == tier_id)
            ).scalar_one_or_none()
            if taken is not None and taken != member_id:
                raise Conflict("error.sponsor.taken")
            if taken is None:
                conn.execute(
                    insert(sponsors).values(
                        tier_id=tier_id, member_id=member_id, created_at=self.clock.now()
                    )
                )

        await self.db.transaction(unit)

    async def sweep(self) -> list[OutboxEvent]:
        """Tell the sponsors of newly reached tiers; remind unconfirmed commitments."""
        return await self.db.transaction(tell_sponsors, self.clock, REMIND_AFTER)

    async def confirm(self, member_id: int, tier_id: int) -> Tier:
        """The sponsor confirms its commitment to a reached tier (again: nothing changes)."""

        def unit(conn: Connection) -> Tier:
            row = _sponsored_tier(conn, member_id, tier_id)
            if row.unlocked_at is None:
                raise Conflict("error.tier_not_unlocked")
            if row.confirmed_at is None:
                conn.execute(
                    update(sponsors)
                    .where(sponsors.c.tier_id == tier_id)
                    .values(confirmed_at=self.clock.now())
                )
            return tier_from_row(row)

        return await self.db.transaction(unit)

    async def post_proof(self, member_id: int, tier_id: int, proof: str) -> Tier:
        """The sponsor posts the proof (text, a link) that the promise is kept: confirmed
        too, and every pledger, group and organiser hears it once."""
        proof = check_proof(proof)

        def unit(conn: Connection) -> Tier:
            row = _sponsored_tier(conn, member_id, tier_id)
            if row.confirmed_at is None:
                conn.execute(
                    update(sponsors)
                    .where(sponsors.c.tier_id == tier_id)
                    .values(confirmed_at=self.clock.now())
                )
            return keep_promise(conn, self.clock, tier_id, proof)

        return await self.db.transaction(unit)

    async def post_picture(
        self, member_id: int, tier_id: int, data: bytes, caption: str = ""
    ) -> Tier:
        """The sponsor posts a picture (with an optional caption) as the proof: checked and
        re-encoded (see `core.pictures`), kept, and carried by every pledger's message.
        Without a caption the proof has no text: each reader gets a line in their language."""
        picture = await asyncio.to_thread(clean_picture, data)
        proof = check_proof(caption) if caption.strip() else None

        def unit(conn: Connection) -> Tier:
            row = _sponsored_tier(conn, member_id, tier_id)
            now = self.clock.now()
            if row.confirmed_at is None:
                conn.execute(
                    update(sponsors).where(sponsors.c.tier_id == tier_id).values(confirmed_at=now)
                )
            tier = keep_promise(conn, self.clock, tier_id, proof, picture=True)
            conn.execute(
                insert(proof_pictures).values(
                    tier_id=tier_id, data=picture, content_type=CONTENT_TYPE, created_at=now
                )
            )
            return tier

        return await self.db.transaction(unit)

    async def picture(self, tier_id: int) -> bytes | None:
        """The proof picture of a tier, or None."""
        async with self.db.read() as conn:
            found = await conn.execute(
                select(proof_pictures.c.data).where(proof_pictures.c.tier_id == tier_id)
            )
            data: bytes | None = found.scalar_one_or_none()
        return data

    async def statuses(self, challenge_id: int) -> list[SponsorStatus]:
        """Each tier of the challenge with where its promise stands (for the web page)."""
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    select(tiers, sponsors.c.member_id.label("sponsor_member"))
                    .add_columns(sponsors.c.confirmed_at, proof_pictures.c.created_at.label("pic"))
                    .outerjoin(sponsors, sponsors.c.tier_id == tiers.c.id)
                    .outerjoin(proof_pictures, proof_pictures.c.tier_id == tiers.c.id)
                    .where(tiers.c.challenge_id == challenge_id)
                    .order_by(tiers.c.threshold)
                )
            ).all()
        return [
            SponsorStatus(
                tier_from_row(r),
                state_of(tier_from_row(r), r.confirmed_at is not None),
                r.sponsor_member is not None,
                r.pic is not None,
            )
            for r in rows
        ]

    async def of_member(self, member_id: int) -> list[SponsorStatus]:
        """The tiers this member sponsors, with where each promise stands."""
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    select(tiers, sponsors.c.confirmed_at)
                    .join(sponsors, sponsors.c.tier_id == tiers.c.id)
                    .where(sponsors.c.member_id == member_id)
                    .order_by(tiers.c.challenge_id, tiers.c.threshold)
                )
            ).all()
        return [
            SponsorStatus(
                tier_from_row(r), state_of(tier_from_row(r), r.confirmed_at is not None), True
            )
            for r in rows
        ]
