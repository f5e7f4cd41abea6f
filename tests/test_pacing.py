"""The pacer keeps every platform limit exactly and keeps room for replies during bulk sends."""

from __future__ import annotations

from bisect import bisect_left
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from core.clock import FakeClock
from core.pacing import (
    DISCORD_LIMITS,
    TELEGRAM_LIMITS,
    TOLERANCE,
    Limit,
    Limits,
    Pacer,
    wait_for_send_time,
)

SECOND = timedelta(seconds=1)
WINDOW = SECOND + TOLERANCE
"""A second's window in the books: sends within TOLERANCE of their times keep the second."""


def _clock() -> FakeClock:
    return FakeClock(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))


def _busiest_window(times: list[datetime], per: timedelta) -> int:
    """The most sends found in any window of length `per`."""
    ordered = sorted(times)
    return max(bisect_left(ordered, t + per) - i for i, t in enumerate(ordered))


def test_bulk_sends_to_many_private_chats_stay_within_the_bulk_share() -> None:
    clock = _clock()
    pacer = Pacer(TELEGRAM_LIMITS, clock)
    sends = [clock.now() + pacer.reserve(f"chat-{i}", group=False, bulk=True) for i in range(100)]
    assert _busiest_window(sends, WINDOW) == 28  # 96 % of 30
    gaps = [later - earlier for earlier, later in pairwise(sends)]
    # Evenly spaced at that rate (but for rounding to the microsecond): no burst, no slower.
    assert WINDOW / 28 <= min(gaps) <= max(gaps) <= WINDOW / 28 + timedelta(microseconds=10)


def test_sends_to_one_private_chat_are_a_second_apart() -> None:
    clock = _clock()
    pacer = Pacer(TELEGRAM_LIMITS, clock)
    waits = [pacer.reserve("alice", group=False, bulk=False) for _ in range(5)]
    assert waits == [i * WINDOW for i in range(5)]


def test_a_group_gets_twenty_messages_a_minute() -> None:
    clock = _clock()
    pacer = Pacer(TELEGRAM_LIMITS, clock)
    waits = [pacer.reserve("group", group=True, bulk=True) for _ in range(25)]
    assert waits[:20] == [i * (WINDOW / 28) for i in range(20)]  # bulk spacing only
    assert all(wait >= timedelta(minutes=1) for wait in waits[20:])


def test_a_reply_during_a_big_broadcast_waits_at_most_one_overall_slot() -> None:
    clock = _clock()
    pacer = Pacer(TELEGRAM_LIMITS, clock)
    sends = [clock.now() + pacer.reserve(f"m-{i}", group=False, bulk=True) for i in range(1000)]
    slot = SECOND / 30
    for _ in range(3):
        clock.advance(timedelta(seconds=7.3))
        wait = pacer.reserve(f"talker-{clock.now()}", group=False, bulk=False)
        assert wait <= slot
        sends.append(clock.now() + wait)
    assert _busiest_window(sends, SECOND) <= 30


def test_mixed_traffic_never_breaks_any_limit() -> None:
    clock = _clock()
    pacer = Pacer(DISCORD_LIMITS, clock)
    sends: dict[str, list[datetime]] = {}
    for i in range(600):
        chat, group = (f"channel-{i % 4}", True) if i % 3 else (f"dm-{i % 7}", False)
        when = clock.now() + pacer.reserve(chat, group=group, bulk=i % 5 != 0)
        sends.setdefault(chat, []).append(when)
        clock.advance(SECOND / 40)
    everything = [when for times in sends.values() for when in times]
    assert _busiest_window(everything, SECOND) <= 50
    for times in sends.values():
        assert _busiest_window(times, 5 * SECOND) <= 5


def test_a_run_spanning_a_full_window_does_not_refuse_a_send_between() -> None:
    clock = _clock()
    two_a_second = Limits(Limit(2, SECOND), Limit(1, SECOND), Limit(1, SECOND))
    pacer = Pacer(two_a_second, clock)
    pacer.penalise("b", 1.5 * SECOND)
    assert pacer.reserve("a", group=False, bulk=False) == timedelta(0)
    assert pacer.reserve("b", group=False, bulk=False) == 1.5 * SECOND
    clock.advance(0.8 * SECOND)  # 0, 0.8 and 1.5 s: never more than two in a second
    assert pacer.reserve("c", group=False, bulk=False) == timedelta(0)
    assert pacer.reserve("d", group=False, bulk=False) == WINDOW  # at 1.82 s, not before


def test_a_429_delays_that_chat_and_a_global_one_delays_everyone() -> None:
    clock = _clock()
    pacer = Pacer(TELEGRAM_LIMITS, clock)
    pacer.penalise("alice", timedelta(seconds=5))
    assert pacer.reserve("alice", group=False, bulk=False) == timedelta(seconds=5)
    assert pacer.reserve("bob", group=False, bulk=False) == timedelta(0)
    pacer.penalise(None, timedelta(seconds=3))
    assert pacer.reserve("carol", group=True, bulk=True) == timedelta(seconds=3)
    assert pacer.reserve("bob", group=False, bulk=False) == timedelta(seconds=3)


def test_chats_are_forgotten_once_their_windows_pass() -> None:
    clock = _clock()
    pacer = Pacer(TELEGRAM_LIMITS, clock)
    for i in range(100):
        pacer.reserve(f"chat-{i}", group=False, bulk=True)
    pacer.reserve("group", group=True, bulk=False)
    pacer.penalise("slow", timedelta(seconds=30))
    assert len(pacer) == 102
    clock.advance(10 * SECOND)
    pacer.reserve("next", group=False, bulk=False)
    assert len(pacer) == 3  # the group's minute and the penalty are still running
    clock.advance(timedelta(minutes=1))
    pacer.reserve("last", group=False, bulk=False)
    assert len(pacer) == 1


def test_replies_taken_from_the_budget_make_bulk_sends_give_way() -> None:
    clock = _clock()
    pacer = Pacer(TELEGRAM_LIMITS, clock)
    replies = [clock.now() + pacer.reserve(f"r-{i}", group=False, bulk=False) for i in range(10)]
    assert replies == [clock.now()] * 10  # replies wait for nothing while there is room
    sends = [clock.now() + pacer.reserve(f"m-{i}", group=False, bulk=True) for i in range(60)]
    assert _busiest_window(replies + sends, SECOND) <= 30


class Sleeper:
    """A pause on the fake clock that wakes `late` after the time asked (a busy CPU)."""

    def __init__(self, clock: FakeClock, late: list[timedelta]) -> None:
        self.clock = clock
        self.late = late
        self.pauses: list[timedelta] = []

    async def __call__(self, seconds: float) -> bool:
        self.pauses.append(timedelta(seconds=seconds))
        self.clock.advance(timedelta(seconds=seconds) + (self.late.pop(0) if self.late else ZERO))
        return False


ZERO = timedelta(0)


async def test_a_sender_woken_late_takes_another_send_time() -> None:
    clock = _clock()
    pacer = Pacer(TELEGRAM_LIMITS, clock)
    start = clock.now()
    pacer.reserve("alice", group=False, bulk=False)  # alice's next may go one window on
    sleeper = Sleeper(clock, [TOLERANCE + timedelta(milliseconds=1), TOLERANCE])
    ready = await wait_for_send_time(
        pacer, "alice", group=False, bulk=False, clock=clock, pause=sleeper
    )
    assert ready
    # Woken 21 ms late, then took the next time one window later and woke within tolerance.
    assert sleeper.pauses == [WINDOW, WINDOW - TOLERANCE - timedelta(milliseconds=1)]
    assert clock.now() - start == 2 * WINDOW + TOLERANCE


def test_sends_up_to_tolerance_late_keep_every_limit_at_the_platform() -> None:
    """Whatever lateness within TOLERANCE each send gets (the earlier ones late, the later on
    time: bunched as a stalled loop bunches them), no second at the platform holds too many."""
    clock = _clock()
    pacer = Pacer(TELEGRAM_LIMITS, clock)
    planned: list[tuple[str, datetime]] = []
    for i in range(900):
        chat = f"talker-{i % 3}" if i % 4 == 0 else f"m-{i}"
        when = clock.now() + pacer.reserve(chat, group=False, bulk=i % 4 != 0)
        planned.append((chat, when))
        clock.advance(SECOND / 60)
    for late_every in (2, 3, 5):
        sent = [
            (chat, when + (TOLERANCE if n % late_every == 0 else ZERO))
            for n, (chat, when) in enumerate(planned)
        ]
        assert _busiest_window([when for _, when in sent], SECOND) <= 30
        for talker in ("talker-0", "talker-1", "talker-2"):
            assert _busiest_window([w for c, w in sent if c == talker], SECOND) == 1


async def test_no_send_time_after_the_latest_or_when_stopping() -> None:
    clock = _clock()
    pacer = Pacer(TELEGRAM_LIMITS, clock)
    pacer.reserve("alice", group=False, bulk=False)
    latest = clock.now() + SECOND
    assert not await wait_for_send_time(
        pacer, "alice", group=False, bulk=False, clock=clock, latest=latest
    )

    async def stopping(seconds: float) -> bool:
        return True

    assert not await wait_for_send_time(
        pacer, "bob", group=False, bulk=False, clock=clock, pause=stopping
    )
