"""Each process keeps a challenge's area counts and reads only the rows changed since
(`area_counts.version`): its cards show what a process reading every row shows, whoever
wrote the change, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select

from core.clock import FakeClock
from core.db.database import Database
from core.db.tables import area_counts
from core.models import Challenge, Member, NearCount
from core.services import Services
from core.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.factories import member, open_challenge
from tests.test_progress_areas import people, place, pledge_from


def instance(services: Services) -> Services:
    """Another process on the same database: its own engine and its own kept counts."""
    db = Database(services.db.url, **services.db.engine_options)
    return Services(db=db, settings=services.settings, clock=services.clock)


async def near(services: Services, challenge: Challenge, person: Member) -> tuple[NearCount, ...]:
    return (await services.progress.of(challenge.id, person)).near


async def test_a_card_follows_what_another_instance_writes(services: Services) -> None:
    challenge = await open_challenge(services, goal=100)
    first = await people(services, challenge, ("Lyon", 3), ("Bron", 2))
    lyon, bron = first["Lyon"], first["Bron"]
    # Bron's 2 are under the minimum: the Rhône would only repeat Lyon's 3
    assert await near(services, challenge, lyon) == (NearCount("Lyon", 3, own=True),)
    other = instance(services)
    try:
        third = await pledge_from(other, "Bron-2", challenge, "Bron")
        rhone = (NearCount("Lyon", 3, own=True), NearCount("Rhône", 6, own=False))
        assert await near(services, challenge, lyon) == rhone
        assert await near(services, challenge, bron) == (
            NearCount("Bron", 3, own=True),
            NearCount("Rhône", 6, own=False),
        )
        await other.pledges.withdraw(third.id, challenge.id)
        assert await near(services, challenge, lyon) == (NearCount("Lyon", 3, own=True),)
        # a Lyon pledger moves to Bron: Lyon 2 (under the minimum), Bron 3
        moved = await other.members.set_location(lyon.id, place("Bron"))
        await other.pledges.follow_place(lyon.id, challenge.id)
        assert await near(services, challenge, moved) == (NearCount("Bron", 3, own=True),)
        stayed = await member(services, "Lyon-1")
        assert await near(services, challenge, stayed) == (NearCount("Rhône", 3, own=False),)
        areas = [(a.label, a.count) for a in await services.progress.areas(challenge.id)]
        assert areas == [("Bron", 3)]
    finally:
        await other.db.dispose()


async def test_a_challenge_made_again_under_the_same_id_is_read_afresh(
    services: Services,
) -> None:
    """SQLite may give a deleted challenge's id to the next one: its counts start from none,
    not from what was kept of the one deleted."""
    old = await open_challenge(services, goal=100, slug="old")
    first = await people(services, old, ("Lyon", 3))
    assert await near(services, old, first["Lyon"]) == (NearCount("Lyon", 3, own=True),)
    async with services.db.write() as conn:
        await conn.exec_driver_sql("DELETE FROM challenges")
    assert isinstance(services.clock, FakeClock)
    services.clock.advance(timedelta(seconds=1))  # another creation time
    new = await open_challenge(services, goal=100, slug="new")
    if services.db.is_sqlite:
        assert new.id == old.id
    assert await near(services, new, first["Lyon"]) == ()
    assert await services.progress.areas(new.id) == []


async def test_cards_read_while_two_instances_pledge_end_as_every_row_says(
    pg_schema: str,
) -> None:
    """PostgreSQL, two instances writing batches at once (four each) while one reads cards:
    the counts it keeps end equal to the rows, and its cards to a fresh reader's."""
    assert POSTGRES_URL is not None
    clock = FakeClock(datetime.now(UTC))
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, DATABASE_URL=POSTGRES_URL, KOOM_MAP_MIN_COUNT=1
    )
    schema = {"connect_args": {"server_settings": {"search_path": pg_schema}}}
    one, two = (
        Services(db=Database(POSTGRES_URL, **schema), settings=settings, clock=clock)
        for _ in range(2)
    )
    fresh = Services(db=Database(POSTGRES_URL, **schema), settings=settings, clock=clock)
    try:
        challenge = await open_challenge(one, goal=1000)
        names = ["Lyon", "Bron", "Villeurbanne", "Vénissieux", "Caluire-et-Cuire"]
        rng = random.Random(3)
        placed = []
        for i in range(120):
            person = await member(one, f"p{i}")
            placed.append(await one.members.set_location(person.id, place(rng.choice(names))))
        readers = placed[:5]
        done = asyncio.Event()

        async def read_cards() -> None:
            while not done.is_set():
                for person in readers:
                    await one.progress.of(challenge.id, person)

        async def pledge(services: Services, people: list[Member]) -> None:
            await asyncio.gather(*(services.pledges.pledge(p.id, challenge.id) for p in people))
            for p in people[::4]:
                await services.pledges.withdraw(p.id, challenge.id)

        reading = asyncio.create_task(read_cards())
        await asyncio.gather(pledge(one, placed[::2]), pledge(two, placed[1::2]))
        done.set()
        await reading
        async with fresh.db.read() as conn:
            rows = await conn.execute(
                select(area_counts.c.label, area_counts.c.pledgers).where(
                    area_counts.c.challenge_id == challenge.id, area_counts.c.pledgers > 0
                )
            )
            stored = sorted((label, count) for label, count in rows)
        assert sum(count for _, count in stored) == 120 - 30
        kept = sorted((a.label, a.count) for a in await one.progress.areas(challenge.id))
        assert kept == stored  # every place is shown at a minimum of 1
        for person in readers:
            assert await near(one, challenge, person) == await near(fresh, challenge, person)
    finally:
        for services in (one, two, fresh):
            await services.db.dispose()


async def test_cards_asking_at_once_wait_for_one_first_read(services: Services) -> None:
    """A process reads a challenge's rows in full once, even when many cards ask at once
    (after a restart under load), not once per card."""
    challenge = await open_challenge(services, goal=100)
    first = await people(services, challenge, ("Lyon", 3), ("Bron", 3))
    other = instance(services)
    full_reads = []

    def count(_c: object, _cur: object, sql: str, params: Any, *_: object) -> None:
        values = params.values() if isinstance(params, dict) else params
        if "area_counts.version >" in sql and -1 in tuple(values):
            full_reads.append(sql)

    event.listen(other.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        cards = await asyncio.gather(
            *(near(other, challenge, first[name]) for name in ["Lyon", "Bron"] * 10)
        )
        rhone = NearCount("Rhône", 6, own=False)
        assert set(cards) == {
            (NearCount("Lyon", 3, own=True), rhone),
            (NearCount("Bron", 3, own=True), rhone),
        }
        assert len(full_reads) == 1
    finally:
        await other.db.dispose()
