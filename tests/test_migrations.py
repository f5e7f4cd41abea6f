"""Migrations build exactly the schema of core/db/tables.py and keep existing rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from core.db.database import Database
from core.db.migrate import current_revision, head_revision, upgrade
from core.db.tables import challenges, members, metadata


def _differences(sync_conn: Connection) -> list[Any]:
    context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_fresh_database_matches_the_tables(db: Database) -> None:
    async with db.read() as conn:
        assert await conn.run_sync(_differences) == []
    assert await current_revision(db) == head_revision()


async def test_upgrade_keeps_rows_and_is_idempotent(db: Database) -> None:
    now = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    async with db.write() as conn:
        member_id = (
            await conn.execute(
                insert(members)
                .values(display_name="Alice", timezone="Europe/Paris", created_at=now)
                .returning(members.c.id)
            )
        ).scalar_one()
        await conn.execute(
            insert(challenges).values(
                slug="velo",
                title="Vélo au travail",
                action="aller au travail à vélo",
                goal=100,
                starts_at=now,
                deadline=now + timedelta(days=30),
                status="open",
                frequency="daily",
                pledge_count=7,
                created_by=member_id,
                created_at=now,
                updated_at=now,
            )
        )

    await upgrade(db)
    await upgrade(db)

    assert await current_revision(db) == head_revision()
    async with db.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(members))).scalar_one() == 1
        row = (await conn.execute(select(challenges))).one()
        assert (row.slug, row.pledge_count, row.created_by) == ("velo", 7, member_id)
        assert await conn.run_sync(_differences) == []
