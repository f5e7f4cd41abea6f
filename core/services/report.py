"""The organiser's report of a challenge: counts over time, areas (never under the minimum),
check-ins, estimated impact, sponsors' status and conditional pledges waiting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from itertools import accumulate

from sqlalchemy import func, select

from core.areas import AreaTotal
from core.clock import Clock
from core.db.database import Database
from core.db.tables import checkins, pledges
from core.models import Challenge, Waiting
from core.services.challenges import load_challenge
from core.services.conditional import ConditionalPledgeService
from core.services.progress import ProgressService
from core.services.sponsors import SponsorService, SponsorStatus


@dataclass(frozen=True, slots=True)
class Day:
    """One day of a challenge: pledges made that day (still standing), the running total,
    and the check-ins of the day."""

    day: date
    pledges: int
    total: int
    checkins: int


@dataclass(frozen=True, slots=True)
class ChallengeReport:
    """Everything the report shows, computed at `made_at`."""

    challenge: Challenge
    made_at: datetime
    days: tuple[Day, ...]
    areas: tuple[AreaTotal, ...]
    impact: float | None
    sponsors: tuple[SponsorStatus, ...]
    waiting: Waiting


class ReportService:
    """Build the report of one challenge from the other services' views."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        progress: ProgressService,
        sponsors: SponsorService,
        conditional: ConditionalPledgeService,
    ) -> None:
        self.db = db
        self.clock = clock
        self.progress = progress
        self.sponsors = sponsors
        self.conditional = conditional

    async def of(self, challenge_id: int) -> ChallengeReport:
        """The challenge's report now."""
        async with self.db.read() as conn:
            challenge = await conn.run_sync(load_challenge, challenge_id)
            made = (
                await conn.execute(
                    select(pledges.c.created_at).where(
                        pledges.c.challenge_id == challenge_id, pledges.c.withdrawn_at.is_(None)
                    )
                )
            ).scalars()
            per_day: dict[date, int] = {}
            for moment in made:
                per_day[moment.date()] = per_day.get(moment.date(), 0) + 1
            done = {
                row.local_day: int(row.n)
                for row in await conn.execute(
                    select(checkins.c.local_day, func.count().label("n"))
                    .where(checkins.c.challenge_id == challenge_id)
                    .group_by(checkins.c.local_day)
                )
            }
        ordered = sorted(set(per_day) | set(done))
        totals = accumulate(per_day.get(day, 0) for day in ordered)
        days = tuple(
            Day(day, per_day.get(day, 0), total, done.get(day, 0))
            for day, total in zip(ordered, totals, strict=True)
        )
        impact = (
            None
            if challenge.impact_per_action is None
            else challenge.impact_per_action * challenge.checkin_count
        )
        return ChallengeReport(
            challenge,
            self.clock.now(),
            days,
            tuple(await self.progress.areas(challenge_id)),
            impact,
            tuple(await self.sponsors.statuses(challenge_id)),
            await self.conditional.waiting(challenge_id),
        )
