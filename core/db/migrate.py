"""Apply Alembic migrations from inside the application (start-up and `koom db upgrade`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from core.db.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_TIMEZONE = "Europe/Paris"


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
        config = alembic_config()
        config.attributes["connection"] = sync_conn
        config.attributes["default_timezone"] = default_timezone
        command.upgrade(config, revision)

    async with db.write() as conn:
        await conn.run_sync(run)


async def current_revision(db: Database) -> str | None:
    """The revision the database is at, or None for an empty database."""

    def read(sync_conn: Connection) -> str | None:
        return MigrationContext.configure(sync_conn).get_current_revision()

    async with db.read() as conn:
        return await conn.run_sync(read)


def head_revision() -> str | None:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
