"""Runs shared by callers asking together, each caller after a run that started after it."""

from __future__ import annotations

import asyncio

from core.coalesce import Coalesced


class Recorder:
    """Work that records when each run starts and lets the test finish it."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.release = asyncio.Event()

    async def __call__(self, key: str) -> None:
        self.started.append(key)
        await self.release.wait()


async def test_callers_asking_together_share_one_run_per_key() -> None:
    work = Recorder()
    coalesced = Coalesced(work)
    callers = [asyncio.create_task(coalesced(k)) for k in ("a", "a", "a", "b")]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert work.started == ["a", "b"]
    work.release.set()
    await asyncio.gather(*callers)
    assert work.started == ["a", "b"]


async def test_a_caller_arriving_during_a_run_waits_for_the_next_one() -> None:
    work = Recorder()
    coalesced = Coalesced(work)
    first = asyncio.create_task(coalesced("a"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert work.started == ["a"]  # under way: it may have missed what later callers did
    late = [asyncio.create_task(coalesced("a")) for _ in range(3)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert work.started == ["a"] and not any(t.done() for t in late)  # not two at once
    work.release.set()
    await first
    await asyncio.gather(*late)
    assert work.started == ["a", "a"]  # one more run, shared by the three late callers


async def test_a_caller_giving_up_does_not_cancel_the_shared_run() -> None:
    work = Recorder()
    coalesced = Coalesced(work)
    leaving, staying = asyncio.create_task(coalesced("a")), asyncio.create_task(coalesced("a"))
    await asyncio.sleep(0)
    leaving.cancel()
    await asyncio.sleep(0)
    work.release.set()
    await staying
    assert work.started == ["a"] and leaving.cancelled()
