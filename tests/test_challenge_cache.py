"""Challenges kept in memory stay right: the database draws a challenge's revision again at
every change but its counters', whoever writes (another instance, a hand-written UPDATE), and a
cached challenge is used only at the revision it was read with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.engine import Connection

from core.db.database import Database
from core.db.tables import challenges, tiers
from core.models import ChallengeStatus, Frequency
from core.services import Services
from core.services.challenges import load_challenge
from tests.factories import open_challenge

COUNTERS = {"pledge_count", "checkin_count", "area_version"}


@pytest.fixture
async def other(db: Database) -> AsyncIterator[Database]:
    """A second instance's connection to the same database, writing by hand."""
    second = Database(db.url, **db.engine_options)
    yield second
    await second.dispose()


async def revision_of(db: Database, challenge_id: int) -> int:
    async with db.read() as conn:
        found = await conn.execute(
            select(challenges.c.revision).where(challenges.c.id == challenge_id)
        )
        return int(found.scalar_one())


async def test_every_column_but_the_counters_draws_a_new_revision(
    services: Services, other: Database
) -> None:
    challenge = await open_challenge(services)
    kept = {c.name for c in challenges.columns} - COUNTERS - {"id", "revision"}
    for name in sorted(kept):
        before = await revision_of(services.db, challenge.id)
        async with other.write() as conn:  # the same value: being written is enough
            same = text(f"UPDATE challenges SET {name} = {name} WHERE id = :id")
            await conn.execute(same, {"id": challenge.id})
        assert await revision_of(services.db, challenge.id) != before, name
    for name in sorted(COUNTERS):
        before = await revision_of(services.db, challenge.id)
        async with other.write() as conn:
            column = challenges.c[name]
            await conn.execute(
                update(challenges)
                .where(challenges.c.id == challenge.id)
                .values({column: column + 1})
            )
        assert await revision_of(services.db, challenge.id) == before, name


async def test_a_second_instances_changes_are_seen(services: Services, other: Database) -> None:
    challenge = await open_challenge(services)
    first = await services.challenges.get(challenge.id)  # now in memory
    assert first.title == "Challenge tri-lyon" and first.pledge_count == 0
    async with other.write() as conn:
        await conn.execute(
            update(challenges)
            .where(challenges.c.id == challenge.id)
            .values(title="Nouveau titre", pledge_count=3)
        )
    seen = await services.challenges.get(challenge.id)
    assert (seen.title, seen.pledge_count) == ("Nouveau titre", 3)

    async with other.write() as conn:  # a counter alone: the cached texts, the new count
        await conn.execute(
            update(challenges).where(challenges.c.id == challenge.id).values(pledge_count=5)
        )
    counted = await services.challenges.get(challenge.id)
    assert (counted.title, counted.pledge_count) == ("Nouveau titre", 5)

    async with other.write() as conn:  # a tier unlocked, then one added
        await conn.execute(
            update(tiers).where(tiers.c.challenge_id == challenge.id).values(reward="Un arbre")
        )
        await conn.execute(
            insert(tiers).values(challenge_id=challenge.id, threshold=6, sponsor="B", reward="R")
        )
    tiered = await services.challenges.get(challenge.id)
    assert [(t.threshold, t.reward) for t in tiered.tiers] == [(4, "Un arbre"), (6, "R")]

    async with other.write() as conn:
        await conn.execute(delete(tiers).where(tiers.c.threshold == 6))
    assert [t.threshold for t in (await services.challenges.get(challenge.id)).tiers] == [4]


async def test_a_change_rolled_back_leaves_nothing_in_memory(services: Services) -> None:
    challenge = await open_challenge(services)

    def edit_then_fail(conn: Connection) -> None:
        conn.execute(
            update(challenges).where(challenges.c.id == challenge.id).values(title="Jamais")
        )
        assert load_challenge(conn, challenge.id).title == "Jamais"
        raise RuntimeError("the unit fails after reading its own change")

    with pytest.raises(RuntimeError):
        await services.db.transaction(edit_then_fail)
    assert (await services.challenges.get(challenge.id)).title == "Challenge tri-lyon"


async def test_a_challenge_deleted_and_created_again_under_its_id_is_read_anew(
    services: Services, other: Database
) -> None:
    challenge = await open_challenge(services, slug="ancien")
    assert (await services.challenges.get(challenge.id)).slug == "ancien"
    now = services.clock.now()
    async with other.write() as conn:
        await conn.execute(delete(challenges).where(challenges.c.id == challenge.id))
        await conn.execute(
            insert(challenges).values(
                id=challenge.id,
                slug="nouveau",
                title="Nouveau",
                action="agir",
                goal=5,
                starts_at=now,
                deadline=now + timedelta(days=10),
                status=ChallengeStatus.OPEN.value,
                frequency=Frequency.DAILY.value,
                created_at=now,
                updated_at=now,
            )
        )
    again = await services.challenges.get(challenge.id)
    assert (again.slug, again.title, again.tiers) == ("nouveau", "Nouveau", ())
