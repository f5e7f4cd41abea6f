"""Two `koom run` processes on one PostgreSQL database (sharing Telegram's limits in Redis)
send a broadcast through the fake Bot API; one is killed with SIGKILL half way. The other takes
over the dead one's leases once they run out: every member gets the message, and the only
repeats allowed are the sends that the killed one had in flight (sent, not yet marked).

Needs KOOM_TEST_POSTGRES_URL and KOOM_TEST_REDIS_URL; skipped without."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.db.database import Database
from core.db.migrate import upgrade
from core.services import Services
from core.services.broadcasts import Audience
from core.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.factories import add_telegram_members, open_challenge
from tests.fake_telegram import TOKEN, FakeTelegram, Person
from tests.test_delivery_crash_e2e import ROOT, koom_run, statuses

REDIS_URL = os.environ.get("KOOM_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(
    not (POSTGRES_URL and REDIS_URL), reason="needs KOOM_TEST_POSTGRES_URL and KOOM_TEST_REDIS_URL"
)
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
    name = f"koom_t_{uuid.uuid4().hex[:12]}"
    admin = Database(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    async with admin.engine.connect() as conn:
        await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        async with admin.engine.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.dispose()


@pytest.mark.slow
async def test_one_of_two_instances_killed_mid_broadcast_its_leases_are_taken_over(
    database_url: str, tmp_path: Path
) -> None:
    assert REDIS_URL is not None
    fake = FakeTelegram()
    await fake.start()
    fake.enforce_limits()  # Telegram's real limits, for both instances together
    db = Database(database_url)
    await upgrade(db)
    services = Services(db=db, settings=Settings(_env_file=None, DATABASE_URL=database_url))
    challenge = await open_challenge(services, slug="repair-cafe")
    people = [Person(FIRST_ID + i, f"Member {i}", "fr") for i in range(MEMBERS)]
    ids = {p.id for p in people}
    fake.know(*people)
    await add_telegram_members(db, people)
    draft = await services.broadcasts.create(None, {Audience.MEMBERS}, TEXT, challenge.id)
    broadcast = await services.broadcasts.confirm(draft.id)  # a sweep launches it

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DISCORD_"))}
    env |= {
        "TELEGRAM_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": fake.base_url,
        "DATABASE_URL": database_url,
        "KOOM_REDIS_URL": REDIS_URL,
        "KOOM_DELIVERY_LEASE_SECONDS": str(LEASE),
        "KOOM_LOAD_DEMO": "0",
        "KOOM_DEFAULT_LOCALE": "fr",
        "PYTHONPATH": str(ROOT),
    }

    def received() -> int:
        return sum(1 for send in fake.accepted if send.chat_id in ids)

    logs = [tmp_path / "one.log", tmp_path / "two.log"]
    children = []
    try:
        for path in logs:
            with path.open("wb") as log:
                children.append(await koom_run(env, tmp_path, log))
        victim, survivor = children
        await fake.wait_until(lambda: received() >= MEMBERS // 2, seconds=WITHIN)
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        await asyncio.wait_for(victim.wait(), WITHIN)
        await asyncio.sleep(0.5)  # a request already on its way still lands
        before = fake.received(ids)
        after_kill = await statuses(db, broadcast.id)
        in_flight = [c for c, s in after_kill.items() if s == "pending" and int(c) in before]
        for _ in range(int(WITHIN / 0.2)):
            if "pending" not in (await statuses(db, broadcast.id)).values():
                break
            await asyncio.sleep(0.2)
        finished_after = time.monotonic() - killed_at
        await asyncio.sleep(1.0)  # for a late repeat to show
    finally:
        for child in children:
            if child.returncode is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            await asyncio.wait_for(child.wait(), WITHIN)
        await fake.close()

    final = await statuses(db, broadcast.id)
    await db.dispose()
    counts = fake.received(ids)
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    print(
        f"in flight at the kill {len(in_flight)}, duplicates {duplicates}, "
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
        assert TOKEN not in path.read_text()
