"""The delivery worker writes the outcomes of many sends as one unit of work, after giving the
send slot back: sends go on while outcomes are written, at most UNMARKED of them unwritten at
once, and a crash before they are written repeats those sends and no other."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest

from core.clock import FakeClock
from core.delivery.worker import SEND_CONCURRENCY, UNMARKED, DeliveryWorker, Mark, write_marks
from core.identity import Platform
from core.services import Services
from core.services.broadcasts import Audience
from tests.factories import add_members, open_challenge
from tests.fake_telegram import Person
from tests.instances import statuses
from tests.test_delivery import FakeDeliverer

MEMBERS = UNMARKED + 2 * SEND_CONCURRENCY
FIRST_ID = 70_000


async def broadcast(services: Services) -> int:
    """A broadcast to MEMBERS members, launched: one delivery row each; its id."""
    challenge = await open_challenge(services)
    await add_members(services.db, [Person(FIRST_ID + i, f"M {i}", "fr") for i in range(MEMBERS)])
    draft = await services.broadcasts.create(None, {Audience.MEMBERS}, "Samedi !", challenge.id)
    await services.broadcasts.confirm(draft.id)
    await services.broadcasts.launch_due()
    return draft.id


class MarkWrites:
    """Records each write of marks through `services.db.transaction`; while `held`, a write
    waits until released (a database slow to commit)."""

    def __init__(self, services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
        self.writes: list[list[Mark]] = []
        self.open = asyncio.Event()
        self.open.set()
        real: Callable[..., Awaitable[Any]] = services.db.transaction

        async def watched(unit: Any, *args: Any, **kwargs: Any) -> Any:
            if unit is write_marks:
                await self.open.wait()
                marks: Sequence[Mark] = args[0]
                self.writes.append(list(marks))
            return await real(unit, *args, **kwargs)

        monkeypatch.setattr(services.db, "transaction", watched)

    def rows(self) -> int:
        return sum(len(ids) for marks in self.writes for ids, _ in marks)


async def until(done: Callable[[], bool], seconds: float = 20.0) -> None:
    async with asyncio.timeout(seconds):
        while not done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_sends_go_on_while_marks_are_written_together_up_to_unmarked(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    broadcast_id = await broadcast(services)
    marks = MarkWrites(services, monkeypatch)
    marks.open.clear()  # the first write of marks hangs
    telegram = FakeDeliverer(Platform.TELEGRAM)
    worker = DeliveryWorker(services, {Platform.TELEGRAM: telegram})
    running = asyncio.create_task(worker.run_once())

    # The slots are given back before the outcomes are written: far more than the 8 slots
    # are sent, but no more than UNMARKED without their outcome written.
    await until(lambda: len(telegram.calls) >= UNMARKED)
    await asyncio.sleep(0.3)
    assert len(telegram.calls) == UNMARKED and marks.writes == []

    marks.open.set()
    assert await running == MEMBERS
    assert set((await statuses(services.db, broadcast_id)).values()) == {"sent"}
    assert marks.rows() == MEMBERS
    # The outcomes known while the first write hung went in the next one, together.
    assert sum(len(ids) for marks_of in marks.writes[:2] for ids, _ in marks_of) >= UNMARKED


async def test_a_crash_before_the_marks_are_written_repeats_those_sends_only(
    services: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    broadcast_id = await broadcast(services)
    marks = MarkWrites(services, monkeypatch)
    before = FakeDeliverer(Platform.TELEGRAM)
    worker = DeliveryWorker(services, {Platform.TELEGRAM: before})
    sending = asyncio.create_task(worker.run_once())
    await until(lambda: len(marks.writes) >= 1)  # some outcomes are written
    marks.open.clear()  # then the database stalls, and the process dies
    await until(lambda: len(before.calls) - marks.rows() == UNMARKED)  # no room for more
    sending.cancel()
    assert worker._recorder is not None
    worker._recorder.cancel()
    await asyncio.gather(sending, worker._recorder, return_exceptions=True)
    written = marks.rows()
    unmarked = len(before.calls) - written
    assert 0 < unmarked <= UNMARKED

    marks.open.set()
    clock.advance(timedelta(seconds=services.settings.delivery_lease_seconds))  # leases end
    after = FakeDeliverer(Platform.TELEGRAM)
    again = DeliveryWorker(services, {Platform.TELEGRAM: after})
    while await again.run_once():
        pass

    assert set((await statuses(services.db, broadcast_id)).values()) == {"sent"}
    counts = before.chats() + after.chats()
    assert len(counts) == MEMBERS
    repeated = {chat for chat, n in counts.items() if n > 1}
    assert max(counts.values()) == 2
    assert len(repeated) == unmarked  # exactly the sends whose outcome was not written
