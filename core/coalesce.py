"""Runs shared by the callers that ask for them together.

A caller needs a run of `work(key)` that starts after it asked (it must see what the caller
did just before). Callers asking while no run of their key has started yet share the next
one; a caller arriving while a run is under way waits for the one after it. Fifty pledges
committed together thus make one follow-up check, not fifty, and none of them returns before
a check that saw its pledge.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Coalesced(Generic[K]):
    """`await coalesced(key)` returns once a run of `work(key)` started after the call has
    finished; concurrent callers share runs. `work` must not raise (log its failures)."""

    def __init__(self, work: Callable[[K], Awaitable[None]]) -> None:
        self._work = work
        self._next: dict[K, asyncio.Future[None]] = {}  # not started yet: joinable
        self._running: dict[K, asyncio.Future[None]] = {}

    async def __call__(self, key: K) -> None:
        run = self._next.get(key)
        if run is None:
            run = asyncio.ensure_future(self._run(key, self._running.get(key)))
            self._next[key] = run
        # A caller that gives up does not cancel the run the others wait for.
        await asyncio.shield(run)

    async def _run(self, key: K, previous: asyncio.Future[None] | None) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        # Started: later callers need the next run.
        run = self._next.pop(key)
        self._running[key] = run
        try:
            await self._work(key)
        finally:
            if self._running.get(key) is run:
                del self._running[key]
