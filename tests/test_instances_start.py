"""Several instances on one database: two starting at once on an empty database both come up
(the schema upgrade is serialised), and each periodic sweep runs once per tick across them."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.app import open_services
from core.clock import FakeClock
from core.db import database
from core.db.migrate import current_revision, head_revision
from core.scheduler import claim_tick
from core.services import Services
from core.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.instances import fresh_database

BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])


@pytest.fixture(params=BACKENDS)
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database of this test's own (a fresh PostgreSQL database)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'koom.db'}"
        return
    assert POSTGRES_URL is not None
    async with fresh_database(POSTGRES_URL) as url:
        yield url


async def test_two_instances_starting_at_once_on_an_empty_database_both_come_up(
    empty_url: str,
) -> None:
    settings = Settings(_env_file=None, DATABASE_URL=empty_url)
    first, second = await asyncio.gather(open_services(settings), open_services(settings))
    try:
        for services in (first, second):
            assert await current_revision(services.db) == head_revision()
    finally:
        await first.db.dispose()
        await second.db.dispose()


async def test_a_sqlite_upgrade_waits_for_another_process_past_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 100)
    path = tmp_path / "koom.db"
    other = sqlite3.connect(path, isolation_level=None)  # another instance, upgrading
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("BEGIN IMMEDIATE")
    starting = asyncio.create_task(
        open_services(Settings(_env_file=None, DATABASE_URL=f"sqlite+aiosqlite:///{path}"))
    )
    await asyncio.sleep(1.0)  # ten busy timeouts: it still waits instead of failing
    assert not starting.done()
    other.execute("ROLLBACK")
    other.close()
    services = await starting
    try:
        assert await current_revision(services.db) == head_revision()
    finally:
        await services.db.dispose()


async def test_a_sweep_runs_once_per_tick_across_instances(
    services: Services, clock: FakeClock
) -> None:
    every = timedelta(seconds=10)

    async def tick(instance: str) -> bool:
        return await services.db.transaction(claim_tick, "sweep", clock.now(), every, instance)

    # Five instances ticking at the same moment: one runs the sweep.
    assert sorted(await asyncio.gather(*(tick(f"i{n}") for n in range(5)))) == [False] * 4 + [True]
    clock.advance(timedelta(seconds=0.5))
    assert not await tick("b")  # b's tick, half a second after a's: already run
    clock.advance(timedelta(seconds=9.5))
    assert await tick("a") and not await tick("b")
    clock.advance(timedelta(seconds=10.5))  # a stopped: b's next tick runs it
    assert await tick("b")
