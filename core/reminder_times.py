"""When a member's reminder falls due: pure functions over wall-clock rules, no database.

Moments go in and come out as aware UTC datetimes; rules speak the member's local time. A time
that daylight saving skips moves to the first minute after the gap, an ambiguous one fires once
(its first occurrence, fold=0), and whatever lands in quiet hours waits for the window's end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_DAY = timedelta(days=1)
_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class QuietHours:
    """A local window [start, end) with no reminders; it crosses midnight when start > end and
    is empty when start == end."""

    start: time = time(21, 0)
    end: time = time(8, 0)

    def contains(self, local: time) -> bool:
        """Whether a local wall-clock time falls inside the window."""
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True)
class ReminderRule:
    """A reminder at hour:minute local time in `timezone`, every day or on `weekday`
    (0 = Monday)."""

    timezone: str
    hour: int
    minute: int = 0
    weekday: int | None = None
    quiet: QuietHours = QuietHours()

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)
        time(self.hour, self.minute)
        if self.weekday is not None and not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0..6, not {self.weekday}")


def next_due(rule: ReminderRule, after: datetime) -> datetime:
    """The first reminder moment strictly after `after`."""
    tz = ZoneInfo(rule.timezone)
    # The previous day's reminder may have been pushed past `after` by quiet hours.
    first_day = _utc(after).astimezone(tz).date() - _DAY
    return next(moment for moment in _moments(rule, tz, first_day) if moment > after)


def snooze(
    rule: ReminderRule, now: datetime, *, hours: int | None = None, tomorrow: bool = False
) -> datetime:
    """When a snoozed reminder comes back: `hours` later (after quiet hours if it lands in
    them), or at the usual time on the next local day."""
    tz = ZoneInfo(rule.timezone)
    if tomorrow:
        if hours is not None:
            raise ValueError("snooze takes either hours or tomorrow, not both")
        return _scheduled(rule, tz, _utc(now).astimezone(tz).date() + _DAY)
    if hours is None or hours <= 0:
        raise ValueError(f"snooze takes a positive number of hours or tomorrow, not {hours}")
    return _after_quiet(rule.quiet, (_utc(now) + timedelta(hours=hours)).astimezone(tz), tz)


def catch_up(
    rule: ReminderRule, last_due: datetime, now: datetime, grace: timedelta
) -> datetime | None:
    """The due moment of the one reminder to send after downtime: the latest one missed since
    `last_due`, if missed by less than `grace`; None otherwise. Recording the result as the new
    `last_due` makes a second call return None."""
    missed = None
    moment = next_due(rule, max(_utc(last_due), _utc(now) - grace))
    while moment <= now:
        missed = moment
        moment = next_due(rule, moment)
    return missed


def _moments(rule: ReminderRule, tz: ZoneInfo, first_day: date) -> Iterator[datetime]:
    """The rule's reminder moments, in order, from local date `first_day` on."""
    day = first_day
    while True:
        if rule.weekday is None or day.weekday() == rule.weekday:
            yield _scheduled(rule, tz, day)
        day += _DAY


def _scheduled(rule: ReminderRule, tz: ZoneInfo, day: date) -> datetime:
    """The moment of the rule's reminder chosen for local date `day`."""
    wall = datetime.combine(day, time(rule.hour, rule.minute))
    return _after_quiet(rule.quiet, _existing(wall, tz), tz)


def _after_quiet(quiet: QuietHours, local: datetime, tz: ZoneInfo) -> datetime:
    """`local` (a moment in `tz`) in UTC, or the end of the quiet window it falls in."""
    if not quiet.contains(local.time()):
        return local.astimezone(UTC)
    day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        day += _DAY
    end = datetime.combine(day, quiet.end)
    return _existing(end, tz).astimezone(UTC)


def _existing(wall: datetime, tz: ZoneInfo) -> datetime:
    """The aware local moment for a naive wall-clock time: the first occurrence if it is
    ambiguous, the first valid minute after the gap if it does not exist."""
    local = wall.replace(tzinfo=tz, fold=0)
    while local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        local += _MINUTE
    return local


def _utc(moment: datetime) -> datetime:
    """An aware moment in UTC; naive datetimes are refused rather than guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, not {moment!r}")
    return moment.astimezone(UTC)
