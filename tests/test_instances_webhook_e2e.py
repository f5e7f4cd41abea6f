"""Two instances in Telegram webhook mode behind a load balancer, on one PostgreSQL database:
the fake Bot API posts updates to the instances in turn, again (to the other one) after a 5xx
or a timeout, as Telegram does. One person's quick inputs are handled once each, one at a time
and in order across the instances; a retried update is handled once.

Needs KOOM_TEST_POSTGRES_URL; skipped without.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bots.telegram.app import TelegramAdapter
from conversations.engine import Engine
from conversations.model import Answer, Envelope
from conversations.state import Write
from core.clock import SystemClock
from core.db.database import Database
from core.db.tables import processed_updates
from core.services import Services
from core.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.fake_telegram import TOKEN, FakeTelegram, Person
from tests.test_web import free_port

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="needs KOOM_TEST_POSTGRES_URL")
SECRET = "s3cret_token-1"
ALICE = Person(4242, "Alice", "fr")
WAIT = 30.0
"""Seconds a test waits for something to happen (never a measure of speed)."""


@dataclass
class Handled:
    """Every input the instances' engines ran, in the order they started and ended."""

    starts: list[tuple[str, str]] = field(default_factory=list)  # (instance, text)
    events: list[str] = field(default_factory=list)  # "+text" when it starts, "-text" at its end
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    """Input "1" is held until this is set: an update in flight while the others come."""

    def record(self, name: str, engine: Engine) -> None:
        answer = engine.answer

        async def recorded(envelope: Envelope, *, also: Sequence[Write] = ()) -> Answer:
            text = getattr(envelope.input, "text", "")
            self.starts.append((name, text))
            self.events.append(f"+{text}")
            if text == "1":
                await self.gate.wait()
            try:
                return await answer(envelope, also=also)
            finally:
                self.events.append(f"-{text}")

        engine.answer = recorded  # type: ignore[method-assign]


@pytest.fixture
async def balanced(pg_schema: str) -> AsyncIterator[tuple[FakeTelegram, Services, Handled]]:
    """Two webhook instances on `pg_schema`, the fake posting to them in turn."""
    assert POSTGRES_URL is not None
    fake = FakeTelegram()
    await fake.start()
    handled = Handled()
    urls = []
    async with AsyncExitStack() as stack:
        stack.push_async_callback(fake.close)
        first: Services | None = None
        for name in ("a", "b"):
            port = free_port()
            url = f"http://127.0.0.1:{port}/telegram"
            settings = Settings(
                _env_file=None, DATABASE_URL=POSTGRES_URL, KOOM_LOAD_DEMO="0"
            ).model_copy(
                update={
                    "telegram_token": SecretStr(TOKEN),
                    "telegram_base_url": fake.base_url,
                    "telegram_webhook_url": url,
                    "telegram_webhook_secret": SecretStr(SECRET),
                    "telegram_webhook_port": port,
                }
            )
            db = Database(
                POSTGRES_URL, connect_args={"server_settings": {"search_path": pg_schema}}
            )
            stack.push_async_callback(db.dispose)
            services = Services(db=db, settings=settings, clock=SystemClock())
            adapter = TelegramAdapter(services, settings, webhook_listen="127.0.0.1")
            await adapter.start()
            stack.push_async_callback(adapter.stop)
            handled.record(name, adapter.engine)
            urls.append(url)
            first = first or services
        assert first is not None
        fake.balance(*urls)
        yield fake, first, handled
        handled.gate.set()


async def in_flight(services: Services) -> int:
    async with services.db.read() as conn:
        return int(
            (
                await conn.execute(
                    select(func.count()).where(processed_updates.c.lease_until.is_not(None))
                )
            ).scalar_one()
        )


async def until(predicate: Any, seconds: float = WAIT) -> None:
    for _ in range(int(seconds / 0.05)):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_one_persons_inputs_go_once_each_in_order_across_two_instances(
    balanced: tuple[FakeTelegram, Services, Handled],
) -> None:
    fake, services, handled = balanced
    fake.know(ALICE)
    updates = [fake.text(ALICE, str(n)) for n in range(1, 6)]
    posts = [asyncio.create_task(fake.post_until_taken(updates[0]))]  # to instance a

    async def started_first() -> bool:
        return bool(handled.starts)

    await until(started_first)
    # 2 to 5 come while 1 is in flight (to b, a, b, a), each claimed at once.
    posts += [asyncio.create_task(fake.post_until_taken(u)) for u in updates[1:]]

    async def all_claimed() -> bool:
        return await in_flight(services) == 5

    await until(all_claimed)
    # Telegram gives up waiting for 3 (at a) and posts it again, to b: it waits for a's copy.
    retry = asyncio.create_task(fake.post_until_taken(updates[2], within=60))
    await asyncio.sleep(0.5)
    assert [text for _, text in handled.starts] == ["1"]  # the others wait for 1
    handled.gate.set()
    statuses = await asyncio.gather(*posts, retry)

    assert all(s[-1] == 200 for s in statuses), statuses
    assert [text for _, text in handled.starts] == ["1", "2", "3", "4", "5"]  # once each
    # One at a time: each ended before the next began.
    assert handled.events == [f"{sign}{n}" for n in range(1, 6) for sign in "+-"]
    assert {name for name, _ in handled.starts} == {"a", "b"}  # both instances took some
    assert await in_flight(services) == 0
    assert len(fake.sent(ALICE.id)) >= 5  # every input was answered
