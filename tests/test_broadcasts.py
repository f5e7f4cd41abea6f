"""The broadcast service: who each audience reaches, scheduling, the fan-out written once,
progress with its ETA while the delivery worker sends, cancelling, and the refusals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core.clock import FakeClock
from core.db.tables import deliveries
from core.delivery.protocol import DeliveryResult, Outcome
from core.delivery.worker import DeliveryWorker
from core.errors import Conflict, Invalid, NotFound
from core.identity import AccountRef, ChatRef, Platform
from core.models import Challenge
from core.services import Services
from core.services.broadcasts import (
    BROADCAST_KIND,
    BROADCAST_PRIORITY,
    MAX_TEXT,
    Audience,
    Broadcast,
    BroadcastStatus,
)
from tests.factories import member, open_challenge
from tests.test_delivery import FakeDeliverer

P, M, G = Audience.PLEDGERS, Audience.MEMBERS, Audience.GROUPS


@dataclass
class World:
    lyon: Challenge
    velo: Challenge


async def world(services: Services) -> World:
    """Two challenges and people in every situation; chat ids say who is who.

    Reachable and accepting news: 1 (fr, pledges lyon), 2 (discord, en, pledges lyon),
    3 (pledges velo), 4 (withdrew from lyon), 8 (no pledge). Never reached: 5 (opted out),
    6 (unreachable), 7 (erased), console:9 (no push). Groups: -100 follows lyon, 555 (discord)
    follows velo, -200 follows lyon but is unreachable.
    """
    lyon = await open_challenge(services, slug="tri-lyon", goal=100)
    velo = await open_challenge(services, slug="velo", goal=100)
    people = {
        name: await member(services, name, platform)
        for name, platform in [
            ("1", "telegram"),
            ("2", "discord"),
            ("3", "telegram"),
            ("4", "telegram"),
            ("5", "telegram"),
            ("6", "telegram"),
            ("7", "telegram"),
            ("8", "telegram"),
            ("9", "console"),
        ]
    }
    for name in ("1", "2", "4", "5", "6", "7", "9"):
        await services.pledges.pledge(people[name].id, lyon.id)
    await services.pledges.pledge(people["3"].id, velo.id)
    await services.pledges.withdraw(people["4"].id, lyon.id)
    await services.members.update(people["2"].id, language="en")
    await services.members.update(people["5"].id, news_opt_out=True)
    await services.members.set_reachable(AccountRef.parse("telegram:6"), False)
    await services.privacy.forget(people["7"].id)
    for chat, challenge in [
        (ChatRef(Platform.TELEGRAM, "-100", is_group=True), lyon),
        (ChatRef(Platform.DISCORD, "555", is_group=True), velo),
        (ChatRef(Platform.TELEGRAM, "-200", is_group=True), lyon),
    ]:
        group = await services.groups.register(chat, "Club")
        await services.groups.follow(group.id, challenge.id)
    await services.groups.set_reachable(ChatRef(Platform.TELEGRAM, "-200", is_group=True), False)
    return World(lyon, velo)


async def rows_of(services: Services, broadcast_id: int) -> dict[str, Any]:
    """The broadcast's delivery rows by chat id."""
    async with services.db.read() as conn:
        rows = await conn.execute(
            select(deliveries).where(deliveries.c.broadcast_id == broadcast_id)
        )
        return {row.chat_id: row for row in rows}


async def launched(
    services: Services, audiences: set[Audience], challenge: Challenge | None = None
) -> Broadcast:
    """A broadcast confirmed for now and fanned out."""
    draft = await services.broadcasts.create(
        None, audiences, "Rendez-vous samedi !", challenge.id if challenge else None
    )
    await services.broadcasts.confirm(draft.id)
    await services.broadcasts.launch_due()
    return await services.broadcasts.get(draft.id)


# --- Audiences ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "audiences,on_lyon,expected",
    [
        ({P}, True, {"1", "2"}),
        ({M}, False, {"1", "2", "3", "4", "8"}),
        ({G}, True, {"-100"}),
        ({P, G}, True, {"1", "2", "-100"}),
        ({P, M, G}, True, {"1", "2", "3", "4", "8", "-100"}),
    ],
)
async def test_each_audience_reaches_exactly_its_chats_once(
    services: Services, audiences: set[Audience], on_lyon: bool, expected: set[str]
) -> None:
    w = await world(services)
    broadcast = await launched(services, audiences, w.lyon if on_lyon else None)
    rows = await rows_of(services, broadcast.id)
    assert set(rows) == expected  # one row per chat: "1" is a pledger and a member
    assert broadcast.recipients == len(expected)
    assert broadcast.status is BroadcastStatus.SENDING
    for chat_id, row in rows.items():
        group = chat_id.startswith("-")
        assert (row.kind, row.priority, row.status) == (
            BROADCAST_KIND,
            BROADCAST_PRIORITY,
            "pending",
        )
        title = w.lyon.title if on_lyon else ""  # carried, so a send reads no challenge
        assert row.payload == {"text": "Rendez-vous samedi !", "title": title, "group": group}
        assert row.is_group == group
        assert row.locale == ("en" if chat_id == "2" else "fr")


async def test_audience_size_counts_by_language_before_launch(services: Services) -> None:
    w = await world(services)
    draft = await services.broadcasts.create(None, {P, M, G}, "Hello", w.lyon.id)
    assert await services.broadcasts.audience_size(draft.id) == {"fr": 5, "en": 1}
    assert await rows_of(services, draft.id) == {}


async def test_groups_of_the_other_challenge(services: Services) -> None:
    w = await world(services)
    broadcast = await launched(services, {P, G}, w.velo)
    rows = await rows_of(services, broadcast.id)
    assert set(rows) == {"3", "555"}
    assert rows["555"].platform == "discord"


async def test_nobody_to_reach_is_done_at_once(services: Services) -> None:
    lonely = await open_challenge(services, slug="seul")
    broadcast = await launched(services, {P, G}, lonely)
    assert (broadcast.status, broadcast.recipients) == (BroadcastStatus.DONE, 0)
    progress = await services.broadcasts.progress(broadcast.id)
    assert (progress.total, progress.eta) == (0, None)


# --- Scheduling ---------------------------------------------------------------------------


async def test_scheduled_broadcast_waits_then_launches_once(
    services: Services, clock: FakeClock
) -> None:
    w = await world(services)
    draft = await services.broadcasts.create(None, {P}, "Ce soir !", w.lyon.id)
    assert draft.status is BroadcastStatus.DRAFT
    assert await services.broadcasts.launch_due() == 0  # a draft is never sent
    scheduled = await services.broadcasts.confirm(
        draft.id, send_at=clock.now() + timedelta(hours=2)
    )
    assert scheduled.status is BroadcastStatus.SCHEDULED

    clock.advance(timedelta(hours=1, minutes=59))
    assert await services.broadcasts.launch_due() == 0
    assert await rows_of(services, draft.id) == {}
    assert (await services.broadcasts.get(draft.id)).status is BroadcastStatus.SCHEDULED

    clock.advance(timedelta(minutes=1))
    assert await services.broadcasts.launch_due() == 2
    assert await services.broadcasts.launch_due() == 0
    clock.advance(timedelta(hours=1))
    assert await services.broadcasts.launch_due() == 0
    assert set(await rows_of(services, draft.id)) == {"1", "2"}
    assert (await services.broadcasts.get(draft.id)).status is BroadcastStatus.SENDING


async def test_confirm_is_refused_in_the_past_and_twice(
    services: Services, clock: FakeClock
) -> None:
    draft = await services.broadcasts.create(None, {M}, "Hello")
    with pytest.raises(Invalid) as past:
        await services.broadcasts.confirm(draft.id, send_at=clock.now() - timedelta(hours=1))
    assert past.value.key == "broadcast.error_in_past"
    assert (await services.broadcasts.get(draft.id)).status is BroadcastStatus.DRAFT
    await services.broadcasts.confirm(draft.id)
    with pytest.raises(Conflict) as twice:
        await services.broadcasts.confirm(draft.id)
    assert twice.value.key == "broadcast.error_not_draft"
    with pytest.raises(NotFound):
        await services.broadcasts.confirm(draft.id + 1)


# --- Progress while the worker sends ------------------------------------------------------


async def test_progress_counts_and_eta_until_done(services: Services, clock: FakeClock) -> None:
    await world(services)
    broadcast = await launched(services, {M})  # chats 1, 2, 3, 4, 8
    progress = await services.broadcasts.progress(broadcast.id)
    assert (progress.sent, progress.failed, progress.remaining, progress.total) == (0, 0, 5, 5)
    assert progress.eta is None  # nothing sent yet: no pace to go by

    telegram = FakeDeliverer(
        Platform.TELEGRAM,
        script={
            "3": [DeliveryResult(Outcome.GONE)],
            "4": [DeliveryResult(Outcome.RETRY, retry_after=timedelta(seconds=30))],
        },
    )
    discord = FakeDeliverer(Platform.DISCORD)
    worker = DeliveryWorker(services, {Platform.TELEGRAM: telegram, Platform.DISCORD: discord})
    await worker.run_once()
    progress = await services.broadcasts.progress(broadcast.id)
    assert (progress.sent, progress.failed, progress.remaining) == (3, 1, 1)
    assert progress.eta == timedelta(seconds=20)  # 3 sent in the last minute: 1 left
    assert progress.broadcast.status is BroadcastStatus.SENDING

    clock.advance(timedelta(seconds=30))
    await worker.run_once()
    progress = await services.broadcasts.progress(broadcast.id)
    assert (progress.sent, progress.failed, progress.cancelled, progress.remaining) == (4, 1, 0, 0)
    assert progress.eta is None
    assert progress.broadcast.status is BroadcastStatus.DONE
    assert sorted((telegram.chats() + discord.chats()).elements()) == ["1", "2", "3", "4", "4", "8"]
    with pytest.raises(Conflict) as over:
        await services.broadcasts.cancel(broadcast.id)
    assert over.value.key == "broadcast.error_finished"


# --- Cancelling ---------------------------------------------------------------------------


async def test_cancel_stops_only_what_is_still_pending(services: Services) -> None:
    await world(services)
    broadcast = await launched(services, {M})
    discord = FakeDeliverer(Platform.DISCORD)
    await DeliveryWorker(services, {Platform.DISCORD: discord}).run_once()  # "2" only

    assert await services.broadcasts.cancel(broadcast.id) == 4
    rows = await rows_of(services, broadcast.id)
    assert {chat: row.status for chat, row in rows.items()} == {
        "1": "cancelled",
        "2": "sent",
        "3": "cancelled",
        "4": "cancelled",
        "8": "cancelled",
    }
    progress = await services.broadcasts.progress(broadcast.id)
    assert (progress.sent, progress.cancelled, progress.remaining) == (1, 4, 0)
    assert progress.broadcast.status is BroadcastStatus.CANCELLED
    with pytest.raises(Conflict):
        await services.broadcasts.cancel(broadcast.id)


async def test_cancelled_before_its_time_is_never_launched(
    services: Services, clock: FakeClock
) -> None:
    await world(services)
    draft = await services.broadcasts.create(None, {M}, "Demain")
    await services.broadcasts.confirm(draft.id, send_at=clock.now() + timedelta(days=1))
    assert await services.broadcasts.cancel(draft.id) == 0
    clock.advance(timedelta(days=2))
    assert await services.broadcasts.launch_due() == 0
    assert await rows_of(services, draft.id) == {}
    assert (await services.broadcasts.get(draft.id)).status is BroadcastStatus.CANCELLED


# --- Refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "audiences,text,with_challenge,key,params",
    [
        ({M}, "   ", False, "broadcast.error_empty", {}),
        ({M}, "x" * (MAX_TEXT + 1), False, "broadcast.error_too_long", {"limit": MAX_TEXT}),
        (set(), "Hello", True, "broadcast.error_no_audience", {}),
        ({P}, "Hello", False, "broadcast.error_needs_challenge", {}),
        ({G, M}, "Hello", False, "broadcast.error_needs_challenge", {}),
    ],
)
async def test_invalid_drafts_write_nothing(
    services: Services,
    audiences: set[Audience],
    text: str,
    with_challenge: bool,
    key: str,
    params: dict[str, int],
) -> None:
    challenge = await open_challenge(services)
    with pytest.raises(Invalid) as refused:
        await services.broadcasts.create(
            None, audiences, text, challenge.id if with_challenge else None
        )
    assert (refused.value.key, refused.value.params) == (key, params)
    assert await services.broadcasts.recent() == []


async def test_unknown_broadcast(services: Services) -> None:
    b = services.broadcasts
    for call in (b.get, b.progress, b.cancel, b.audience_size):
        with pytest.raises(NotFound) as missing:
            await call(42)
        assert missing.value.key == "broadcast.error_not_found", call


async def test_recent_newest_first_without_drafts(services: Services) -> None:
    first = await services.broadcasts.create(None, {M}, "One")
    second = await services.broadcasts.create(None, {M}, "Two")
    draft = await services.broadcasts.create(None, {M}, "Three")
    assert await services.broadcasts.recent() == []
    await services.broadcasts.confirm(first.id)
    await services.broadcasts.confirm(second.id)
    assert [b.id for b in await services.broadcasts.recent()] == [second.id, first.id]
    edited = await services.broadcasts.edit_text(draft.id, "  Three, better ")
    assert edited.text == "Three, better"
    with pytest.raises(Invalid):
        await services.broadcasts.edit_text(draft.id, " ")
    with pytest.raises(Conflict):
        await services.broadcasts.edit_text(first.id, "Too late")
    await services.broadcasts.discard(draft.id)
    with pytest.raises(NotFound):
        await services.broadcasts.get(draft.id)
    with pytest.raises(Conflict):
        await services.broadcasts.discard(first.id)
    assert [b.id for b in await services.broadcasts.recent(limit=1)] == [second.id]
