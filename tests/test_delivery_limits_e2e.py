"""Broadcasts end to end under Telegram's flood limits: the real delivery worker, started in the
background on the real clock, sends through the real Telegram adapter (python-telegram-bot) to
the fake Bot API of `tests/fake_telegram.py`, which enforces the limits and answers 429s, 403s
and the rest as Telegram does."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import pytest
from sqlalchemy import select

from bots.telegram.app import TelegramAdapter
from core.clock import SystemClock
from core.db.database import Database
from core.db.tables import accounts, deliveries
from core.delivery.worker import DeliveryWorker
from core.identity import AccountRef, Platform
from core.models import Member
from core.services import Services
from core.services.broadcasts import Audience, Broadcast
from core.settings import Settings
from tests.fake_telegram import (
    GROUP,
    INJECTED,
    OVERALL,
    PRIVATE_CHAT,
    FakeTelegram,
    Limits,
    Person,
    group,
)
from tests.test_telegram_e2e import telegram_settings

DONE_WITHIN = 30.0
"""Seconds a test waits for a broadcast to finish (never a measure of speed)."""
POLL = 0.1
TEXT = "Rendez-vous samedi 10 h place Bellecour pour le grand nettoyage !"


@dataclass
class Live:
    """The fake Bot API, the Telegram adapter started against it, services on the real
    clock, and a delivery worker (started by the test)."""

    services: Services
    fake: FakeTelegram
    adapter: TelegramAdapter
    worker: DeliveryWorker


@pytest.fixture
async def live(db: Database, settings: Settings) -> AsyncIterator[Live]:
    fake = FakeTelegram()
    await fake.start()
    fake.enforce_limits()  # Telegram's own, unscaled
    settings = telegram_settings(settings, fake)
    services = Services(db=db, settings=settings, clock=SystemClock())
    adapter = TelegramAdapter(services, settings, webhook_listen="127.0.0.1")
    await adapter.start()
    worker = DeliveryWorker(services, {Platform.TELEGRAM: adapter})
    try:
        yield Live(services, fake, adapter, worker)
    finally:
        await worker.stop()
        await adapter.stop()
        await fake.close()


async def people(live: Live, count: int, first_id: int = 5001) -> list[tuple[Person, Member]]:
    """`count` members with a Telegram account each, whose chats the fake knows."""
    found: list[tuple[Person, Member]] = []
    for i in range(count):
        person = Person(first_id + i, f"Member {i}", "fr")
        live.fake.know(person)
        account = AccountRef(Platform.TELEGRAM, str(person.id))
        found.append((person, await live.services.members.ensure(account, person.first_name)))
    return found


async def launched(services: Services) -> Broadcast:
    """A broadcast to every member, confirmed and fanned out to its delivery rows."""
    draft = await services.broadcasts.create(None, {Audience.MEMBERS}, TEXT)
    await services.broadcasts.confirm(draft.id)
    await services.broadcasts.launch_due()
    return await services.broadcasts.get(draft.id)


async def rows_of(services: Services, broadcast_id: int) -> dict[str, tuple[str, int]]:
    """chat id -> (status, attempts) of each of the broadcast's delivery rows."""
    async with services.db.read() as conn:
        rows = await conn.execute(
            select(deliveries.c.chat_id, deliveries.c.status, deliveries.c.attempts).where(
                deliveries.c.broadcast_id == broadcast_id
            )
        )
        return {r.chat_id: (r.status, r.attempts) for r in rows}


async def until(done: Callable[[], Awaitable[bool]], seconds: float = DONE_WITHIN) -> None:
    """Poll `done` until it holds; fail after `seconds`."""
    for _ in range(int(seconds / POLL)):
        if await done():
            return
        await asyncio.sleep(POLL)
    raise TimeoutError(f"not done within {seconds} s")


async def finished(services: Services, broadcast_id: int) -> bool:
    rows = await rows_of(services, broadcast_id)
    return bool(rows) and all(status != "pending" for status, _ in rows.values())


def broadcast_texts(fake: FakeTelegram, person: Person) -> list[str]:
    return [text for text in fake.texts(person.id) if TEXT in text]


async def test_429s_are_waited_out_and_every_member_gets_the_broadcast_once(live: Live) -> None:
    services, fake = live.services, live.fake
    members = [person for person, _ in await people(live, 12)]
    slow, slower = members[:2]
    fake.fail(
        "sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1, chat_id=slow.id
    )
    fake.fail(
        "sendMessage",
        429,
        "Too Many Requests: retry after 2",
        retry_after=2,
        chat_id=slower.id,
        times=2,
    )
    broadcast = await launched(services)
    assert broadcast.recipients == 12

    await live.worker.start()
    await until(lambda: finished(services, broadcast.id))
    await live.worker.stop()

    rows = await rows_of(services, broadcast.id)
    assert {status for status, _ in rows.values()} == {"sent"}
    for person in members:
        assert len(broadcast_texts(fake, person)) == 1, person
    # Rate limits are waits, not failures: they cost no attempt, whatever their number.
    assert rows[str(slow.id)][1] == rows[str(slower.id)][1] == 1
    assert all(
        attempts == 1
        for chat, (_, attempts) in rows.items()
        if chat
        not in {
            str(slow.id),
            str(slower.id),
        }
    )
    # Each refused chat was written to again only once its retry_after had passed.
    for person in (slow, slower):
        refusals = [r for r in fake.refused if r.chat_id == person.id]
        [accepted] = [a for a in fake.accepted if a.chat_id == person.id]
        assert all(r.limit == INJECTED for r in refusals)
        assert accepted.at >= refusals[-1].at + refusals[-1].retry_after
        for earlier, later in itertools.pairwise(refusals):
            assert later.at >= earlier.at + earlier.retry_after
    assert len(fake.refused) == 3  # the injected ones: the worker kept Telegram's limits
    assert fake.limit_violations() == {}
    progress = await services.broadcasts.progress(broadcast.id)
    assert (progress.sent, progress.failed, progress.cancelled, progress.remaining) == (12, 0, 0, 0)
    assert progress.broadcast.status == "done"


async def test_blocked_members_are_marked_unreachable_and_opted_out_ones_hear_nothing(
    live: Live,
) -> None:
    services, fake = live.services, live.fake
    members = await people(live, 10)
    everyone = [person for person, _ in members]
    member_id = {person.id: member.id for person, member in members}
    reachable, blocked = everyone[:5], everyone[5:7]
    opted_out, late = everyone[7:9], everyone[9]
    for person in blocked:
        fake.blocked.add(person.id)  # 403: bot was blocked by the user
    for person in opted_out:
        await services.members.update(member_id[person.id], news_opt_out=True)

    broadcast = await launched(services)
    assert broadcast.recipients == 8  # the opted-out ones get no row
    await services.members.update(member_id[late.id], news_opt_out=True)  # while queued

    await live.worker.start()
    await until(lambda: finished(services, broadcast.id))
    await live.worker.stop()

    rows = await rows_of(services, broadcast.id)
    for person in reachable:
        assert rows[str(person.id)][0] == "sent"
        assert len(broadcast_texts(fake, person)) == 1
    for person in blocked:
        assert rows[str(person.id)][0] == "dead"
        assert not await services.members.is_reachable(
            AccountRef(Platform.TELEGRAM, str(person.id))
        )
        assert fake.texts(person.id) == []
    for person in opted_out:
        assert str(person.id) not in rows
    assert rows[str(late.id)][0] == "cancelled"
    for person in (*opted_out, late):
        assert fake.texts(person.id) == []
        assert not [c for c in fake.calls_of("sendMessage") if c.params["chat_id"] == person.id]
    async with services.db.read() as conn:
        unreachable = set(
            (
                await conn.execute(
                    select(accounts.c.external_id).where(accounts.c.unreachable_at.is_not(None))
                )
            ).scalars()
        )
    assert unreachable == {str(person.id) for person in blocked}

    progress = await services.broadcasts.progress(broadcast.id)
    assert (progress.sent, progress.failed, progress.cancelled, progress.remaining) == (5, 2, 1, 0)
    assert progress.total == broadcast.recipients
    assert progress.broadcast.status == "done"
    assert fake.refused == [] and fake.limit_violations() == {}


async def test_the_fake_enforces_telegrams_flood_limits_on_sends_only() -> None:
    fake = FakeTelegram()
    await fake.start()
    people = [Person(100 + i, f"P{i}") for i in range(40)]
    club = group(-500, "Club")
    fake.know(*people, club)
    try:
        async with aiohttp.ClientSession() as http:

            async def call(method: str, **params: object) -> tuple[int, dict[str, object]]:
                url = f"{fake.base_url}{fake.token}/{method}"
                async with http.post(url, json=params) as response:
                    return response.status, await response.json()

            first, second = people[0], people[1]
            assert (await call("sendMessage", chat_id=first.id, text="a"))[0] == 200
            assert (await call("sendMessage", chat_id=first.id, text="b"))[0] == 200  # off

            fake.enforce_limits()
            status, answer = await call("sendMessage", chat_id=second.id, text="c")
            assert status == 200
            message_id = answer["result"]["message_id"]
            status, answer = await call("sendMessage", chat_id=second.id, text="d")
            assert status == 429 and answer["parameters"] == {"retry_after": 1}
            assert answer["description"] == "Too Many Requests: retry after 1"
            edited = await call(
                "editMessageText", chat_id=second.id, message_id=message_id, text="e"
            )
            assert edited[0] == 200  # an edit is no message sent

            for person in people[2:31]:  # 29 more chats: 30 sends in this second
                assert (await call("sendMessage", chat_id=person.id, text="f"))[0] == 200
            status, answer = await call("sendMessage", chat_id=people[31].id, text="g")
            assert status == 429 and answer["parameters"] == {"retry_after": 1}

            fake.enforce_limits(scale=2)  # the windows start again, every count doubled
            for _ in range(40):
                status, answer = await call("sendMessage", chat_id=club["id"], text="h")
                assert status == 200
            status, answer = await call("sendMessage", chat_id=club["id"], text="i")
            assert status == 429 and 50 <= answer["parameters"]["retry_after"] <= 60
    finally:
        await fake.close()

    assert [(r.limit, r.chat_id) for r in fake.refused] == [
        (PRIVATE_CHAT, second.id),
        (OVERALL, people[31].id),
        (GROUP, club["id"]),
    ]
    assert fake.received([first.id, second.id, club["id"]]) == {
        first.id: 2,
        second.id: 1,
        club["id"]: 40,
    }
    peaks = fake.window_peaks()
    assert (peaks[PRIVATE_CHAT], peaks[GROUP]) == (2, 40)  # 2 to `first` while off
    unscaled = fake.limit_violations(Limits())
    assert (unscaled[PRIVATE_CHAT], unscaled[GROUP]) == ((2, 1), (40, 20))
