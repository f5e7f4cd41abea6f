"""Check-ins once per local day, streaks on the member's own calendar, across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.clock import FakeClock
from core.errors import NotFound
from core.models import Frequency
from core.services import Services
from tests.factories import member, open_challenge

PARIS = ZoneInfo("Europe/Paris")


async def test_one_checkin_per_local_day(services: Services, clock: FakeClock) -> None:
    challenge = await open_challenge(services)
    alice = await member(services, "alice")
    with pytest.raises(NotFound):
        await services.checkins.check_in(alice.id, challenge.id)
    await services.pledges.pledge(alice.id, challenge.id)
    clock.set(datetime(2026, 3, 10, 21, 0, tzinfo=UTC))  # 22:00 in Paris
    first = await services.checkins.check_in(alice.id, challenge.id)
    clock.set(datetime(2026, 3, 10, 22, 30, tzinfo=UTC))  # 23:30 in Paris: same local day
    second = await services.checkins.check_in(alice.id, challenge.id)
    clock.set(datetime(2026, 3, 10, 23, 30, tzinfo=UTC))  # 00:30 on the 11th in Paris
    third = await services.checkins.check_in(alice.id, challenge.id)
    assert (first.recorded, second.recorded, third.recorded) == (True, False, True)
    assert (third.local_day.isoformat(), third.streak, third.total) == ("2026-03-11", 2, 2)
    assert (await services.challenges.get(challenge.id)).checkin_count == 2


@pytest.mark.parametrize(
    "days",
    [
        # Spring forward in Paris on 29 March 2026, fall back on 25 October 2026:
        # 23:30 local each evening, whose UTC offset changes in the middle.
        [datetime(2026, 3, d, 23, 30, tzinfo=PARIS) for d in (27, 28, 29, 30)],
        [datetime(2026, 10, d, 23, 30, tzinfo=PARIS) for d in (23, 24, 25, 26)],
        # Just after midnight local, the hour that moves.
        [datetime(2026, 3, d, 0, 30, tzinfo=PARIS) for d in (28, 29, 30, 31)],
        [datetime(2026, 10, d, 0, 30, tzinfo=PARIS) for d in (24, 25, 26, 27)],
    ],
    ids=["spring-evening", "autumn-evening", "spring-midnight", "autumn-midnight"],
)
async def test_dst_never_breaks_a_streak(
    services: Services, clock: FakeClock, days: list[datetime]
) -> None:
    clock.set(days[0] - timedelta(days=1))
    challenge = await open_challenge(services, days=300)
    alice = await member(services, "alice")
    await services.pledges.pledge(alice.id, challenge.id)
    streaks = []
    for moment in days:
        clock.set(moment)  # 23:30 or 00:30 local depending on the offset of the day
        streaks.append((await services.checkins.check_in(alice.id, challenge.id)).streak)
    assert streaks == [1, 2, 3, 4]


async def test_same_local_day_across_the_dst_jump(services: Services, clock: FakeClock) -> None:
    challenge = await open_challenge(services)
    clock.set(datetime(2026, 3, 29, 0, 30, tzinfo=PARIS).astimezone(UTC))
    alice = await member(services, "alice")
    await services.pledges.pledge(alice.id, challenge.id)
    assert (await services.checkins.check_in(alice.id, challenge.id)).recorded
    clock.set(datetime(2026, 3, 29, 23, 30, tzinfo=PARIS).astimezone(UTC))
    assert not (await services.checkins.check_in(alice.id, challenge.id)).recorded


async def test_a_gap_resets_the_streak_and_keeps_the_best(
    services: Services, clock: FakeClock
) -> None:
    challenge = await open_challenge(services)
    alice = await member(services, "alice")
    await services.pledges.pledge(alice.id, challenge.id)
    for _ in range(3):
        await services.checkins.check_in(alice.id, challenge.id)
        clock.advance(timedelta(days=1))
    clock.advance(timedelta(days=1))
    result = await services.checkins.check_in(alice.id, challenge.id)
    assert (result.streak, result.best_streak, result.total) == (1, 3, 4)


async def test_weekly_streak_counts_weeks(services: Services, clock: FakeClock) -> None:
    challenge = await open_challenge(services, frequency=Frequency.WEEKLY)
    alice = await member(services, "alice")
    await services.pledges.pledge(alice.id, challenge.id)
    streaks = []
    for gap in (0, 2, 5, 7, 14):
        clock.advance(timedelta(days=gap))
        streaks.append((await services.checkins.check_in(alice.id, challenge.id)).streak)
    # Tue 10 Mar; Thu 12 (same week); Tue 17 (next week); Tue 24; Tue 7 Apr (a week skipped).
    assert streaks == [1, 1, 2, 3, 1]


async def test_member_timezone_decides_the_day(services: Services, clock: FakeClock) -> None:
    challenge = await open_challenge(services)
    alice = await member(services, "alice")
    await services.members.update(alice.id, timezone="America/Montreal")
    await services.pledges.pledge(alice.id, challenge.id)
    clock.set(datetime(2026, 3, 11, 3, 0, tzinfo=UTC))  # still the 10th in Montreal
    result = await services.checkins.check_in(alice.id, challenge.id)
    assert result.local_day.isoformat() == "2026-03-10"
