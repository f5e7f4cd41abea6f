"""Migrations build exactly the schema of core/db/tables.py and keep existing rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from core.db.database import Database
from core.db.migrate import alembic_config, current_revision, head_revision, upgrade
from core.db.tables import (
    area_counts,
    challenges,
    members,
    metadata,
    pledges,
    proof_pictures,
    reminders,
    tiers,
)
from core.models import NearCount
from core.services import Services
from tests.factories import member, open_challenge
from tests.test_progress_areas import people, pledge_from


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


async def _downgrade(db: Database, revision: str) -> None:
    def run(sync_conn: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = sync_conn
        command.downgrade(config, revision)

    await db.transaction(run)


async def test_pledges_reminded_before_0018_keep_the_members_rhythm(
    db: Database, services: Services
) -> None:
    """A database with reminders from before per-pledge rhythms: upgraded, its rows are kept
    and follow the member's settings (weekly on Thursday here), as before."""
    alice = await member(services, "alice", "telegram")
    await services.members.update(alice.id, reminder="weekly", reminder_weekday=3)
    challenge = await open_challenge(services)
    await services.pledges.pledge(alice.id, challenge.id)
    thursday = datetime(2026, 3, 12, 17, 0, tzinfo=UTC)
    assert await services.reminders.schedule(alice.id, challenge.id) == thursday
    await _downgrade(db, "0017")
    assert await current_revision(db) == "0017"

    await upgrade(db)

    async with db.read() as conn:
        row = (await conn.execute(select(reminders))).one()
    assert (row.member_id, row.challenge_id, row.next_due_at) == (alice.id, challenge.id, thursday)
    assert (row.rhythm, row.weekday) == (None, None)
    [(reminder_id, shown)] = (await services.reminders.of_member(alice.id)).items()
    assert reminder_id == challenge.id and not shown.own
    await services.members.update(alice.id, reminder_weekday=4)
    assert await services.reminders.due_at(alice.id, challenge.id) == thursday + timedelta(days=1)


async def test_caption_less_proof_pictures_lose_their_placeholder_text(
    services: Services,
) -> None:
    """Revision 0019: a picture proof stored with the text "📷" (no caption) keeps no text;
    a "📷" typed as the text of a proof without a picture stays."""
    challenge = await open_challenge(
        services, goal=8, tiers=((1, "Acme", "gives"), (2, "Beta", "plants"))
    )
    for name in ("p", "q"):  # both tiers reached
        await services.pledges.pledge((await member(services, name)).id, challenge.id)
    acme, beta = (tier.id for tier in challenge.tiers)
    now = services.clock.now()
    async with services.db.write() as conn:
        await conn.execute(update(tiers).values(kept_at=now, proof="📷"))
        await conn.execute(
            insert(proof_pictures).values(
                tier_id=acme, data=b"\xff\xd8", content_type="image/jpeg", created_at=now
            )
        )
    await _downgrade(services.db, "0018")
    await upgrade(services.db)
    proofs = {t.id: t.proof for t in (await services.challenges.get(challenge.id)).tiers}
    assert proofs == {acme: None, beta: "📷"}
    await _downgrade(services.db, "0018")
    async with services.db.read() as conn:  # the code of today reads no 0018 challenge
        proofs = {i: p for i, p in await conn.execute(select(tiers.c.id, tiers.c.proof))}
    assert proofs == {acme: "📷", beta: "📷"}
    await upgrade(services.db)


async def test_area_counts_from_before_0020_are_read_and_a_downgrade_keeps_them(
    services: Services,
) -> None:
    """Revision 0020: counts written before it (version 0) are read by the card, the next
    pledge's change too; going back to 0019 drops the versions in place and keeps every
    pledge and count (a SQLite batch copy of `challenges` would delete them in cascade)."""
    challenge = await open_challenge(services, goal=100)
    first = await people(services, challenge, ("Lyon", 3))
    await _downgrade(services.db, "0019")
    await upgrade(services.db)
    fresh = Services(db=services.db, settings=services.settings, clock=services.clock)
    lyon = first["Lyon"]
    assert (await fresh.progress.of(challenge.id, lyon)).near == (NearCount("Lyon", 3, True),)
    await pledge_from(services, "Lyon-3", challenge, "Lyon")
    assert (await fresh.progress.of(challenge.id, lyon)).near == (NearCount("Lyon", 4, True),)
    await _downgrade(services.db, "0019")
    async with services.db.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(pledges))).scalar() == 4
        assert (await conn.execute(select(area_counts.c.pledgers))).scalars().all() == [4]
        assert (await conn.execute(select(challenges.c.pledge_count))).scalar() == 4
