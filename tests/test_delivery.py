"""Fan-out of outbox events into delivery rows, and the worker that sends them."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from core.clock import FakeClock
from core.db.tables import accounts, deliveries, groups
from core.delivery.fanout import fan_out
from core.delivery.protocol import DeliveryResult, Notice, Outcome
from core.delivery.worker import DeliveryWorker, claim_due, write_marks
from core.identity import ChatRef, Platform
from core.instance import dead_here, instance_id
from core.models import Challenge, Member
from core.pacing import Pacer
from core.services import Services
from tests.factories import member, open_challenge


@dataclass
class FakeDeliverer:
    """Records every call; answers from `script` (by chat id), else SENT."""

    platform: Platform
    pacer: Pacer | None = None
    calls: list[tuple[ChatRef, list[Notice]]] = field(default_factory=list)
    script: dict[str, list[DeliveryResult | Exception]] = field(default_factory=dict)

    async def deliver(self, chat: ChatRef, notices: list[Notice]) -> DeliveryResult:
        self.calls.append((chat, notices))
        queued = self.script.get(chat.chat_id)
        if queued:
            answer = queued.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return DeliveryResult(Outcome.SENT)

    def chats(self) -> Counter[str]:
        return Counter(chat.chat_id for chat, _ in self.calls)


@dataclass
class World:
    challenge: Challenge
    alice: Member  # telegram
    bob: Member  # discord
    carol: Member  # telegram, opted out of news
    telegram: FakeDeliverer
    discord: FakeDeliverer
    worker: DeliveryWorker


async def world(services: Services) -> World:
    """A challenge followed by a Telegram group and a Discord channel; the second pledge
    (Carol's: her thanks told her) reaches 25 % and unlocks the tier."""
    challenge = await open_challenge(services, goal=8, tiers=((2, "Acme", "gives 1 000 €"),))
    for chat in (
        ChatRef(Platform.TELEGRAM, "-100", is_group=True),
        ChatRef(Platform.DISCORD, "555", is_group=True),
    ):
        group = await services.groups.register(chat, "Club")
        await services.groups.follow(group.id, challenge.id)
    alice = await member(services, "1", "telegram")
    bob = await member(services, "2", "discord")
    carol = await member(services, "3", "telegram")
    await services.members.update(bob.id, language="en")
    await services.members.update(carol.id, news_opt_out=True)
    await services.pledges.pledge(alice.id, challenge.id)
    await services.pledges.pledge(carol.id, challenge.id)
    telegram, discord = FakeDeliverer(Platform.TELEGRAM), FakeDeliverer(Platform.DISCORD)
    worker = DeliveryWorker(services, {Platform.TELEGRAM: telegram, Platform.DISCORD: discord})
    return World(challenge, alice, bob, carol, telegram, discord, worker)


async def statuses(services: Services) -> Counter[tuple[str, str]]:
    async with services.db.read() as conn:
        rows = await conn.execute(select(deliveries.c.chat_id, deliveries.c.status))
        return Counter((r.chat_id, r.status) for r in rows)


async def test_each_recipient_gets_one_coalesced_message_once(services: Services) -> None:
    w = await world(services)
    await services.pledges.pledge(w.bob.id, w.challenge.id)  # no new threshold at 3

    assert await fan_out(services) == 2 * 6  # 2 events x (2 groups, 2 pledgers, 2 organisers)
    assert await w.worker.run_once() == 6

    assert w.telegram.chats() == {"-100": 1, "1": 1, "999": 1}
    assert w.discord.chats() == {"555": 1, "2": 1, "888": 1}
    for chat, notices in w.telegram.calls + w.discord.calls:
        assert [n.kind for n in notices] == ["milestone", "tier_unlocked"]
        assert chat.is_group == (chat.chat_id in {"-100", "555"})
    bob_notices = next(n for c, n in w.discord.calls if c.chat_id == "2")
    assert {n.locale for n in bob_notices} == {"en"}
    assert bob_notices[0].payload["percent"] == 25

    assert await fan_out(services) == 0
    assert await w.worker.run_once() == 0
    assert len(w.telegram.calls) + len(w.discord.calls) == 6
    assert set((await statuses(services)).keys()) == {
        (chat, "sent") for chat in ("-100", "1", "999", "555", "2", "888")
    }


async def test_opting_out_cancels_queued_rows_for_good(services: Services) -> None:
    w = await world(services)
    await fan_out(services)
    await services.members.update(w.alice.id, news_opt_out=True)
    await services.members.update(w.alice.id, news_opt_out=False)

    await w.worker.run_once()

    assert "1" not in w.telegram.chats() and "3" not in w.telegram.chats()
    assert (await statuses(services))[("1", "cancelled")] == 2


async def test_unreachable_since_fan_out_is_cancelled_not_sent(services: Services) -> None:
    w = await world(services)
    await fan_out(services)
    await services.groups.set_reachable(ChatRef(Platform.DISCORD, "555", is_group=True), False)

    await w.worker.run_once()

    assert "555" not in w.discord.chats()
    assert (await statuses(services))[("555", "cancelled")] == 2


async def test_gone_marks_unreachable_and_is_not_retried(
    services: Services, clock: FakeClock
) -> None:
    w = await world(services)
    gone = DeliveryResult(Outcome.GONE, detail="Forbidden: bot was kicked")
    w.telegram.script = {"-100": [gone], "1": [DeliveryResult(Outcome.GONE)]}
    await fan_out(services)
    await w.worker.run_once()
    clock.advance(timedelta(days=1))
    await w.worker.run_once()

    assert w.telegram.chats() == {"-100": 1, "1": 1, "999": 1}
    async with services.db.read() as conn:
        group = (await conn.execute(select(groups).where(groups.c.chat_id == "-100"))).one()
        account = (await conn.execute(select(accounts).where(accounts.c.external_id == "1"))).one()
    assert group.unreachable_at is not None and account.unreachable_at is not None
    assert (await statuses(services))[("-100", "dead")] == 2

    await services.pledges.pledge(w.bob.id, w.challenge.id)
    other = await member(services, "4", "discord")
    await services.pledges.pledge(other.id, w.challenge.id)  # 4 pledges: 50 %
    await fan_out(services)
    async with services.db.read() as conn:
        later = await conn.execute(
            select(deliveries.c.chat_id).where(deliveries.c.status == "pending")
        )
        assert set(later.scalars()) == {"999", "555", "2", "888"}  # "4" crossed it: thanked


async def test_retry_after_waits_then_sends(services: Services, clock: FakeClock) -> None:
    w = await world(services)
    w.discord.script = {"2": [DeliveryResult(Outcome.RETRY, retry_after=timedelta(seconds=30))]}
    await services.pledges.pledge(w.bob.id, w.challenge.id)
    await fan_out(services)
    await w.worker.run_once()
    clock.advance(timedelta(seconds=29))
    await w.worker.run_once()
    assert w.discord.chats()["2"] == 1

    clock.advance(timedelta(seconds=1))
    await w.worker.run_once()
    assert w.discord.chats()["2"] == 2
    first, again = (notices for chat, notices in w.discord.calls if chat.chat_id == "2")
    assert again == first
    assert (await statuses(services))[("2", "sent")] == 2


async def test_adapter_errors_back_off_without_leaking_tokens(
    services: Services, clock: FakeClock
) -> None:
    w = await world(services)
    boom = RuntimeError("POST https://api.telegram.org/bot123:SECRET/sendMessage failed")
    w.telegram.script = {"1": [boom] * 20}
    await fan_out(services)
    for _ in range(8):
        await w.worker.run_once()
        clock.advance(timedelta(hours=1))
    await w.worker.run_once()

    assert w.telegram.chats()["1"] == 8  # MAX_ATTEMPTS, then dead
    async with services.db.read() as conn:
        row = (await conn.execute(select(deliveries).where(deliveries.c.chat_id == "1"))).first()
    assert row is not None and row.status == "dead" and row.attempts == 8
    assert "SECRET" not in row.last_error and "RuntimeError" in row.last_error


async def test_concurrent_fan_outs_never_double(services: Services) -> None:
    w = await world(services)
    written = await asyncio.gather(*(fan_out(services) for _ in range(4)))
    assert sum(written) == 2 * 5  # bob has not pledged: 5 recipients
    assert await w.worker.run_once() == 5
    assert sum(len(d.calls) for d in (w.telegram, w.discord)) == 5


async def test_started_worker_follows_pledges_and_stops(services: Services) -> None:
    w = await world(services)
    await w.worker.start()
    try:
        async with asyncio.timeout(5):
            while len(w.telegram.calls) < 3 or len(w.discord.calls) < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        await w.worker.stop()
    assert w.telegram.chats() == {"-100": 1, "1": 1, "999": 1}
    assert w.discord.chats() == {"555": 1, "888": 1}


async def test_rate_limits_cost_no_attempt_and_many_at_once_slow_everyone(
    services: Services,
) -> None:
    w = await world(services)
    limited = DeliveryResult(Outcome.RETRY, retry_after=timedelta(seconds=30), detail="429")
    w.telegram.script = {chat: [limited] for chat in ("-100", "1", "999")}
    await fan_out(services)

    await w.worker.run_once()

    async with services.db.read() as conn:
        rows = await conn.execute(
            select(deliveries.c.chat_id, deliveries.c.attempts, deliveries.c.status).where(
                deliveries.c.platform == "telegram"
            )
        )
        assert {(r.chat_id, r.attempts, r.status) for r in rows} == {
            (chat, 0, "pending") for chat in ("-100", "1", "999")
        }
    # Three chats refused within a second: the bot as a whole waits, not only those chats.
    pacer = w.worker._pacers[Platform.TELEGRAM]
    assert pacer.reserve("someone-else", group=False, bulk=True) >= timedelta(seconds=29)


async def test_an_outage_of_any_length_kills_nothing_and_the_backlog_drains_once_back(
    services: Services, clock: FakeClock
) -> None:
    w = await world(services)
    down = DeliveryResult(Outcome.RETRY, detail="502 Bad Gateway")
    w.telegram.script = {chat: [down] * 30 for chat in ("-100", "1", "999")}
    await fan_out(services)
    for _ in range(30):  # half an hour of outage, far past MAX_ATTEMPTS
        await w.worker.run_once()
        async with services.db.read() as conn:
            rows = (
                await conn.execute(select(deliveries).where(deliveries.c.platform == "telegram"))
            ).all()
        assert {r.status for r in rows} == {"pending"}
        assert all(r.not_before - clock.now() <= timedelta(minutes=1) for r in rows)
        clock.advance(timedelta(minutes=1))
    assert w.telegram.chats() == {"-100": 30, "1": 30, "999": 30}

    # Back: the first send that goes through brings the rest forward at once.
    w.telegram.script = {}
    clock.advance(timedelta(seconds=1))
    async with services.db.write() as conn:
        await conn.execute(  # one row due now, the others still backing off
            update(deliveries)
            .where(deliveries.c.chat_id != "1", deliveries.c.platform == "telegram")
            .values(not_before=clock.now() + timedelta(minutes=1))
        )
    await w.worker.run_once()
    assert w.telegram.chats()["1"] == 31
    await w.worker.run_once()  # no time has passed
    assert (await statuses(services))[("-100", "sent")] == 2
    assert (await statuses(services))[("999", "sent")] == 2


async def test_a_mark_the_database_refuses_is_kept_and_never_resent(
    services: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = await world(services)
    await fan_out(services)
    real = services.db.transaction
    refused = True

    async def flaky(unit: Any, *args: Any, **kwargs: Any) -> Any:
        if refused and unit is write_marks:
            raise OperationalError("UPDATE deliveries", {}, Exception("database is locked"))
        return await real(unit, *args, **kwargs)

    monkeypatch.setattr(services.db, "transaction", flaky)
    assert await w.worker.run_once() == 5  # sent; their marks kept in memory
    assert w.worker.unwritten == 2 * 5
    for _ in range(3):  # the database still refuses: nothing is claimed or sent again
        clock.advance(timedelta(seconds=5))
        assert await w.worker.run_once() == 0
    refused = False
    await w.worker.run_once()  # the kept marks are written first
    assert w.worker.unwritten == 0
    clock.advance(timedelta(hours=1))  # past every lease
    await w.worker.run_once()
    assert w.telegram.chats() == {"-100": 1, "1": 1, "999": 1}
    assert {s for (chat, s) in await statuses(services) if chat in {"-100", "1", "999"}} == {"sent"}


async def test_leases_of_another_host_are_waited_out_then_taken_over(
    services: Services, clock: FakeClock
) -> None:
    w = await world(services)
    await fan_out(services)
    now = clock.now()
    lease = timedelta(seconds=services.settings.delivery_lease_seconds)
    taken = await services.db.transaction(
        claim_due, "elsewhere:1:abcd", now, now + lease, ["telegram", "discord"], 100
    )
    assert len(taken) == 2 * 5
    await w.worker.run_once()
    assert w.telegram.calls == [] and w.discord.calls == []  # its lease holds
    clock.advance(lease)
    await w.worker.run_once()
    assert w.telegram.chats() == {"-100": 1, "1": 1, "999": 1}
    assert w.discord.chats() == {"555": 1, "888": 1}


def test_an_instance_of_this_host_whose_process_is_gone_is_dead() -> None:
    host = socket.gethostname()[:40]
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert dead_here(f"{host}:{gone.stdout.strip()}:abcd")
    assert not dead_here(f"{host}:{os.getppid()}:abcd")  # alive
    assert not dead_here(instance_id())
    assert not dead_here(f"another-host:{gone.stdout.strip()}:abcd")  # cannot tell: wait
