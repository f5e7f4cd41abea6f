"""The rate budget shared by several instances in Redis: the platform's limits hold in total.

Needs the Redis server named by KOOM_TEST_REDIS_URL (`.ci/run` sets it); skipped without.
Each test uses keys of its own, dropped at the end."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from core.pacing import TELEGRAM_LIMITS, TOLERANCE
from core.shared_budget import RedisBudget

REDIS_URL = os.environ.get("KOOM_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="KOOM_TEST_REDIS_URL is not set")
SECOND = 1_000_000
WINDOW = SECOND + TOLERANCE // timedelta(microseconds=1)
"""A second in the books: TOLERANCE longer, as in `core.pacing.Pacer`."""


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own."""
    assert REDIS_URL is not None
    prefix = f"koom-test:{uuid.uuid4().hex[:12]}"
    yield prefix
    redis = Redis.from_url(REDIS_URL)
    keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


def busiest(times: list[float], per: float) -> int:
    """The most times in any half-open window of length `per`."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - per:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_three_instances_together_keep_one_platforms_limits(prefix: str) -> None:
    assert REDIS_URL is not None
    clients = [Redis.from_url(REDIS_URL) for _ in range(3)]  # one per instance
    budgets = [RedisBudget(c, prefix, TELEGRAM_LIMITS) for c in clients]
    try:

        async def instance(i: int, budget: RedisBudget) -> list[timedelta]:
            waits = []
            for n in range(40):
                waits.append(await budget.take(f"m-{i}-{n}", group=False, bulk=True))
                if n % 4 == 0:  # someone talks to the bot meanwhile
                    waits.append(await budget.take(f"talker-{i}", group=False, bulk=False))
            return waits

        await asyncio.gather(*(instance(i, b) for i, b in enumerate(budgets)))
        # A group's 20 a minute across instances.
        group_waits = [await budgets[i % 3].take("-100", group=True, bulk=True) for i in range(21)]

        redis = clients[0]
        overall = [s for _, s in await redis.zrange(f"{prefix}:overall", 0, -1, withscores=True)]
        bulk = [s for _, s in await redis.zrange(f"{prefix}:bulk", 0, -1, withscores=True)]
        talker = [
            s for _, s in await redis.zrange(f"{prefix}:chat:talker-0", 0, -1, withscores=True)
        ]
    finally:
        for c in clients:
            await c.aclose()
    assert len(overall) == 3 * 40 + 3 * 10 + 21
    assert busiest(overall, WINDOW) <= 30
    assert busiest(bulk, WINDOW) <= 28  # bulk leaves room for replies
    assert len(talker) == 10 and busiest(talker, WINDOW) == 1  # 1 a second in one chat
    assert group_waits[-1] >= timedelta(seconds=55)  # the 21st waits for the minute


async def test_a_429_holds_off_every_instance(prefix: str) -> None:
    assert REDIS_URL is not None
    one, two = Redis.from_url(REDIS_URL), Redis.from_url(REDIS_URL)
    try:
        first, second = (RedisBudget(c, prefix, TELEGRAM_LIMITS) for c in (one, two))
        await first.hold_off("alice", timedelta(seconds=5))
        assert await second.take("alice", group=False, bulk=False) >= timedelta(seconds=4.9)
        assert await second.take("bob", group=False, bulk=False) < timedelta(seconds=0.1)
        await second.hold_off(None, timedelta(seconds=3))
        assert await first.take("carol", group=False, bulk=True) >= timedelta(seconds=2.9)
    finally:
        await one.aclose()
        await two.aclose()
