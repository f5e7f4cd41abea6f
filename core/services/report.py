"""The organiser's report of a challenge: counts over time, areas (never under the minimum),
check-ins, estimated impact, sponsors' status and proofs, and conditional pledges waiting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import accumulate

from sqlalchemy import func, select

from core.areas import AreaTotal
from core.clock import Clock
from core.db.database import Database
from core.db.tables import checkins, pledges
from core.i18n import Translator
from core.models import Challenge, Waiting
from core.services.challenges import load_challenge
from core.services.conditional import ConditionalPledgeService
from core.services.progress import ProgressService
from core.services.sponsors import SponsorService, SponsorState, SponsorStatus


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
    pictures: Mapping[int, bytes] = field(default_factory=dict)
    """The proof pictures of the kept promises, by tier id."""


def proof_line(t: Translator, status: SponsorStatus) -> str | None:
    """The report's line for a kept promise: its proof, or (a picture without a caption)
    that the picture follows; None while it is not kept."""
    tier = status.tier
    if status.state is not SponsorState.KEPT:
        return None
    if tier.proof:
        return t("report.proof", sponsor=tier.sponsor, proof=tier.proof)
    return t("report.proof_picture", sponsor=tier.sponsor) if status.picture else None


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
        statuses = tuple(await self.sponsors.statuses(challenge_id))
        pictures = {
            s.tier.id: data
            for s in statuses
            if s.picture and (data := await self.sponsors.picture(s.tier.id)) is not None
        }
        return ChallengeReport(
            challenge,
            self.clock.now(),
            days,
            tuple(await self.progress.areas(challenge_id)),
            impact,
            statuses,
            await self.conditional.waiting(challenge_id),
            pictures,
        )
