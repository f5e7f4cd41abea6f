"""How the Telegram adapter's replies share the platform's limits with the delivery worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from core.clock import SystemClock
from core.identity import Platform
from core.metrics import RATE_LIMITED
from core.pacing import Budget, wait_for_send_time

log = logging.getLogger(__name__)
CLOCK = SystemClock()

REPLY_DEADLINE = 60.0
"""Seconds a reply keeps being tried after 429s before it is given up (and apologised for)."""
MESSAGE_ENDPOINTS = ("send", "copy", "forward")
"""Calls that Telegram counts as messages sent, hence against its flood limits."""

unthrottled: ContextVar[bool] = ContextVar("unthrottled", default=False)
"""Set while a delivery sends: the delivery worker paces those, and a 429 goes back to it."""


class RepliesFirst(BaseRateLimiter[int]):
    """Telegram's flood limits for replies, from the platform's `Budget`, which the delivery
    worker shares (and, through Redis, every instance).

    A reply takes its send time from the budget just before it goes, so it is counted when it is
    actually sent, and as a reply: bulk sends keep only 95 % of the rate and give way to it. A
    429 is waited out and the call tried again until `deadline`, instead of giving up after a few
    tries. Deliveries pass straight through: the worker paces them and waits out their 429s
    itself. Asking who administers a group (getChatMember) is no message and is never held.
    """

    def __init__(self, budget: Budget, *, deadline: float = REPLY_DEADLINE) -> None:
        self.budget = budget
        self.deadline = deadline

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        if unthrottled.get():  # a delivery: the worker counts its 429s
            return await callback(*args, **kwargs)
        if endpoint == "getChatMember":
            try:
                return await callback(*args, **kwargs)
            except RetryAfter:
                RATE_LIMITED.labels(Platform.TELEGRAM.value).inc()
                raise
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.deadline
        chat_id = data.get("chat_id")
        counted = chat_id is not None and endpoint.startswith(MESSAGE_ENDPOINTS)
        while True:
            if counted:
                chat = str(chat_id)
                group = _is_group(chat)
                await wait_for_send_time(self.budget, chat, group=group, bulk=False, clock=CLOCK)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                RATE_LIMITED.labels(Platform.TELEGRAM.value).inc()
                delay = _seconds(error.retry_after)
                if loop.time() + delay > give_up:
                    raise
                log.info("Telegram asked to wait %.1f s before %s: waiting", delay, endpoint)
                if counted:
                    await self.budget.hold_off(str(chat_id), timedelta(seconds=delay))
                else:
                    await asyncio.sleep(delay)


def _is_group(chat_id: str) -> bool:
    """Telegram's groups and channels have negative ids (or an @username)."""
    return chat_id.startswith(("-", "@"))


def _seconds(wait: float | timedelta) -> float:
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
