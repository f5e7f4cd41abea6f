"""Reminder times: local wall clocks, weekdays, daylight saving, quiet hours, snooze, catch-up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from core.reminder_times import QuietHours, ReminderRule, catch_up, next_due, snooze

PARIS = "Europe/Paris"
MONTREAL = "America/Montreal"
NO_QUIET = QuietHours(time(0, 0), time(0, 0))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


def occurrences(rule: ReminderRule, start: datetime, end: datetime) -> list[datetime]:
    """Every reminder moment in (start, end], found by chaining next_due."""
    found = []
    moment = next_due(rule, start)
    while moment <= end:
        found.append(moment)
        moment = next_due(rule, moment)
    return found


# --- quiet hours -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clock", "inside"),
    [
        (time(20, 59), False),
        (time(21, 0), True),
        (time(23, 59), True),
        (time(0, 0), True),
        (time(7, 59), True),
        (time(8, 0), False),
        (time(12, 0), False),
    ],
)
def test_default_quiet_hours_cross_midnight(clock: time, inside: bool) -> None:
    assert QuietHours().contains(clock) is inside


def test_quiet_hours_within_a_day_and_empty_window() -> None:
    lunch = QuietHours(time(12, 0), time(14, 0))
    assert lunch.contains(time(12, 0))
    assert lunch.contains(time(13, 59))
    assert not lunch.contains(time(14, 0))
    assert not lunch.contains(time(23, 0))
    assert not any(NO_QUIET.contains(time(h, m)) for h in range(24) for m in (0, 30))


# --- daily and weekly, two timezones -----------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (utc(2026, 1, 15, 12), utc(2026, 1, 15, 18)),  # winter, CET
        (utc(2026, 7, 15, 12), utc(2026, 7, 15, 17)),  # summer, CEST
        (utc(2026, 3, 28, 12), utc(2026, 3, 28, 18)),  # last winter evening
        (utc(2026, 3, 29, 12), utc(2026, 3, 29, 17)),  # first summer evening
        (utc(2026, 10, 24, 12), utc(2026, 10, 24, 17)),  # last summer evening
        (utc(2026, 10, 25, 12), utc(2026, 10, 25, 18)),  # first winter evening
    ],
)
def test_paris_daily_19h_follows_the_local_clock(after: datetime, expected: datetime) -> None:
    assert next_due(ReminderRule(PARIS, 19), after) == expected


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (utc(2026, 1, 15, 12), utc(2026, 1, 16, 0)),  # EST, UTC-5
        (utc(2026, 3, 7, 12), utc(2026, 3, 8, 0)),  # the evening before the change
        (utc(2026, 3, 8, 12), utc(2026, 3, 8, 23)),  # EDT, UTC-4
        (utc(2026, 10, 31, 12), utc(2026, 10, 31, 23)),
        (utc(2026, 11, 1, 12), utc(2026, 11, 2, 0)),
    ],
)
def test_montreal_daily_19h_follows_the_local_clock(after: datetime, expected: datetime) -> None:
    assert next_due(ReminderRule(MONTREAL, 19), after) == expected


def test_next_due_is_strictly_after() -> None:
    rule = ReminderRule(PARIS, 19)
    assert next_due(rule, utc(2026, 1, 15, 18)) == utc(2026, 1, 16, 18)
    assert next_due(rule, utc(2026, 1, 15, 17, 59)) == utc(2026, 1, 15, 18)


def test_weekly_reminder_lands_on_its_weekday() -> None:
    monday = ReminderRule(PARIS, 19, 30, weekday=0)
    assert next_due(monday, utc(2026, 1, 14, 12)) == utc(2026, 1, 19, 18, 30)  # from a Wednesday
    assert next_due(monday, utc(2026, 1, 19, 18, 30)) == utc(2026, 1, 26, 18, 30)
    found = occurrences(monday, utc(2026, 1, 1), utc(2026, 12, 31))
    assert len(found) == 52
    assert {local(m, PARIS).weekday() for m in found} == {0}
    assert {local(m, PARIS).time() for m in found} == {time(19, 30)}


def test_weekly_reminder_in_montreal_across_the_spring_change() -> None:
    sunday = ReminderRule(MONTREAL, 10, weekday=6)
    found = occurrences(sunday, utc(2026, 3, 1), utc(2026, 3, 15, 23))
    assert found == [utc(2026, 3, 1, 15), utc(2026, 3, 8, 14), utc(2026, 3, 15, 14)]


# --- daylight saving -----------------------------------------------------------------------------


def test_spring_forward_moves_a_missing_time_to_the_end_of_the_gap() -> None:
    rule = ReminderRule(PARIS, 2, 30, quiet=NO_QUIET)
    found = occurrences(rule, utc(2026, 3, 27, 12), utc(2026, 3, 30, 12))
    assert found == [
        utc(2026, 3, 28, 1, 30),  # 02:30 CET
        utc(2026, 3, 29, 1, 0),  # 02:30 does not exist: 03:00 CEST
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST
    ]
    assert local(found[1], PARIS).time() == time(3, 0)


def test_fall_back_fires_an_ambiguous_time_once() -> None:
    rule = ReminderRule(PARIS, 2, 30, quiet=NO_QUIET)
    found = occurrences(rule, utc(2026, 10, 24, 12), utc(2026, 10, 26, 12))
    assert found == [
        utc(2026, 10, 25, 0, 30),  # the first 02:30 (CEST); the second one (01:30 UTC) is skipped
        utc(2026, 10, 26, 1, 30),  # 02:30 CET
    ]
    assert next_due(rule, utc(2026, 10, 25, 0, 30)) == utc(2026, 10, 26, 1, 30)


@pytest.mark.parametrize("zone", [PARIS, MONTREAL])
def test_daily_0230_fires_exactly_once_every_day_across_both_changes(zone: str) -> None:
    rule = ReminderRule(zone, 2, 30, quiet=NO_QUIET)
    found = occurrences(rule, utc(2026, 3, 1), utc(2026, 11, 30))
    days = [local(m, zone).date() for m in found]
    assert days == [days[0] + timedelta(days=n) for n in range(len(days))]
    assert days[0] == date(2026, 3, 1)
    assert days[-1] == date(2026, 11, 29)


# --- quiet hours in next_due ---------------------------------------------------------------------


def test_a_late_choice_moves_to_the_end_of_the_quiet_night() -> None:
    rule = ReminderRule(PARIS, 22)
    assert next_due(rule, utc(2026, 1, 15, 12)) == utc(2026, 1, 16, 7)  # 08:00 CET
    assert next_due(rule, utc(2026, 7, 15, 12)) == utc(2026, 7, 16, 6)  # 08:00 CEST
    # Thursday night's reminder is still ahead at 07:30 on Friday.
    assert next_due(rule, utc(2026, 1, 16, 6, 30)) == utc(2026, 1, 16, 7)


def test_an_early_choice_moves_to_the_end_of_the_quiet_morning() -> None:
    rule = ReminderRule(MONTREAL, 7)
    assert next_due(rule, utc(2026, 1, 15, 5)) == utc(2026, 1, 15, 13)  # 08:00 EST
    found = occurrences(rule, utc(2026, 3, 6, 5), utc(2026, 3, 10, 5))
    assert [local(m, MONTREAL).time() for m in found] == [time(8, 0)] * 4


def test_a_weekly_late_choice_waits_for_the_next_morning() -> None:
    monday = ReminderRule(PARIS, 22, weekday=0)
    moment = next_due(monday, utc(2026, 1, 14, 12))
    assert moment == utc(2026, 1, 20, 7)
    assert local(moment, PARIS).weekday() == 1


def test_custom_quiet_hours() -> None:
    rule = ReminderRule(PARIS, 12, 30, quiet=QuietHours(time(12, 0), time(14, 0)))
    assert next_due(rule, utc(2026, 1, 15, 6)) == utc(2026, 1, 15, 13)  # 14:00 CET
    assert next_due(ReminderRule(PARIS, 22, quiet=NO_QUIET), utc(2026, 1, 15, 6)) == utc(
        2026, 1, 15, 21
    )


# --- snooze --------------------------------------------------------------------------------------


def test_snooze_one_hour() -> None:
    rule = ReminderRule(PARIS, 19)
    assert snooze(rule, utc(2026, 1, 15, 14), hours=1) == utc(2026, 1, 15, 15)


def test_snooze_one_hour_into_quiet_hours_lands_at_their_end() -> None:
    rule = ReminderRule(PARIS, 19)
    assert snooze(rule, utc(2026, 1, 15, 19, 30), hours=1) == utc(2026, 1, 16, 7)  # 20:30 CET
    assert snooze(rule, utc(2026, 7, 15, 18, 30), hours=1) == utc(2026, 7, 16, 6)  # 20:30 CEST


def test_snooze_one_hour_counts_real_time_across_the_gap() -> None:
    rule = ReminderRule(PARIS, 2, 30, quiet=NO_QUIET)
    moment = snooze(rule, utc(2026, 3, 29, 0, 30), hours=1)  # 01:30 CET
    assert moment == utc(2026, 3, 29, 1, 30)
    assert local(moment, PARIS).time() == time(3, 30)


def test_snooze_until_tomorrow_at_the_usual_time() -> None:
    rule = ReminderRule(PARIS, 19)
    assert snooze(rule, utc(2026, 1, 15, 19, 30), tomorrow=True) == utc(2026, 1, 16, 18)
    assert snooze(rule, utc(2026, 3, 28, 19), tomorrow=True) == utc(2026, 3, 29, 17)
    late = ReminderRule(MONTREAL, 22)
    assert snooze(late, utc(2026, 1, 15, 13), tomorrow=True) == utc(2026, 1, 17, 13)


@pytest.mark.parametrize(("hours", "tomorrow"), [(None, False), (0, False), (-1, False), (1, True)])
def test_snooze_refuses_unclear_requests(hours: int | None, tomorrow: bool) -> None:
    with pytest.raises(ValueError):
        snooze(ReminderRule(PARIS, 19), utc(2026, 1, 15, 12), hours=hours, tomorrow=tomorrow)


# --- catch-up after downtime ---------------------------------------------------------------------


def test_catch_up_sends_only_the_latest_missed_reminder() -> None:
    rule = ReminderRule(PARIS, 19)
    last_due = utc(2026, 1, 12, 18)
    now = utc(2026, 1, 15, 19)  # down through three reminders, the last one an hour ago
    missed = catch_up(rule, last_due, now, timedelta(hours=2))
    assert missed == utc(2026, 1, 15, 18)
    assert missed is not None
    assert catch_up(rule, missed, now, timedelta(hours=2)) is None
    assert catch_up(rule, missed, now + timedelta(minutes=30), timedelta(hours=2)) is None


def test_catch_up_drops_what_is_no_longer_relevant() -> None:
    rule = ReminderRule(PARIS, 19)
    last_due = utc(2026, 1, 12, 18)
    assert catch_up(rule, last_due, utc(2026, 1, 15, 21), timedelta(hours=2)) is None
    assert catch_up(rule, last_due, utc(2026, 1, 15, 20), timedelta(hours=2)) is None  # boundary
    assert catch_up(rule, last_due, utc(2026, 1, 15, 19, 59), timedelta(hours=2)) == utc(
        2026, 1, 15, 18
    )


def test_catch_up_with_nothing_missed() -> None:
    rule = ReminderRule(PARIS, 19)
    assert catch_up(rule, utc(2026, 1, 15, 18), utc(2026, 1, 16, 12), timedelta(hours=2)) is None


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: ReminderRule(PARIS, 24),
        lambda: ReminderRule(PARIS, 9, 60),
        lambda: ReminderRule(PARIS, 9, weekday=7),
    ],
)
def test_rules_are_validated(make: Callable[[], ReminderRule]) -> None:
    with pytest.raises(ValueError):
        make()


def test_unknown_timezone_is_refused() -> None:
    with pytest.raises(ZoneInfoNotFoundError):
        ReminderRule("Mars/Olympus_Mons", 9)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        next_due(ReminderRule(PARIS, 19), datetime(2026, 1, 15, 12))
