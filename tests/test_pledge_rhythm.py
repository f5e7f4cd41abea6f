"""Each pledge keeps its own reminder rhythm: the combination rules, and the sweep keeping two
pledges of one member on different rhythms (on each configured database)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.clock import FakeClock
from core.db.tables import deliveries
from core.errors import Invalid
from core.models import Frequency, Member, ReminderPreference
from core.reminder_rhythm import Rhythm, check_choice, choices, rhythm_of
from core.services import Services
from core.services.reminders import PledgeReminder
from tests.factories import member, open_challenge

NONE, DAILY, WEEKLY = ReminderPreference.NONE, ReminderPreference.DAILY, ReminderPreference.WEEKLY
MONDAY, WEDNESDAY, FRIDAY = 0, 2, 4


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_member_default_applies_until_a_pledge_chooses_its_own() -> None:
    assert rhythm_of(Frequency.DAILY, DAILY, MONDAY) == Rhythm(Frequency.DAILY)
    assert rhythm_of(Frequency.DAILY, WEEKLY, FRIDAY) == Rhythm(Frequency.WEEKLY, FRIDAY)
    assert rhythm_of(Frequency.DAILY, DAILY, MONDAY, WEEKLY) == Rhythm(Frequency.WEEKLY, MONDAY)
    assert rhythm_of(Frequency.DAILY, DAILY, MONDAY, WEEKLY, FRIDAY) == Rhythm(
        Frequency.WEEKLY, FRIDAY
    )
    assert rhythm_of(Frequency.DAILY, WEEKLY, FRIDAY, DAILY) == Rhythm(Frequency.DAILY)


def test_the_challenge_bounds_the_rhythm_and_the_member_switch_stops_all() -> None:
    # A one-off action is reminded once, a weekly one weekly (on the pledge's day if it has one).
    assert rhythm_of(Frequency.ONCE, WEEKLY, FRIDAY, WEEKLY, MONDAY) == Rhythm(Frequency.ONCE)
    assert rhythm_of(Frequency.WEEKLY, DAILY, FRIDAY, DAILY) == Rhythm(Frequency.WEEKLY, FRIDAY)
    assert rhythm_of(Frequency.WEEKLY, DAILY, FRIDAY, None, MONDAY) == Rhythm(
        Frequency.WEEKLY, MONDAY
    )
    for frequency in Frequency:
        assert rhythm_of(frequency, NONE, MONDAY, DAILY) is None
        assert rhythm_of(frequency, NONE, MONDAY, WEEKLY, FRIDAY) is None


def test_the_choices_each_frequency_allows() -> None:
    assert choices(Frequency.DAILY) == (NONE, DAILY, WEEKLY)
    assert choices(Frequency.WEEKLY) == (NONE, WEEKLY)
    assert choices(Frequency.ONCE) == (NONE, DAILY)  # DAILY: "remind me", once
    check_choice(Frequency.DAILY, WEEKLY, FRIDAY)
    check_choice(Frequency.WEEKLY, WEEKLY, FRIDAY)
    for frequency, preference, weekday in (
        (Frequency.WEEKLY, DAILY, None),
        (Frequency.ONCE, WEEKLY, None),
        (Frequency.DAILY, DAILY, FRIDAY),
        (Frequency.ONCE, DAILY, FRIDAY),
        (Frequency.DAILY, WEEKLY, 7),
    ):
        with pytest.raises(Invalid):
            check_choice(frequency, preference, weekday)


async def _two_pledges(services: Services) -> tuple[Member, int, int]:
    """A Telegram member reminded daily at 18:00 (Paris) by default, pledged to two daily
    challenges; the member and both challenge ids."""
    alice = await member(services, "alice", "telegram")
    await services.members.update(alice.id, reminder="daily", reminder_hour=18)
    ids = []
    for slug in ("velo", "tri"):
        challenge = await open_challenge(services, slug=slug, days=60)
        await services.pledges.pledge(alice.id, challenge.id)
        await services.reminders.schedule(alice.id, challenge.id)
        ids.append(challenge.id)
    return alice, ids[0], ids[1]


async def _reminded(services: Services) -> Counter[int]:
    """How many reminders were queued, by challenge id."""
    async with services.db.read() as conn:
        rows = await conn.execute(
            select(deliveries.c.challenge_id).where(deliveries.c.kind == "reminder")
        )
        return Counter(rows.scalars())


async def _sweep_hourly(services: Services, clock: FakeClock, days: int) -> None:
    for _ in range(days * 24):
        clock.advance(timedelta(hours=1))
        await services.reminders.sweep()


async def test_a_daily_and_a_weekly_pledge_keep_their_rhythms_through_the_sweep(
    services: Services, clock: FakeClock
) -> None:
    alice, velo, tri = await _two_pledges(services)
    await services.reminders.set_rhythm(alice.id, velo, DAILY)
    reminder, switched_on = await services.reminders.set_rhythm(alice.id, tri, WEEKLY)
    assert reminder == PledgeReminder(Rhythm(Frequency.WEEKLY, MONDAY), paused=False, own=True)
    assert not switched_on
    assert (await services.members.get(alice.id)).reminder is DAILY  # the default is untouched
    assert await services.reminders.due_at(alice.id, tri) == _utc(2026, 3, 16, 17, 0)  # Monday

    await _sweep_hourly(services, clock, 8)  # Tuesday 10 March 09:00 to Wednesday 18

    assert await _reminded(services) == {velo: 8, tri: 1}


async def test_no_reminder_for_one_pledge_keeps_the_other(
    services: Services, clock: FakeClock
) -> None:
    alice, velo, tri = await _two_pledges(services)
    await services.reminders.set_rhythm(alice.id, velo, WEEKLY, FRIDAY)
    reminder, _ = await services.reminders.set_rhythm(alice.id, tri, NONE)
    assert reminder.rhythm is None and reminder.paused
    assert await services.reminders.is_paused(alice.id, tri)
    assert await services.reminders.due_at(alice.id, velo) == _utc(2026, 3, 13, 17, 0)

    await _sweep_hourly(services, clock, 8)

    assert await _reminded(services) == {velo: 1}
    assert (await services.members.get(alice.id)).reminder is DAILY


async def test_a_change_takes_effect_on_the_next_due_time(
    services: Services, clock: FakeClock
) -> None:
    alice, velo, tri = await _two_pledges(services)
    await services.reminders.set_rhythm(alice.id, velo, DAILY)
    clock.set(_utc(2026, 3, 10, 17, 0))
    assert await services.reminders.sweep() == 2  # both daily today (tri by default)

    await services.reminders.set_rhythm(alice.id, velo, WEEKLY, WEDNESDAY)
    assert await services.reminders.due_at(alice.id, velo) == _utc(2026, 3, 11, 17, 0)
    assert await services.reminders.due_at(alice.id, tri) == _utc(2026, 3, 11, 17, 0)
    await services.reminders.set_rhythm(alice.id, velo, WEEKLY, FRIDAY)
    assert await services.reminders.due_at(alice.id, velo) == _utc(2026, 3, 13, 17, 0)
    clock.set(_utc(2026, 3, 11, 17, 0))
    assert await services.reminders.sweep() == 1  # tri alone on Wednesday
    assert await _reminded(services) == {velo: 1, tri: 2}


async def test_the_member_settings_still_apply_to_every_pledge(services: Services) -> None:
    """Time of day and the off switch are the member's; the default moves only the pledges
    without a rhythm of their own."""
    alice, velo, tri = await _two_pledges(services)
    await services.reminders.set_rhythm(alice.id, velo, WEEKLY, FRIDAY)

    await services.members.update(alice.id, reminder_hour=9)
    assert await services.reminders.due_at(alice.id, velo) == _utc(2026, 3, 13, 8, 0)
    assert await services.reminders.due_at(alice.id, tri) == _utc(2026, 3, 11, 8, 0)

    await services.members.update(alice.id, reminder="weekly", reminder_weekday=MONDAY)
    assert await services.reminders.due_at(alice.id, velo) == _utc(2026, 3, 13, 8, 0)
    assert await services.reminders.due_at(alice.id, tri) == _utc(2026, 3, 16, 8, 0)

    await services.members.update(alice.id, reminder="none")
    assert await services.reminders.due_at(alice.id, velo) is None
    assert await services.reminders.due_at(alice.id, tri) is None
    shown = await services.reminders.of_member(alice.id)
    assert shown[velo] == PledgeReminder(None, paused=False, own=True)

    await services.members.update(alice.id, reminder="daily")
    assert await services.reminders.due_at(alice.id, velo) == _utc(2026, 3, 13, 8, 0)
    assert await services.reminders.due_at(alice.id, tri) == _utc(2026, 3, 11, 8, 0)


async def test_choosing_a_rhythm_while_reminders_are_off_switches_them_on(
    services: Services,
) -> None:
    alice, velo, tri = await _two_pledges(services)
    await services.reminders.set_rhythm(alice.id, tri, NONE)
    await services.members.update(alice.id, reminder="none")

    reminder, switched_on = await services.reminders.set_rhythm(alice.id, velo, WEEKLY)

    assert switched_on and reminder.rhythm == Rhythm(Frequency.WEEKLY, MONDAY)
    assert (await services.members.get(alice.id)).reminder is WEEKLY
    assert await services.reminders.due_at(alice.id, velo) == _utc(2026, 3, 16, 17, 0)
    assert await services.reminders.due_at(alice.id, tri) is None  # still paused


async def test_a_choice_the_challenge_does_not_allow_changes_nothing(
    services: Services,
) -> None:
    alice = await member(services, "alice", "telegram")
    await services.members.update(alice.id, reminder="daily", reminder_hour=18)
    weekly = await open_challenge(services, slug="weekly", frequency=Frequency.WEEKLY)
    once = await open_challenge(services, slug="once", frequency=Frequency.ONCE)
    for challenge in (weekly, once):
        await services.pledges.pledge(alice.id, challenge.id)
        await services.reminders.schedule(alice.id, challenge.id)
    before = await services.reminders.of_member(alice.id)
    due = [await services.reminders.due_at(alice.id, c.id) for c in (weekly, once)]

    for challenge_id, preference, weekday in (
        (weekly.id, DAILY, None),
        (once.id, WEEKLY, None),
        (once.id, DAILY, FRIDAY),
        (weekly.id, WEEKLY, 9),
    ):
        with pytest.raises(Invalid):
            await services.reminders.set_rhythm(alice.id, challenge_id, preference, weekday)

    assert await services.reminders.of_member(alice.id) == before
    assert [await services.reminders.due_at(alice.id, c.id) for c in (weekly, once)] == due
    await services.reminders.set_rhythm(alice.id, weekly.id, WEEKLY, WEDNESDAY)
    assert await services.reminders.due_at(alice.id, weekly.id) == _utc(2026, 3, 11, 17, 0)
