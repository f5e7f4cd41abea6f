"""How the Discord adapter's replies share the platform's limits with the delivery worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import discord

from core.clock import SystemClock
from core.identity import Platform
from core.metrics import RATE_LIMITED
from core.pacing import Budget, wait_for_send_time

log = logging.getLogger(__name__)
CLOCK = SystemClock()
T = TypeVar("T")

REPLY_DEADLINE = 60.0
"""Seconds a reply keeps being tried after 429s before it is given up (and apologised for)."""


def retry_after(error: discord.HTTPException) -> timedelta | None:
    """The wait a 429 asks for (discord.py waits out those it can; this is one it gave up on)."""
    if error.status != 429:
        return None
    try:
        return timedelta(seconds=float(error.response.headers.get("Retry-After", "")))
    except ValueError:
        return None


async def send_reply(
    budget: Budget,
    chat_key: str,
    send: Callable[[], Awaitable[T]],
    *,
    deadline: float = REPLY_DEADLINE,
) -> T:
    """`send` one request of a reply to someone, in `chat_key`, as the budget allows.

    The reply takes its send time from the budget just before it goes, so it is counted when it
    is actually sent, and as a reply: bulk sends keep only part of the rate and give way to it.
    A 429 that discord.py gave up on (or, past its own patience, `RateLimited`) is told to the
    budget and waited out, and the request tried again until `deadline` seconds have passed;
    any other error, or a 429 past the deadline, is raised.
    """
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline
    while True:
        await wait_for_send_time(budget, chat_key, group=False, bulk=False, clock=CLOCK)
        try:
            return await send()
        except discord.RateLimited as error:
            delay, everyone = timedelta(seconds=error.retry_after), False
            if loop.time() + delay.total_seconds() > give_up:
                raise
        except discord.HTTPException as error:
            asked = retry_after(error)
            if asked is None or loop.time() + asked.total_seconds() > give_up:
                raise
            delay = asked
            everyone = error.response.headers.get("X-RateLimit-Global") == "true"
        RATE_LIMITED.labels(Platform.DISCORD.value).inc()
        log.info("Discord asked to wait %.1f s before a reply: waiting", delay.total_seconds())
        await budget.hold_off(None if everyone else chat_key, delay)
