"""Where a challenge stands: the numbers a card, a group or an organiser reads."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from core.clock import Clock
from core.db.database import Database
from core.db.tables import area_counts, challenges, pledges
from core.models import Challenge, Frequency, Member, Progress
from core.services.challenges import OPEN_FOR_PLEDGES, load_challenge


@dataclass(frozen=True, slots=True)
class AreaCount:
    """How many people pledged in one area."""

    label: str
    count: int


@dataclass(frozen=True, slots=True)
class ChallengeStats:
    """An organiser's view of a challenge."""

    progress: Progress
    pledged_last_7_days: int
    referred: int
    withdrawn: int
    top_areas: tuple[AreaCount, ...]


def progress_of(challenge: Challenge, clock: Clock, near: AreaCount | None = None) -> Progress:
    """Compute a challenge's progress from its maintained counters."""
    count = challenge.pledge_count
    remaining = challenge.deadline - clock.now()
    days_left = max(0, math.ceil(remaining / timedelta(days=1)))
    next_tier = next((t for t in challenge.tiers if t.threshold > count), None)
    impact = None
    if challenge.impact_per_action is not None:
        actions = count if challenge.frequency == Frequency.ONCE else challenge.checkin_count
        impact = round(challenge.impact_per_action * actions, 1)
    return Progress(
        challenge=challenge,
        count=count,
        percent=count * 100 // challenge.goal,
        next_tier=next_tier,
        days_left=days_left,
        collective_impact=impact,
        near_count=near.count if near else None,
        near_label=near.label if near else None,
    )


class ProgressService:
    """Progress of challenges, people near a member, and organiser statistics."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def of(self, challenge_id: int, member: Member | None = None) -> Progress:
        """A challenge's progress; with a member who gave a place, the people near them."""
        async with self.db.read() as conn:
            challenge = await load_challenge(conn, challenge_id)
            near = None
            if member is not None and member.location is not None:
                row = (
                    await conn.execute(
                        select(area_counts.c.label, area_counts.c.pledgers).where(
                            area_counts.c.challenge_id == challenge_id,
                            area_counts.c.area_key == member.location.area_key,
                        )
                    )
                ).first()
                near = AreaCount(member.location.label, row.pledgers if row else 0)
        return progress_of(challenge, self.clock, near)

    async def stats(self, challenge_id: int) -> ChallengeStats:
        """Numbers for the organiser: recent pledges, referrals, withdrawals, top areas."""
        since = self.clock.now() - timedelta(days=7)
        async with self.db.read() as conn:
            challenge = await load_challenge(conn, challenge_id)
            of_challenge = pledges.c.challenge_id == challenge_id
            recent, referred, withdrawn = (
                await conn.execute(
                    select(
                        func.count().filter(
                            pledges.c.created_at >= since, pledges.c.withdrawn_at.is_(None)
                        ),
                        func.count().filter(
                            pledges.c.referrer_id.is_not(None), pledges.c.withdrawn_at.is_(None)
                        ),
                        func.count().filter(pledges.c.withdrawn_at.is_not(None)),
                    ).where(of_challenge)
                )
            ).one()
            areas = await conn.execute(
                select(area_counts.c.label, area_counts.c.pledgers)
                .where(area_counts.c.challenge_id == challenge_id, area_counts.c.pledgers > 0)
                .order_by(area_counts.c.pledgers.desc(), area_counts.c.label)
                .limit(5)
            )
            top = tuple(AreaCount(a.label, a.pledgers) for a in areas)
        return ChallengeStats(
            progress_of(challenge, self.clock), int(recent), int(referred), int(withdrawn), top
        )

    async def totals(self) -> tuple[int, int]:
        """(open challenges, pledges across them) for the help and welcome texts."""
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(func.count(), func.coalesce(func.sum(challenges.c.pledge_count), 0))
                    .select_from(challenges)
                    .where(challenges.c.status.in_([s.value for s in OPEN_FOR_PLEDGES]))
                )
            ).one()
        return int(row[0]), int(row[1])
