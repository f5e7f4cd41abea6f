"""The platforms' rate limits shared by several instances, in Redis.

The same sliding windows as `core.pacing.Pacer` (`core.pacing.Windows`: overall, bulk share and
spacing, per chat, each `TOLERANCE` longer than the platform's),
kept as sorted sets of reserved send times. One Lua script finds the earliest moment that fits
every window and reserves it, atomically, on Redis's own clock: the instances' budgets add up
to the platform's limits whatever their number, and no two instances need agree on the time.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis

from core.identity import Platform
from core.pacing import DISCORD_LIMITS, TELEGRAM_LIMITS, Budget, Limits, Windows
from core.settings import Settings

_MICRO = 1_000_000

_RESERVE = """
local t_ = redis.call('TIME')
local now = tonumber(t_[1]) * 1000000 + tonumber(t_[2])
local n = tonumber(ARGV[1])
local function earliest(times, count, per, t)
  while true do
    local below = 0
    for i = 1, #times do
      if times[i] < t + per then below = i else break end
    end
    local run = below - count + 1
    local refused = nil
    while run >= 1 and times[run] + per > t do
      if times[run + count - 1] - times[run] < per then refused = run break end
      run = run - 1
    end
    if refused == nil then return t end
    t = times[refused] + per
  end
end
local t = now
for _, block in ipairs({KEYS[n + 1], KEYS[n + 2]}) do
  local until_ = tonumber(redis.call('GET', block) or '0')
  if until_ > t then t = until_ end
end
local windows = {}
for i = 1, n do
  local count, per = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - per)
  local times = {}
  for j, v in ipairs(redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', '+inf', 'WITHSCORES')) do
    if j % 2 == 0 then times[#times + 1] = tonumber(v) end
  end
  windows[i] = {times, count, per}
end
while true do
  local later = t
  for i = 1, n do
    later = earliest(windows[i][1], windows[i][2], windows[i][3], later)
  end
  if later == t then break end
  t = later
end
local seq = redis.call('INCR', KEYS[n + 3])
for i = 1, n do
  redis.call('ZADD', KEYS[i], t, t .. ':' .. seq)
  redis.call('PEXPIREAT', KEYS[i], math.floor((t + windows[i][3]) / 1000) + 1000)
end
return t - now
"""

_HOLD_OFF = """
local t_ = redis.call('TIME')
local now = tonumber(t_[1]) * 1000000 + tonumber(t_[2])
local until_ = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > current then
  redis.call('SET', KEYS[1], until_, 'PXAT', math.floor(until_ / 1000) + 1000)
end
return 0
"""


class RedisBudget:
    """A platform's `Budget` (its `Limits`) in Redis, shared by every instance that uses the
    same `prefix`."""

    def __init__(self, redis: Redis, prefix: str, limits: Limits) -> None:
        self._redis = redis
        self._prefix = prefix
        self._limits = Windows.of(limits)
        self._reserve: Any = redis.register_script(_RESERVE)
        self._hold: Any = redis.register_script(_HOLD_OFF)

    async def take(self, chat_key: str, *, group: bool, bulk: bool) -> timedelta:
        """How long to wait before sending to `chat_key`; the send is counted at that moment,
        by every instance."""
        p = self._prefix
        windows = [
            (f"{p}:overall", self._limits.overall),
            (f"{p}:chat:{chat_key}", self._limits.group if group else self._limits.private_chat),
        ]
        if bulk:
            windows += [(f"{p}:bulk", self._limits.bulk), (f"{p}:spacing", self._limits.spacing)]
        keys = [key for key, _ in windows] + [f"{p}:blocked", f"{p}:block:{chat_key}", f"{p}:seq"]
        args: list[int] = [len(windows)]
        for _, limit in windows:
            args += [limit.count, _micros(limit.per)]
        wait = int(await self._reserve(keys=keys, args=args))
        return timedelta(microseconds=wait)

    async def hold_off(self, chat_key: str | None, retry_after: timedelta) -> None:
        """After a 429: nothing to `chat_key` (None: to anyone) before now + `retry_after`,
        from any instance."""
        key = f"{self._prefix}:blocked" if chat_key is None else f"{self._prefix}:block:{chat_key}"
        await self._hold(keys=[key], args=[_micros(retry_after)])


def _micros(delta: timedelta) -> int:
    return int(delta.total_seconds() * _MICRO)


def shared_budgets(redis: Redis, settings: Settings) -> dict[Platform, Budget]:
    """A budget per configured platform in `redis`, shared by every instance of the same bot
    (token) on the same database; other bots and deployments keep keys of their own."""
    budgets: dict[Platform, Budget] = {}
    for platform, token, limits in (
        (Platform.TELEGRAM, settings.telegram_token, TELEGRAM_LIMITS),
        (Platform.DISCORD, settings.discord_token, DISCORD_LIMITS),
    ):
        if token is None:
            continue
        who = f"{platform.value}:{token.get_secret_value()}:{settings.database_url}"
        namespace = hashlib.sha256(who.encode()).hexdigest()[:16]
        budgets[platform] = RedisBudget(redis, f"koom:rate:{namespace}", limits)
    return budgets
