"""Apply Alembic migrations from inside the application (start-up and `koom db upgrade`).

Instances starting together upgrade one after the other: on PostgreSQL the upgrade holds an
advisory lock (per schema) for its transaction, so a second instance waits, then finds the
schema up to date; on SQLite the write transaction itself is the lock, and an instance that
finds it taken (past SQLite's busy timeout, e.g. on a loaded machine) tries again until
UPGRADE_WAIT has passed.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from core.db.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_TIMEZONE = "Europe/Paris"
UPGRADE_WAIT = 300.0
"""Seconds a SQLite upgrade waits for another process's upgrade to release the file."""
RETRY_EVERY = 0.25


def alembic_config() -> Config:
    """An Alembic config pointing at the shipped migrations, with no ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def upgrade(
    db: Database, revision: str = "head", *, default_timezone: str = DEFAULT_TIMEZONE
) -> None:
    """Bring the schema to `revision` (default: the newest); `default_timezone` replaces
    invalid stored time zones (revision 0008)."""

    def run(sync_conn: Connection) -> None:
        if sync_conn.dialect.name == "postgresql":
            sync_conn.exec_driver_sql(
                "SELECT pg_advisory_xact_lock(hashtext('koom-upgrade:' || current_schema()))"
            )
        config = alembic_config()
        config.attributes["connection"] = sync_conn
        config.attributes["default_timezone"] = default_timezone
        command.upgrade(config, revision)

    deadline = time.monotonic() + UPGRADE_WAIT
    while True:
        try:
            await db.transaction(run)
            return
        except Exception as exc:
            if not (db.is_sqlite and _locked(exc)) or time.monotonic() > deadline:
                raise
        await asyncio.sleep(RETRY_EVERY)


def _locked(exc: BaseException | None) -> bool:
    """Whether SQLite refused because another connection holds the write lock (the error
    itself, or one it wraps, such as a failed COMMIT)."""
    while exc is not None:
        if "database is locked" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


async def current_revision(db: Database) -> str | None:
    """The revision the database is at, or None for an empty database."""

    def read(sync_conn: Connection) -> str | None:
        return MigrationContext.configure(sync_conn).get_current_revision()

    async with db.read() as conn:
        return await conn.run_sync(read)


def head_revision() -> str | None:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
