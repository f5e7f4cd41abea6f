"""Two `koom run` processes on one PostgreSQL database (sharing the platform's limits in Redis)
send a broadcast through the fake Telegram Bot API, or the fake Discord (each process running
one of its two shards); one is killed with SIGKILL half way. The other takes over the dead
one's leases once they run out: every member gets the message, the only repeats allowed are
the sends that the killed one had in flight (sent, not yet marked), and the platform's limits
(unscaled) are kept by both together.

Needs KOOM_TEST_POSTGRES_URL and KOOM_TEST_REDIS_URL; skipped without."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.db.database import Database
from core.db.migrate import upgrade
from core.services import Services
from core.services.broadcasts import Audience
from core.settings import Settings
from tests import fake_discord, fake_telegram
from tests.conftest import POSTGRES_URL
from tests.factories import add_members, open_challenge
from tests.fake_discord import FakeDiscord
from tests.fake_telegram import FakeTelegram, Person
from tests.instances import (
    REDIS_URL,
    fresh_database,
    kill,
    koom_env,
    koom_run,
    needs_postgres_and_redis,
    statuses,
    stop_all,
    until,
    until_sent,
)

pytestmark = needs_postgres_and_redis
MEMBERS = 300
FIRST_ID = 40_000
LEASE = 5
"""KOOM_DELIVERY_LEASE_SECONDS of both instances: how long the dead one's claims wait."""
TEXT = "Repair café samedi : apportez vos objets cassés, on les répare ensemble."
WITHIN = 180.0
"""Seconds allowed to each phase (never a measure of speed: on a loaded 2-core machine two
instances have been seen sending at 6 messages/s)."""


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database of the test's own (its URL), dropped at the end."""
    assert POSTGRES_URL is not None
    async with fresh_database(POSTGRES_URL) as url:
        yield url


@dataclass
class Connected:
    """The fake a platform's instances talk to, and what each instance is told of it."""

    fake: Any
    token: str
    settings: list[dict[str, str]]
    """Per instance."""
    received: Callable[[set[int]], dict[int, int]]
    """Messages each member got."""


async def telegram(people: list[Person]) -> Connected:
    fake = FakeTelegram()
    await fake.start()
    fake.enforce_limits()  # Telegram's real limits, for both instances together
    fake.know(*people)
    where = {"TELEGRAM_TOKEN": fake_telegram.TOKEN, "TELEGRAM_BASE_URL": fake.base_url}
    return Connected(fake, fake_telegram.TOKEN, [where, where], fake.received)


async def discord(people: list[Person]) -> Connected:
    fake = FakeDiscord()
    await fake.start()
    fake.enforce_limits()  # Discord's real limits, for both instances together
    where = {
        "DISCORD_TOKEN": fake_discord.TOKEN,
        "DISCORD_API_BASE_URL": fake.api_url,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
    }
    shards = [where | {"KOOM_DISCORD_SHARDS": f"{n}/2"} for n in range(2)]

    def received(ids: set[int]) -> dict[int, int]:
        return {user: len(texts) for user, texts in fake.received(ids).items()}

    return Connected(fake, fake_discord.TOKEN, shards, received)


@pytest.mark.slow
@pytest.mark.parametrize("connect", [telegram, discord], ids=["telegram", "discord"])
async def test_one_of_two_instances_killed_mid_broadcast_its_leases_are_taken_over(
    database_url: str, tmp_path: Path, connect: Callable[[list[Person]], Any]
) -> None:
    assert REDIS_URL is not None
    people = [Person(FIRST_ID + i, f"Member {i}", "fr") for i in range(MEMBERS)]
    ids = {p.id for p in people}
    platform: Connected = await connect(people)
    fake = platform.fake
    db = Database(database_url)
    await upgrade(db)
    services = Services(db=db, settings=Settings(_env_file=None, DATABASE_URL=database_url))
    challenge = await open_challenge(services, slug="repair-cafe")
    await add_members(db, people, connect.__name__)
    draft = await services.broadcasts.create(None, {Audience.MEMBERS}, TEXT, challenge.id)
    broadcast = await services.broadcasts.confirm(draft.id)  # a sweep launches it
    lease = {"KOOM_REDIS_URL": REDIS_URL, "KOOM_DELIVERY_LEASE_SECONDS": str(LEASE)}

    def received() -> set[int]:
        return set(platform.received(ids))

    logs = [tmp_path / "one.log", tmp_path / "two.log"]
    children = []
    try:
        for path, settings in zip(logs, platform.settings, strict=True):
            with path.open("wb") as log:
                env = koom_env(database_url, **lease, **settings)
                children.append(await koom_run(env, tmp_path, log))
        victim, survivor = children

        async def half_way() -> bool:
            return len(received()) >= MEMBERS // 2

        await until(half_way, WITHIN)
        killed_at = time.monotonic()
        in_flight = await kill(victim, db, broadcast.id, received, WITHIN, [survivor])
        await until_sent(db, broadcast.id, WITHIN)
        finished_after = time.monotonic() - killed_at
        await asyncio.sleep(1.0)  # for a late repeat to show
    finally:
        await stop_all(children, WITHIN)
        await fake.close()

    final = await statuses(db, broadcast.id)
    await db.dispose()
    counts = platform.received(ids)
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    print(
        f"{connect.__name__}: in flight at the kill {len(in_flight)}, duplicates {duplicates}, "
        f"done {finished_after:.1f} s after the kill, 429s {len(fake.refused)}"
    )
    assert set(final.values()) == {"sent"}, sorted(set(final.values()))
    assert [p.id for p in people if counts.get(p.id, 0) == 0] == []
    assert duplicates <= len(in_flight)
    assert {c for c, n in counts.items() if n > 1} <= {int(c) for c in in_flight}
    assert fake.limit_violations() == {}
    assert survivor.returncode == 0, logs[1].read_text()
    assert "Traceback" not in logs[1].read_text()
    for path in logs:
        assert platform.token not in path.read_text()
