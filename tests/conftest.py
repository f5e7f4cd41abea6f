"""Shared fixtures: a migrated database (SQLite, and PostgreSQL when configured), a fake clock
and the services over them."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.clock import FakeClock
from core.db.database import Database
from core.db.migrate import upgrade
from core.services import Services
from core.settings import Settings

POSTGRES_URL = os.environ.get("KOOM_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])


def pytest_configure(config: pytest.Config) -> None:
    if POSTGRES_URL:
        import asyncio

        import asyncpg

        async def ping() -> None:
            dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
            conn = await asyncpg.connect(dsn, timeout=5)
            await conn.close()

        try:
            asyncio.run(ping())
        except Exception as exc:  # the variable is set: an unreachable server is a failure
            raise pytest.UsageError(
                f"KOOM_TEST_POSTGRES_URL is set but unreachable: {exc}"
            ) from exc


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A freshly migrated database, on each configured backend."""
    if request.param == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'koom.db'}")
        await upgrade(database)
        yield database
        await database.dispose()
        return
    assert POSTGRES_URL is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = Database(POSTGRES_URL)
    async with admin.write() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    database = Database(POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})
    try:
        await upgrade(database)
        yield database
    finally:
        await database.dispose()
        async with admin.write() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.dispose()


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    """A migrated PostgreSQL schema of the test's own, for several instances to share
    (each opens its own `Database` on it); skipped without KOOM_TEST_POSTGRES_URL."""
    if POSTGRES_URL is None:
        pytest.skip("KOOM_TEST_POSTGRES_URL is not set")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = Database(POSTGRES_URL)
    async with admin.write() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    database = Database(POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})
    try:
        await upgrade(database)
        await database.dispose()
        yield schema
    finally:
        async with admin.write() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.dispose()


@pytest.fixture
def clock() -> FakeClock:
    """A clock set to a fixed moment, moved by tests."""
    return FakeClock(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))


@pytest.fixture
def settings(db: Database) -> Settings:
    """Settings for tests: no tokens, one organiser per platform."""
    return Settings(
        _env_file=None,
        DATABASE_URL=db.url,
        KOOM_ORGANISERS="console:orga,telegram:999,discord:888",
        KOOM_DEFAULT_LOCALE="fr",
    )


@pytest.fixture
def services(db: Database, settings: Settings, clock: FakeClock) -> Services:
    """Every service over the test database and the fake clock."""
    return Services(db=db, settings=settings, clock=clock)
