"""Check-ins ("I did it") and streaks, counted on the member's own local day."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from core.clock import Clock
from core.db.database import Database
from core.db.tables import challenges, checkins, members, pledges
from core.db.upsert import insert_ignore
from core.errors import Conflict, NotFound
from core.models import ChallengeStatus, CheckInResult, Frequency
from core.services.pledges import active_pledge


def _continues(frequency: Frequency, last: date | None, today: date) -> bool:
    """Whether a check-in today extends the streak that ended on `last`."""
    if last is None:
        return False
    if frequency == Frequency.WEEKLY:
        last_week = last.isocalendar()[:2]
        previous = (today - timedelta(weeks=1)).isocalendar()[:2]
        return last_week == previous
    return last == today - timedelta(days=1)


class CheckInService:
    """Record that a member did their pledged action today."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def check_in(self, member_id: int, challenge_id: int) -> CheckInResult:
        """At most one check-in per local day per challenge; a second one changes nothing."""
        now = self.clock.now()

        def unit(conn: Connection) -> CheckInResult:
            row = conn.execute(
                select(
                    pledges.c.streak,
                    pledges.c.best_streak,
                    pledges.c.last_checkin_on,
                    pledges.c.checkin_total,
                    members.c.timezone,
                    challenges.c.frequency,
                    challenges.c.status,
                )
                .join(members, members.c.id == pledges.c.member_id)
                .join(challenges, challenges.c.id == pledges.c.challenge_id)
                .where(active_pledge(member_id, challenge_id))
            ).first()
            if row is None:
                raise NotFound("error.not_pledged")
            if row.status in (ChallengeStatus.CLOSED.value, ChallengeStatus.DRAFT.value):
                raise Conflict("error.challenge_closed")
            today = now.astimezone(ZoneInfo(row.timezone)).date()
            recorded = insert_ignore(
                conn,
                checkins,
                member_id=member_id,
                challenge_id=challenge_id,
                local_day=today,
                created_at=now,
            )
            if not recorded:
                return CheckInResult(False, today, row.streak, row.best_streak, row.checkin_total)
            frequency = Frequency(row.frequency)
            if (
                frequency == Frequency.WEEKLY
                and row.last_checkin_on is not None
                and (row.last_checkin_on.isocalendar()[:2] == today.isocalendar()[:2])
            ):
                streak = row.streak  # a second action in the same week keeps the weekly streak
            elif _continues(frequency, row.last_checkin_on, today):
                streak = row.streak + 1
            else:
                streak = 1
            best = max(row.best_streak, streak)
            total = row.checkin_total + 1
            conn.execute(
                update(pledges)
                .where(pledges.c.member_id == member_id, pledges.c.challenge_id == challenge_id)
                .values(streak=streak, best_streak=best, last_checkin_on=today, checkin_total=total)
            )
            conn.execute(
                update(challenges)
                .where(challenges.c.id == challenge_id)
                .values(checkin_count=challenges.c.checkin_count + 1)
            )
            return CheckInResult(True, today, streak, best, total)

        return await self.db.transaction(unit)
