"""What a conversation turn costs the database, counted (not timed): a button press reads
in few read transactions and writes in few units (the turn's own writes in one)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection

from conversations.testing import ChatHarness
from core.services import Services
from tests.factories import open_challenge


@dataclass
class Counts:
    """Read transactions, the statements run in them, and the units handed to the writer."""

    reads: int = 0
    statements: int = 0
    units: list[str] = field(default_factory=list)


@contextmanager
def counted(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[Counts]:
    counts = Counts()
    db = services.db
    read, transaction = db.read, db.transaction
    reading: list[AsyncConnection] = []

    @asynccontextmanager
    async def counting_read() -> AsyncIterator[AsyncConnection]:
        counts.reads += 1
        async with read() as conn:
            reading.append(conn)
            try:
                yield conn
            finally:
                reading.remove(conn)

    def on_execute(conn: Any, *_args: Any) -> None:
        if any(r.sync_connection is conn for r in reading):
            counts.statements += 1

    async def counting_transaction(unit: Any, *args: Any, **kwargs: Any) -> Any:
        counts.units.append(getattr(unit, "__name__", repr(unit)))
        return await transaction(unit, *args, **kwargs)

    engine = db.engine.sync_engine
    event.listen(engine, "before_execute", on_execute)
    monkeypatch.setattr(db, "read", counting_read)
    monkeypatch.setattr(db, "transaction", counting_transaction)
    try:
        yield counts
    finally:
        event.remove(engine, "before_execute", on_execute)
        monkeypatch.undo()


async def test_a_button_press_reads_in_few_statements(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await open_challenge(services)
    chat = ChatHarness(services)
    await chat.command("/start")
    await chat.press("Français")
    await chat.command("/challenge tri-lyon")
    with counted(services, monkeypatch) as opening:
        await chat.press("Je m'engage")
    with counted(services, monkeypatch) as confirming:
        await chat.press("Oui, je m'engage")
    assert "Merci" in chat.last_texts()[0]
    # Opening: the member with the session (one statement), the challenge and its card; one
    # state saved.
    assert 0 < opening.reads <= 3 and opening.statements <= 4, opening
    assert opening.units == ["_save"]
    # Confirming: the member with the session, the challenge and whether the member may see
    # it; the pledge, then the turn's writes (its reminder, the latest announcement, the
    # state) as one unit.
    assert 0 < confirming.reads <= 4 and confirming.statements <= 6, confirming
    assert confirming.units == ["pledge_many", "_save"], confirming
