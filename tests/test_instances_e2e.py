"""Several instances on one PostgreSQL database, end to end: each instance is its own database
pool, real Telegram adapter (python-telegram-bot) and delivery worker, sharing Telegram's limits
through Redis, all sending to the fake Bot API of `tests/fake_telegram.py`. Limits are Telegram's
times SCALE (at the fake and in the budget alike) so that a 2,000-member broadcast takes seconds.

Needs KOOM_TEST_POSTGRES_URL and KOOM_TEST_REDIS_URL (`.ci/run` sets both); skipped without.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr

from bots.telegram.app import TelegramAdapter
from core.identity import ChatRef, Platform
from core.pacing import Budget
from core.services import Services
from core.services.broadcasts import Audience
from core.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.factories import add_members, member, open_challenge
from tests.fake_telegram import TOKEN, FakeTelegram, Person, group
from tests.fake_telegram import Limits as FakeLimits
from tests.instances import (
    Instance,
    all_sent,
    instances,
    needs_postgres_and_redis,
    on_schema,
    rows_per_chat,
    until,
)

pytestmark = needs_postgres_and_redis
SCALE = 8
"""Telegram's limits times this, at the fake and in the budget: 240 messages/s overall."""
MEMBERS = 2_000
GROUPS = 20
FIRST_ID = 300_000
TEXT = "Grande marche pour le climat samedi à 14 h, place Bellecour : venez nombreux !"
WITHIN = 120.0
"""Seconds a test waits for the broadcast to finish (never a measure of speed)."""


@dataclass
class Cluster:
    instances: list[Instance]
    fake: FakeTelegram

    @property
    def services(self) -> Services:
        return self.instances[0].services


def telegram_settings(fake: FakeTelegram, lease: int = 60) -> Settings:
    """Settings of instances that send through `fake` (with this delivery lease)."""
    assert POSTGRES_URL is not None
    return Settings(
        _env_file=None,
        DATABASE_URL=POSTGRES_URL,
        KOOM_LOAD_DEMO="0",
        KOOM_DELIVERY_LEASE_SECONDS=str(lease),
    ).model_copy(update={"telegram_token": SecretStr(TOKEN), "telegram_base_url": fake.base_url})


@asynccontextmanager
async def cluster(
    schema: str, count: int, *, lease: int = 60, chat: bool = False, **server: str
) -> AsyncIterator[Cluster]:
    """`count` instances on `schema`; with `chat`, the first also long-polls for updates.
    `server` adds PostgreSQL settings to every instance's connections."""
    fake = FakeTelegram()
    await fake.start()
    settings = telegram_settings(fake, lease)

    async def telegram(
        n: int, services: Services, budgets: Mapping[Platform, Budget]
    ) -> list[TelegramAdapter]:
        budget = budgets[Platform.TELEGRAM]
        adapter = TelegramAdapter(services, settings, webhook_listen="127.0.0.1", budget=budget)
        if chat and n == 0:
            await adapter.start()
        else:  # deliveries only: connected, not polling
            await adapter.application.initialize()
        return [adapter]

    try:
        async with instances(schema, count, settings, telegram, scale=SCALE, **server) as made:
            yield Cluster(made, fake)
    finally:
        await fake.close()


async def broadcast_and_announcements(c: Cluster) -> tuple[list[Person], list[dict[str, Any]]]:
    """MEMBERS members and GROUPS groups following a challenge; pledges that cross milestones
    and unlock a tier (announcements to the groups and pledgers); a broadcast to every member,
    launched. The workers fan out and send."""
    services = c.services
    people = [Person(FIRST_ID + i, f"Member {i}", "fr") for i in range(MEMBERS)]
    clubs = [group(-900_000 - i, f"Club {i}") for i in range(GROUPS)]
    c.fake.know(*people, *clubs)
    challenge = await open_challenge(services, goal=8)
    for club in clubs:
        registered = await services.groups.register(
            ChatRef(Platform.TELEGRAM, str(club["id"]), is_group=True), club["title"]
        )
        await services.groups.follow(registered.id, challenge.id)
    await add_members(services.db, people)
    for n in range(4):  # 50 %, and the tier at 4
        pledger = await member(services, str(FIRST_ID + n), "telegram")
        await services.pledges.pledge(pledger.id, challenge.id)
    draft = await services.broadcasts.create(None, {Audience.MEMBERS}, TEXT, challenge.id)
    await services.broadcasts.confirm(draft.id)
    await services.broadcasts.launch_due()
    return people, clubs


def check_once_each(c: Cluster, people: list[Person], rows: dict[int, list[str]]) -> None:
    """Every member got the broadcast exactly once; no chat got more messages than it has
    rows (several rows of one chat may go as one message); every row is sent."""
    assert {s for statuses in rows.values() for s in statuses} == {"sent"}
    broadcast = {p.id: sum(TEXT in t for t in c.fake.texts(p.id)) for p in people}
    assert [pid for pid, n in broadcast.items() if n != 1] == []
    received = c.fake.received()
    assert {chat for chat in received if chat in rows} == set(rows)
    assert [chat for chat, rows_of in rows.items() if received[chat] > len(rows_of)] == []


@pytest.mark.parametrize("count", [2, 3])
async def test_instances_share_a_broadcast_and_announcements_once_each_within_the_limits(
    pg_schema: str, count: int
) -> None:
    async with cluster(pg_schema, count) as c:
        people, clubs = await broadcast_and_announcements(c)
        for instance in c.instances:
            await instance.worker.start()
        await until(lambda: all_sent(c.services), WITHIN)
        for instance in c.instances:
            await instance.worker.stop()
        rows = await rows_per_chat(c.services)
        for club in clubs:
            assert len(rows[club["id"]]) == 3  # 25 %, 50 % and the tier
        check_once_each(c, people, rows)
        senders = [i.worker.sent for i in c.instances]
        # Within the limits in total, with no 429 to teach the instances.
        assert c.fake.limit_violations(FakeLimits(SCALE)) == {}
        assert c.fake.refused == []
    assert all(n > 0 for n in senders), senders  # every instance took a share


LOCKED_FOR = 30.0
"""Seconds the deliveries table refuses every write in the outage test (the issue's 30 s)."""


@pytest.mark.slow  # the outage itself lasts LOCKED_FOR seconds
async def test_deliveries_locked_for_30_s_mid_broadcast_lose_and_repeat_nothing(
    pg_schema: str,
) -> None:
    """Every write to the deliveries table fails for 30 s (a lock held elsewhere; the
    instances give up waiting for it after 1 s): marks of sends already made are kept and
    written afterwards, nothing is sent twice, nothing is lost."""
    async with cluster(pg_schema, 2, lock_timeout="1s") as c:
        people, _ = await broadcast_and_announcements(c)
        ids = {p.id for p in people}
        for instance in c.instances:
            await instance.worker.start()
        await c.fake.wait_until(lambda: len(c.fake.received(ids)) >= MEMBERS // 4, seconds=WITHIN)
        locker = on_schema(pg_schema)
        kept = 0
        try:
            async with locker.write() as conn:
                await conn.exec_driver_sql("LOCK TABLE deliveries IN EXCLUSIVE MODE")
                at_lock = len(c.fake.received(ids))
                end = time.monotonic() + LOCKED_FOR
                while time.monotonic() < end:
                    kept = max(kept, sum(i.worker.unwritten for i in c.instances))
                    await asyncio.sleep(0.1)
                during = len(c.fake.received(ids)) - at_lock
        finally:
            await locker.dispose()
        await until(lambda: all_sent(c.services), WITHIN)
        for instance in c.instances:
            await instance.worker.stop()
        assert kept > 0  # sends were made that the database could not record
        assert during <= kept + 2 * 8  # then nothing more than what was claimed before
        check_once_each(c, people, await rows_per_chat(c.services))


CHATTERS = 100
CHATS_EACH = 3
BUSY_MEMBERS = 1_500
HELP = "Voici ce que je sais faire"


@pytest.mark.slow
async def test_people_chatting_during_a_broadcast_get_every_reply(pg_schema: str) -> None:
    """100 people each send /help three times (the next once answered) while a broadcast to
    1,500 members goes out at the full (scaled) rate; the fake answers 429 beyond the limits.
    Every reply arrives, none is an apology, and the broadcast reaches everyone once."""
    async with cluster(pg_schema, 2, chat=True) as c:
        c.fake.enforce_limits(SCALE)
        services = c.services
        people = [Person(FIRST_ID + i, f"Member {i}", "fr") for i in range(BUSY_MEMBERS)]
        talkers = [Person(50_000 + i, f"Talker {i}", "fr") for i in range(CHATTERS)]
        c.fake.know(*people, *talkers)
        challenge = await open_challenge(services, goal=8)
        await add_members(services.db, people)
        draft = await services.broadcasts.create(None, {Audience.MEMBERS}, TEXT, challenge.id)
        await services.broadcasts.confirm(draft.id)
        await services.broadcasts.launch_due()
        for instance in c.instances:
            await instance.worker.start()
        ids = {p.id for p in people}
        await c.fake.wait_until(lambda: len(c.fake.received(ids)) >= 100, seconds=WITHIN)

        async def talk(person: Person) -> None:
            for n in range(1, CHATS_EACH + 1):
                await c.fake.push(c.fake.text(person, "/help"))
                await c.fake.wait_until(
                    lambda n=n: sum(HELP in t for t in c.fake.texts(person.id)) >= n,
                    seconds=WITHIN,
                )

        await asyncio.gather(*(talk(person) for person in talkers))
        broadcasting = len(c.fake.received(ids)) < BUSY_MEMBERS
        await until(lambda: all_sent(services), WITHIN)
        for instance in c.instances:
            await instance.worker.stop()
        for person in talkers:
            texts = c.fake.texts(person.id)
            assert sum(HELP in t for t in texts) == CHATS_EACH
            assert not [t for t in texts if "Désolé" in t], texts
        assert broadcasting  # the chat really happened during the broadcast
        check_once_each(c, people, await rows_per_chat(services))
