"""Announcements end to end: pledges cross a milestone, the fan-out writes one delivery per chat,
and the delivery worker sends them through the real Telegram and Discord clients to the fakes
of `tests/fake_telegram.py` and `tests/fake_discord.py`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from pydantic import SecretStr

from bots.discord.app import DiscordAdapter
from bots.telegram.app import TelegramAdapter
from core.clock import FakeClock
from core.db.database import Database
from core.delivery.fanout import fan_out
from core.delivery.protocol import Notice, Outcome
from core.delivery.worker import DeliveryWorker
from core.i18n import Translator
from core.identity import AccountRef, ChatRef, Platform
from core.models import Challenge, EventKind
from core.services import Services
from core.services.broadcasts import Audience
from core.settings import Settings
from tests import fake_discord
from tests.factories import open_challenge
from tests.fake_discord import FakeDiscord, Where
from tests.fake_telegram import FakeTelegram, Person, group
from tests.test_telegram_e2e import Bot as TelegramBot

ALICE = Person(1, "Alice", "fr")
BOB = Person(2, "Bob", "en")
CAROL = Person(3, "Carol", "en")
CLUB = group(-100, "Climate club")
DANA = 42  # on Discord


@dataclass
class Platforms:
    """Both fakes, both adapters started against them, and the services behind them."""

    services: Services
    clock: FakeClock
    telegram: FakeTelegram
    telegram_bot: TelegramBot
    discord: FakeDiscord
    discord_adapter: DiscordAdapter

    def worker(self) -> DeliveryWorker:
        adapters = {Platform.TELEGRAM: self.telegram_bot.adapter}
        return DeliveryWorker(self.services, adapters | {Platform.DISCORD: self.discord_adapter})


@pytest.fixture
async def platforms(db: Database, clock: FakeClock) -> AsyncIterator[Platforms]:
    telegram, discord = FakeTelegram(), FakeDiscord()
    await telegram.start()
    await discord.start()
    settings = Settings(
        _env_file=None,
        DATABASE_URL=db.url,
        DISCORD_TOKEN=fake_discord.TOKEN,
        DISCORD_API_BASE_URL=discord.api_url,
        DISCORD_GATEWAY_URL=discord.gateway_url,
        KOOM_DEFAULT_LOCALE="fr",
    ).model_copy(
        update={
            "telegram_token": SecretStr(telegram.token),
            "telegram_base_url": telegram.base_url,
        }
    )
    services = Services(db=db, settings=settings, clock=clock)
    telegram_adapter = TelegramAdapter(services, settings, webhook_listen="127.0.0.1")
    discord_adapter = DiscordAdapter(services, settings)
    await telegram_adapter.start()
    try:
        await discord_adapter.start()
        try:
            yield Platforms(
                services,
                clock,
                telegram,
                TelegramBot(telegram_adapter, telegram),
                discord,
                discord_adapter,
            )
        finally:
            await discord_adapter.stop()
    finally:
        await telegram_adapter.stop()
        await telegram.close()
        await discord.close()


async def follow(services: Services, chat: ChatRef, challenge: Challenge) -> None:
    registered = await services.groups.register(chat, chat.title)
    assert await services.groups.follow(registered.id, challenge.id)


async def pledge(services: Services, account: AccountRef, name: str, challenge: Challenge) -> None:
    pledger = await services.members.ensure(account, name)
    await services.pledges.pledge(pledger.id, challenge.id)


def telegram_account(person: Person) -> AccountRef:
    return AccountRef(Platform.TELEGRAM, str(person.id))


async def test_a_milestone_is_announced_once_per_chat_on_both_platforms(
    platforms: Platforms,
) -> None:
    services, telegram, discord = platforms.services, platforms.telegram, platforms.discord
    bot = platforms.telegram_bot
    challenge = await open_challenge(services, slug="velo-lyon", goal=16, tiers=())
    for person in (ALICE, BOB, CAROL):  # Telegram learns of their chats
        await bot.say(person, "/help")
    await bot.say(ALICE, "/help", CLUB)
    channel: Where = await discord.add_guild("Lyon Climat")
    dm = discord.dm(DANA)
    await follow(services, ChatRef(Platform.TELEGRAM, "-100", True, "Climate club"), challenge)
    await follow(
        services, ChatRef(Platform.DISCORD, str(channel.channel_id), True, "general"), challenge
    )
    before = {chat: len(telegram.sent(chat)) for chat in (-100, ALICE.id, BOB.id, CAROL.id)}

    for person in (ALICE, BOB, CAROL):
        await pledge(services, telegram_account(person), person.first_name, challenge)
    # Eve's pledge crosses 25 % (4/16): her thanks said so, she is not told again.
    await pledge(services, AccountRef(Platform.CONSOLE, "eve"), "Eve", challenge)
    await pledge(services, AccountRef(Platform.DISCORD, str(DANA)), "Dana", challenge)
    assert await fan_out(services) == 6

    telegram.blocked.add(CAROL.id)
    telegram.fail(
        "sendMessage", 429, "Too Many Requests: retry after 30", retry_after=30, chat_id=BOB.id
    )
    worker = platforms.worker()
    assert await worker.run_once() == 6

    def new(chat: int) -> list[str]:
        return telegram.texts(chat)[before[chat] :]

    for chat in (-100, ALICE.id):
        [announcement] = new(chat)
        assert challenge.title in announcement and "25" in announcement
    [in_channel] = discord.messages_in(channel.channel_id)
    [in_dm] = discord.messages_in(dm.channel_id)
    assert challenge.title in in_channel["content"] and challenge.title in in_dm["content"]
    assert new(BOB.id) == []  # rate limited: later
    assert new(CAROL.id) == []
    assert not await services.members.is_reachable(telegram_account(CAROL))
    assert await services.members.is_reachable(telegram_account(BOB))

    assert await worker.run_once() == 0  # Bob's wait is not over
    platforms.clock.advance(timedelta(seconds=31))
    assert await worker.run_once() == 1
    [late] = new(BOB.id)
    assert challenge.title in late

    assert await fan_out(services) == 0
    assert await worker.run_once() == 0
    for chat in (-100, ALICE.id, BOB.id):
        assert len(new(chat)) == 1
    assert (
        len(discord.messages_in(channel.channel_id)) == len(discord.messages_in(dm.channel_id)) == 1
    )
    to_carol = [c for c in telegram.calls_of("sendMessage") if c.params.get("chat_id") == CAROL.id]
    assert len(to_carol) == 2  # her /help answer, then the refused announcement only


def milestone(challenge: Challenge) -> Notice:
    payload = {"percent": 25, "count": 4, "goal": 16}
    return Notice(EventKind.MILESTONE.value, challenge.id, "en", payload)


async def test_telegram_refusals_map_to_outcomes(platforms: Platforms) -> None:
    services, telegram = platforms.services, platforms.telegram
    adapter = platforms.telegram_bot.adapter
    challenge = await open_challenge(services, slug="velo-lyon", goal=16, tiers=())
    await platforms.telegram_bot.say(ALICE, "/help")
    private = ChatRef(Platform.TELEGRAM, str(ALICE.id))
    notices = [milestone(challenge), milestone(challenge)]

    telegram.fail("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    limited = await adapter.deliver(private, notices)
    assert limited.outcome is Outcome.RETRY and limited.retry_after == timedelta(seconds=7)
    assert len(telegram.calls_of("sendMessage")) == 2  # not retried inside python-telegram-bot

    telegram.fail("sendMessage", 502, "Bad Gateway")
    assert (await adapter.deliver(private, notices)).outcome is Outcome.RETRY

    unknown = ChatRef(Platform.TELEGRAM, "-999", is_group=True)
    assert (await adapter.deliver(unknown, notices)).outcome is Outcome.GONE
    telegram.kicked.add(ALICE.id)
    assert (await adapter.deliver(private, notices)).outcome is Outcome.GONE
    telegram.kicked.clear()

    sent = await adapter.deliver(private, notices)
    assert sent.outcome is Outcome.SENT
    [coalesced] = telegram.texts(ALICE.id)[-1:]
    assert coalesced.count(challenge.title) == 2  # both notices, one message


async def test_pledges_on_both_platforms_then_reminders_answered_with_one_tap(
    platforms: Platforms,
) -> None:
    """Alice pledges on Telegram and Dana on Discord, through the bots: the 50 % milestone
    their pledges cross is announced once in each following group; then each gets a reminder
    at 18:00 and records the check-in by pressing Done under it."""
    services, telegram, discord = platforms.services, platforms.telegram, platforms.discord
    bot, adapter, fr = platforms.telegram_bot, platforms.discord_adapter, Translator("fr")
    challenge = await open_challenge(services, slug="velo-lyon", goal=4, tiers=())
    await bot.say(ALICE, "/help", CLUB)
    channel: Where = await discord.add_guild("Lyon Climat")
    await follow(services, ChatRef(Platform.TELEGRAM, "-100", True, "Climate club"), challenge)
    await follow(
        services, ChatRef(Platform.DISCORD, str(channel.channel_id), True, "general"), challenge
    )
    in_club = len(telegram.sent(-100))

    await bot.say(ALICE, "/pledge velo-lyon")
    await bot.press(ALICE, fr("pledge.button_yes"))
    await bot.press(ALICE, fr("pledge.button_skip"))
    await bot.press(ALICE, fr("pledge.reminder_daily"))
    dana, dm = fake_discord.user_payload(DANA, "Dana"), discord.dm(DANA)
    confirm = await discord.slash(dana, dm, "pledge", challenge="velo-lyon")
    await adapter.idle()
    for label in ("pledge.button_yes", "pledge.button_skip", "pledge.reminder_daily"):
        message = discord.messages[(confirm.message_ids or confirm.edited_ids)[-1]]
        custom_id = next(
            c["custom_id"]
            for row in message["components"]
            for c in row["components"]
            if c.get("label") == fr(label)
        )
        confirm = await discord.press(dana, dm, message, custom_id)
        await adapter.idle()
    assert (await services.progress.of(challenge.id)).challenge.pledge_count == 2

    worker = platforms.worker()
    await fan_out(services)
    await worker.run_once()
    await fan_out(services)
    assert await worker.run_once() == 0  # nothing twice
    [club_news] = telegram.texts(-100)[in_club:]
    [channel_news] = [m["content"] for m in discord.messages_in(channel.channel_id)]
    for news in (club_news, channel_news):
        assert "25" in news and "50" in news and challenge.title in news  # coalesced, once

    platforms.clock.set(platforms.clock.now().replace(hour=17, minute=0))  # 18:00 in Paris
    assert await services.reminders.sweep() == 2
    assert await worker.run_once() == 2
    reminder = bot.last_with(ALICE.id, fr("reminder.button_done"))
    assert challenge.action in reminder.text
    await bot.press(ALICE, fr("reminder.button_done"))
    [dm_reminder] = [
        m
        for m in discord.messages_in(dm.channel_id)
        if fr("reminder.button_done") in str(m["components"])
    ]
    done_id = next(
        c["custom_id"]
        for row in dm_reminder["components"]
        for c in row["components"]
        if c.get("label") == fr("reminder.button_done")
    )
    await discord.press(dana, dm, dm_reminder, done_id)
    await adapter.idle()

    for account in (telegram_account(ALICE), AccountRef(Platform.DISCORD, str(DANA))):
        found = await services.members.find(account)
        assert found is not None
        pledge_row = await services.pledges.get(found.id, challenge.id)
        assert pledge_row is not None and pledge_row.checkin_total == 1


async def test_a_broadcast_on_discord_reaches_the_reachable_only(platforms: Platforms) -> None:
    """Closed DMs are gone (and the member unreachable), an opt-out hears nothing, a following
    channel and the other members get the broadcast once, through the real discord.py."""
    services, discord = platforms.services, platforms.discord
    challenge = await open_challenge(services, slug="velo-lyon", goal=100, tiers=())
    channel: Where = await discord.add_guild("Lyon Climat")
    await follow(
        services, ChatRef(Platform.DISCORD, str(channel.channel_id), True, "general"), challenge
    )
    people = {user_id: AccountRef(Platform.DISCORD, str(user_id)) for user_id in (51, 52, 53, 54)}
    for user_id, account in people.items():
        await pledge(services, account, f"P{user_id}", challenge)
    discord.closed_dms.add(52)
    opted_out = await services.members.find(people[53])
    assert opted_out is not None
    await services.members.update(opted_out.id, news_opt_out=True)

    audiences = {Audience.PLEDGERS, Audience.GROUPS}
    draft = await services.broadcasts.create(None, audiences, "Rendez-vous samedi !", challenge.id)
    await services.broadcasts.confirm(draft.id)
    await services.broadcasts.launch_due()
    worker = platforms.worker()
    while await worker.run_once():
        pass

    def got(where: Where) -> int:
        return sum(
            "Rendez-vous samedi" in m["content"] for m in discord.messages_in(where.channel_id)
        )

    assert got(channel) == got(discord.dm(51)) == got(discord.dm(54)) == 1
    assert got(discord.dm(52)) == got(discord.dm(53)) == 0
    assert not await services.members.is_reachable(people[52])
    progress = await services.broadcasts.progress(draft.id)
    assert (progress.sent, progress.failed, progress.remaining) == (3, 1, 0)
