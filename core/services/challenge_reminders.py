"""What a challenge says on its own as time passes: the last days before its deadline (7 days
and 1 day before), a weekly digest to the groups that follow it (this week's pledges and a
forecast at the current pace), and a nudge to its organisers when that forecast misses the goal.

Each is an outbox event with a dedupe key naming its moment, written by a sweep that may run as
often as it likes: a restart or a second sweep writes nothing twice, and a digest missed by more
than a day while the bot was down is skipped rather than sent late.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from core.clock import Clock
from core.db.database import Database
from core.db.tables import challenges, outbox, pledges
from core.events import emit
from core.models import ChallengeStatus, EventKind
from core.services.progress import ProgressService

DEADLINE_DAYS = (7, 1)
DIGEST_WEEKDAY = 0
"""Monday."""
DIGEST_TIME = time(9, 0)
DIGEST_GRACE = timedelta(days=1)
AREAS_IN_DIGEST = 3
WEEK = timedelta(days=7)
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Forecast:
    """Where a challenge is heading at the pace of the last seven days."""

    week: int
    """Pledges of the last seven days (still standing)."""
    count: int
    goal: int
    forecast: int
    """The count expected at the deadline."""
    reached_on: datetime | None
    """When the goal is reached at this pace, if before the deadline."""
    needed_per_day: int
    """Pledges a day still needed to reach the goal by the deadline."""


def forecast(week: int, count: int, goal: int, now: datetime, deadline: datetime) -> Forecast:
    """The forecast of a challenge with `count` pledges, `week` of them in the last 7 days."""
    days_left = max((deadline - now) / _DAY, 0.0)
    per_day = week / 7
    expected = count + math.floor(per_day * days_left)
    missing = max(goal - count, 0)
    reached_on = None
    if missing == 0:
        reached_on = now
    elif per_day > 0 and missing / per_day <= days_left:
        reached_on = now + timedelta(days=missing / per_day)
    needed = math.ceil(missing / days_left) if days_left >= 1 else missing
    return Forecast(week, count, goal, expected, reached_on, needed)


def digest_moment(now: datetime, timezone: str) -> datetime:
    """This week's digest moment (Monday 09:00 local), the latest one at or before `now`."""
    tz = ZoneInfo(timezone)
    local = now.astimezone(tz)
    monday = local.date() - timedelta(days=(local.weekday() - DIGEST_WEEKDAY) % 7)
    moment = datetime.combine(monday, DIGEST_TIME, tzinfo=tz)
    if moment > local:
        moment -= WEEK
    return moment.astimezone(now.tzinfo)


def _deadline_reminder(left: timedelta) -> int | None:
    """Which deadline reminder (7 or 1 days before) is due with `left` to go, if any."""
    for days in sorted(DEADLINE_DAYS):
        if left <= timedelta(days=days):
            return days
    return None


class ChallengeReminderService:
    """The sweep of deadline reminders, weekly digests and organiser nudges."""

    def __init__(
        self, db: Database, clock: Clock, timezone: str, progress: ProgressService
    ) -> None:
        self.db = db
        self.clock = clock
        self.timezone = timezone
        self.progress = progress

    async def sweep(self) -> int:
        """Write the events that fell due; the number written."""
        now = self.clock.now()
        moment = digest_moment(now, self.timezone)
        week_key = moment.strftime("%G-W%V")
        digest_due = moment <= now < moment + DIGEST_GRACE
        async with self.db.read() as conn:
            week_pledges = (
                select(func.count())
                .where(
                    pledges.c.challenge_id == challenges.c.id,
                    pledges.c.withdrawn_at.is_(None),
                    pledges.c.created_at > now - WEEK,
                )
                .scalar_subquery()
            )
            rows = await conn.execute(
                select(
                    challenges.c.id,
                    challenges.c.status,
                    challenges.c.goal,
                    challenges.c.pledge_count,
                    challenges.c.deadline,
                    challenges.c.starts_at,
                    week_pledges.label("week"),
                ).where(
                    challenges.c.status.in_(
                        [ChallengeStatus.OPEN.value, ChallengeStatus.SUCCEEDED.value]
                    ),
                    challenges.c.starts_at <= now,
                    challenges.c.deadline > now,
                )
            )
            due = rows.all()
            keys = [f"digest:{c.id}:{week_key}" for c in due]
            done = set(
                (
                    await conn.execute(
                        select(outbox.c.dedupe_key).where(outbox.c.dedupe_key.in_(keys))
                    )
                ).scalars()
            )
        # Where this week's pledges come from, for the digests still to write.
        areas = {
            c.id: [[a.label, a.count] for a in await self.progress.areas_since(c.id, now - WEEK)]
            for c in due
            if digest_due and c.starts_at <= moment and f"digest:{c.id}:{week_key}" not in done
        }
        if not due:
            return 0

        def unit(conn: Connection) -> int:
            written = 0
            for c in due:
                seen = forecast(c.week, c.pledge_count, c.goal, now, c.deadline)
                open_ = c.status == ChallengeStatus.OPEN.value
                last_days = _deadline_reminder(c.deadline - now)
                if open_ and last_days is not None:
                    event = emit(
                        conn,
                        self.clock,
                        EventKind.DEADLINE,
                        c.id,
                        f"deadline:{c.id}:{last_days}",
                        days=math.ceil((c.deadline - now) / _DAY),
                        count=c.pledge_count,
                        goal=c.goal,
                    )
                    written += event is not None
                if c.id not in areas:
                    continue
                event = emit(
                    conn,
                    self.clock,
                    EventKind.DIGEST,
                    c.id,
                    f"digest:{c.id}:{week_key}",
                    week=seen.week,
                    count=seen.count,
                    goal=seen.goal,
                    forecast=seen.forecast,
                    deadline=c.deadline.isoformat(),
                    reached_on=seen.reached_on.isoformat() if seen.reached_on else None,
                    succeeded=not open_,
                    areas=areas[c.id][:AREAS_IN_DIGEST],
                )
                written += event is not None
                if open_ and seen.reached_on is None:
                    event = emit(
                        conn,
                        self.clock,
                        EventKind.NUDGE,
                        c.id,
                        f"nudge:{c.id}:{week_key}",
                        count=seen.count,
                        goal=seen.goal,
                        forecast=seen.forecast,
                        deadline=c.deadline.isoformat(),
                        needed_per_day=seen.needed_per_day,
                    )
                    written += event is not None
            return written

        return await self.db.transaction(unit)
