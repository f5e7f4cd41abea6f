"""When may the delivery worker send the next message? Sliding-window pacing, no database.

Every sender (the delivery worker and an adapter's replies) waits for its send time through
`wait_for_send_time`, which takes it from its platform's `Budget` just before each send: a send
is counted at the moment it goes. No window of length `per` + `TOLERANCE` ever holds more than
`count` reserved sends, overall and per chat, and a sender that wakes more than `TOLERANCE`
after its send time takes another: so the limits hold at the platform, not only in the books,
even when a busy CPU wakes senders late together. Bulk sends (reminders, announcements,
broadcasts) may use only `BULK_SHARE` of the overall rate, so a reply to someone talking to the
bot always finds room in the overall limit: while bulk traffic alone fills the windows, a reply
waits for nothing but its own chat's limit. `Pacer` keeps the budget of one instance in memory;
`core.shared_budget` keeps the same windows in Redis for several instances.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from bisect import bisect_left, bisect_right, insort
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from core.clock import Clock

log = logging.getLogger(__name__)

BULK_SHARE = 0.96
"""The largest share of the overall rate that bulk sends may take, together; they are also
spaced evenly at that rate, so no burst reaches a platform that counts over a window of its
own (a burst of a second's worth, bunched by the network, reads as more than the limit).
With windows `TOLERANCE` longer, 0.96 keeps bulk at 0.94 of a scaled limit (0.95 gave 0.93)."""
TOLERANCE = timedelta(milliseconds=20)
"""How late after its send time a sender may still send. The budget's windows are this much
longer than the platform's, so sends that go within it of their times keep the limits."""


@dataclass(frozen=True)
class Limit:
    """At most `count` sends in any window of length `per`."""

    count: int
    per: timedelta


@dataclass(frozen=True)
class Limits:
    """A platform's limits: for the whole bot, per private chat and per group."""

    overall: Limit
    private_chat: Limit
    group: Limit


@dataclass(frozen=True)
class Windows:
    """The windows a budget keeps for `Limits`: each `TOLERANCE` longer than the platform's,
    and the bulk share with its even spacing."""

    overall: Limit
    private_chat: Limit
    group: Limit
    bulk: Limit
    spacing: Limit

    @classmethod
    def of(cls, limits: Limits) -> Windows:
        """The windows that keep `limits` at the platform for sends within `TOLERANCE`."""

        def longer(limit: Limit) -> Limit:
            return Limit(limit.count, limit.per + TOLERANCE)

        overall = longer(limits.overall)
        bulk_count = max(1, int(limits.overall.count * BULK_SHARE))
        return cls(
            overall=overall,
            private_chat=longer(limits.private_chat),
            group=longer(limits.group),
            bulk=Limit(bulk_count, overall.per),
            spacing=Limit(1, overall.per / bulk_count),
        )


TELEGRAM_LIMITS = Limits(
    overall=Limit(30, timedelta(seconds=1)),
    private_chat=Limit(1, timedelta(seconds=1)),
    group=Limit(20, timedelta(minutes=1)),
)
# Discord publishes only the global 50 requests/s; the per-channel values are conservative
# defaults. The worker must still honour Discord's own bucket headers and retry_after (through
# `Pacer.penalise`), since the real per-route buckets are only known from the responses.
DISCORD_LIMITS = Limits(
    overall=Limit(50, timedelta(seconds=1)),
    private_chat=Limit(5, timedelta(seconds=5)),
    group=Limit(5, timedelta(seconds=5)),
)


class Budget(Protocol):
    """The send times of one platform's bot, under its limits, for everyone who sends."""

    async def take(self, chat_key: str, *, group: bool, bulk: bool) -> timedelta:
        """How long to wait before sending to `chat_key`; the send is counted at that moment."""
        ...

    async def hold_off(self, chat_key: str | None, retry_after: timedelta) -> None:
        """After a 429: nothing to `chat_key` (None: to anyone) before now + `retry_after`."""
        ...


class _Window:
    """The reserved send times under one limit, sorted; those older than `per` are dropped."""

    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self.times: list[datetime] = []

    def forget(self, now: datetime) -> None:
        """Drop the times that no window containing `now` or later can hold."""
        del self.times[: bisect_right(self.times, now - self.limit.per)]

    def earliest(self, t: datetime) -> datetime:
        """The first moment from `t` on that one more send fits in every window.

        A send at `t` is refused exactly when some run of `count` consecutive reserved times
        spans less than `per` and, with `t`, still would: `last - per < t < first + per`.
        Both bounds grow with the run, so the runs starting before `t` are checked from the
        latest back, and `t` jumps past the end of the latest one that refuses it.
        """
        count, per, times = self.limit.count, self.limit.per, self.times
        while True:
            run = bisect_left(times, t + per) - count  # the latest run whose last time < t + per
            while run >= 0 and times[run] + per > t:
                if times[run + count - 1] - times[run] < per:
                    break
                run -= 1
            else:
                return t
            t = times[run] + per

    def add(self, t: datetime) -> None:
        insort(self.times, t)


class Pacer:
    """Reserves send times for one platform's bot under its `Limits`, in this process."""

    def __init__(self, limits: Limits, clock: Clock) -> None:
        self._limits = Windows.of(limits)
        self._clock = clock
        self._overall = _Window(self._limits.overall)
        self._bulk = _Window(self._limits.bulk)
        self._spacing = _Window(self._limits.spacing)
        self._chats: dict[str, _Window] = {}
        self._chat_blocks: dict[str, datetime] = {}
        self._blocked_until = clock.now()
        self._expiries: list[tuple[datetime, str]] = []  # (when a chat may become idle, chat)

    def __len__(self) -> int:
        """How many chats are remembered (those with a reservation or penalty still running)."""
        return len(self._chats.keys() | self._chat_blocks.keys())

    def reserve(self, chat_key: str, *, group: bool, bulk: bool) -> timedelta:
        """How long to wait before sending to `chat_key`; the send is counted at that moment."""
        now = self._clock.now()
        self._forget(now)
        chat = self._chats.get(chat_key)
        if chat is None:
            chat = self._chats[chat_key] = _Window(
                self._limits.group if group else self._limits.private_chat
            )
        windows = [self._overall, chat]
        if bulk:
            windows += [self._bulk, self._spacing]
        t = max(now, self._blocked_until, self._chat_blocks.get(chat_key, now))
        while True:
            later = t
            for window in windows:
                later = window.earliest(later)
            if later == t:
                break
            t = later
        for window in windows:
            window.add(t)
        heapq.heappush(self._expiries, (t + chat.limit.per, chat_key))
        return t - now

    async def take(self, chat_key: str, *, group: bool, bulk: bool) -> timedelta:
        """`reserve`, as a `Budget`."""
        return self.reserve(chat_key, group=group, bulk=bulk)

    async def hold_off(self, chat_key: str | None, retry_after: timedelta) -> None:
        """`penalise`, as a `Budget`."""
        self.penalise(chat_key, retry_after)

    def penalise(self, chat_key: str | None, retry_after: timedelta) -> None:
        """After a 429: nothing to `chat_key` (None: to anyone) before now + `retry_after`.

        Only later reservations wait; the worker should therefore reserve just before each send.
        """
        until = self._clock.now() + retry_after
        if chat_key is None:
            self._blocked_until = max(self._blocked_until, until)
            return
        self._chat_blocks[chat_key] = max(self._chat_blocks.get(chat_key, until), until)
        heapq.heappush(self._expiries, (until, chat_key))

    def _forget(self, now: datetime) -> None:
        """Drop times that no longer count, and the chats left with neither times nor penalty."""
        self._overall.forget(now)
        self._bulk.forget(now)
        self._spacing.forget(now)
        while self._expiries and self._expiries[0][0] <= now:
            _, chat_key = heapq.heappop(self._expiries)
            chat = self._chats.get(chat_key)
            if chat is not None:
                chat.forget(now)
                if chat.times:
                    continue
            if self._chat_blocks.get(chat_key, now) <= now:
                self._chats.pop(chat_key, None)
                self._chat_blocks.pop(chat_key, None)


async def _sleep(seconds: float) -> bool:
    await asyncio.sleep(seconds)
    return False


async def wait_for_send_time(
    budget: Budget,
    chat_key: str,
    *,
    group: bool,
    bulk: bool,
    clock: Clock,
    pause: Callable[[float], Awaitable[bool]] = _sleep,
    latest: datetime | None = None,
) -> bool:
    """Take a send time for `chat_key` from `budget` and `pause` until it; True when it is
    time to send, False when `pause` says to stop or the send time falls after `latest`.

    A sender woken more than `TOLERANCE` after its send time (a busy CPU, a stalled loop) takes
    another: sent now, it would reach the platform together with sends counted after it. The
    missed time stays counted, which costs throughput only while the senders are late.
    """
    while True:
        asked = clock.now()
        wait = await budget.take(chat_key, group=group, bulk=bulk)
        due = asked + wait
        if latest is not None and due > latest:
            return False
        if await pause(wait.total_seconds()):
            return False
        late = clock.now() - due
        if late <= TOLERANCE:
            return True
        log.debug("woke %.3f s after the send time: taking another", late.total_seconds())
