"""End to end: the real python-telegram-bot Application, started by the Telegram adapter,
talks over HTTP on 127.0.0.1 to the fake Bot API in `tests/fake_telegram.py`."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import traceback
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bots.telegram.app import (
    SECRET_HEADER,
    Menus,
    TelegramAdapter,
    TokenRefused,
)
from bots.telegram.render import utf16_length
from bots.telegram.sending import RepliesFirst
from conversations.deeplinks import make_payload
from core.app import load_demo
from core.clock import SystemClock
from core.db.tables import groups
from core.drafts import ChallengeDraft
from core.identity import AccountRef, ChatRef, Platform
from core.models import Challenge, ChallengeStatus, Location, Member
from core.pacing import Limit, Limits, Pacer
from core.services import Services
from core.settings import Settings
from tests.fake_telegram import STARTUP, TOKEN, WAIT, FakeTelegram, Person, Sent, group

ALICE = Person(1, "Alice", "fr")
BOB = Person(2, "Bob", "en")
CAROL = Person(3, "Carol", "en")
CLUB = group(-100, "Climate club")
DEMO = "trier-dechets-lyon"
ROOT = Path(__file__).resolve().parent.parent


class Bot:
    """The adapter under test and the fake it talks to."""

    def __init__(self, adapter: TelegramAdapter, fake: FakeTelegram) -> None:
        self.adapter = adapter
        self.fake = fake

    async def send(self, update: dict[str, Any], *, again: bool = False) -> list[Sent]:
        """Deliver an update, wait until the bot has handled it; the new messages it sent
        to the update's chat."""
        chat_id = _chat_id(update)
        seen = {m.message_id for m in self.fake.sent(chat_id)}
        await self.fake.deliver(update, again=again)
        await self.adapter.application.update_queue.join()
        return [m for m in self.fake.sent(chat_id) if m.message_id not in seen]

    async def say(self, person: Person, text: str, chat: dict[str, Any] | None = None) -> str:
        """`person` writes `text`; the text of the bot's new messages."""
        return _joined(await self.send(self.fake.text(person, text, chat)))

    async def press(self, person: Person, label: str, chat_id: int | None = None) -> str:
        """`person` presses `label` on the latest message of their chat that shows it."""
        message = self.last_with(chat_id or person.id, label)
        return _joined(await self.send(self.fake.press(person, message, label)))

    def last_with(self, chat_id: int, label: str) -> Sent:
        for message in reversed(self.fake.sent(chat_id)):
            if any(label in button["text"] for button in message.buttons):
                return message
        raise AssertionError(f"no message of chat {chat_id} shows {label!r}")

    def last(self, chat_id: int) -> Sent:
        return self.fake.sent(chat_id)[-1]


def _chat_id(update: dict[str, Any]) -> int:
    if "callback_query" in update:
        return int(update["callback_query"]["message"]["chat"]["id"])
    for kind in ("message", "my_chat_member"):
        if kind in update:
            return int(update[kind]["chat"]["id"])
    return int(update["inline_query"]["from"]["id"])


def _joined(messages: list[Sent]) -> str:
    return "\n".join(m.text or m.caption or "" for m in messages)


def telegram_settings(settings: Settings, fake: FakeTelegram, **changes: Any) -> Settings:
    update = {"telegram_token": SecretStr(TOKEN), "telegram_base_url": fake.base_url}
    return settings.model_copy(update=update | changes)


@asynccontextmanager
async def running(services: Services, settings: Settings, fake: FakeTelegram) -> AsyncIterator[Bot]:
    adapter = TelegramAdapter(services, settings, webhook_listen="127.0.0.1")
    await adapter.start()
    try:
        yield Bot(adapter, fake)
    finally:
        await adapter.stop()


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def bot(services: Services, settings: Settings, fake: FakeTelegram) -> AsyncIterator[Bot]:
    await load_demo(services, replace=False)
    async with running(services, telegram_settings(settings, fake), fake) as started:
        yield started


async def member_of(services: Services, person: Person) -> Member:
    found = await services.members.find(AccountRef(Platform.TELEGRAM, str(person.id)))
    assert found is not None
    return found


async def demo(services: Services) -> Challenge:
    return await services.challenges.by_slug(DEMO)


async def onboard(bot: Bot, person: Person, language: str = "Français") -> str:
    await bot.say(person, "/start")
    return await bot.press(person, language)


async def pledge_by_buttons(bot: Bot, person: Person) -> str:
    """Alice's way: the card from /challenges, then the buttons, skipping the place."""
    await bot.say(person, "/challenges")
    await bot.press(person, "Trier mes déchets")
    await bot.press(person, "🤝 Je m'engage")
    await bot.press(person, "✅ Oui, je m'engage")
    await bot.press(person, "Passer")
    return await bot.press(person, "Pas de rappel")


# --- start, menus ---------------------------------------------------------------------


async def test_onboarding_in_french(bot: Bot, fake: FakeTelegram) -> None:
    await bot.say(ALICE, "/start")
    choice = bot.last(ALICE.id)
    assert [b["text"] for b in choice.buttons] == ["Français", "English"]
    text = await bot.press(ALICE, "Français")
    assert "je vous parlerai en français" in text
    assert "Bienvenue, Alice" in text
    welcome = bot.last(ALICE.id)
    assert "🔎 Voir les défis" in [b["text"] for b in welcome.buttons]
    assert len(fake.callback_answers) == 1  # the pressed button was answered


async def test_onboarding_in_english(bot: Bot, services: Services) -> None:
    text = await onboard(bot, BOB, "English")
    assert "I will speak English with you" in text
    assert "Welcome, Bob" in text
    assert (await member_of(services, BOB)).language == "en"


PRIVATE = (
    "help",
    "language",
    "challenges",
    "pledge",
    "mypledges",
    "checkin",
    "withdraw",
    "settings",
    "map",
    "pledgeif",
    "cancel",
)


async def test_command_menus_per_scope_and_language(bot: Bot, fake: FakeTelegram) -> None:
    menus = Menus.of(bot.adapter.engine.described())  # from the commands' descriptions
    assert menus == Menus(
        private=PRIVATE,
        organiser=(*PRIVATE, "new", "manage", "broadcast"),
        group=("help", "following", "progress", "map"),
        admin=("follow", "unfollow", "help", "following", "progress", "map"),
    )
    for language in ("", "fr", "en"):
        assert fake.menu("all_private_chats", language) == list(menus.private)
        assert fake.menu("all_group_chats", language) == list(menus.group)
        assert fake.menu("all_chat_administrators", language) == list(menus.admin)
    descriptions = {
        key[1]: {c["command"]: c["description"] for c in commands}
        for key, commands in fake.commands.items()
        if '"all_private_chats"' in key[0]
    }
    assert descriptions["fr"]["challenges"] == "Parcourir les défis ouverts"
    assert descriptions["en"]["challenges"] == "Browse the open challenges"
    assert descriptions[""] == descriptions["fr"]  # KOOM_DEFAULT_LOCALE


# --- the member's journey -------------------------------------------------------------


async def test_full_pledge_by_buttons_with_a_shared_location(
    bot: Bot, fake: FakeTelegram, services: Services
) -> None:
    await onboard(bot, ALICE)
    await bot.say(ALICE, "/challenges")
    card = await bot.press(ALICE, "Trier mes déchets")
    assert "Trier mes déchets à Lyon" in card
    await bot.press(ALICE, "🤝 Je m'engage")
    assert "Merci, Alice" in await bot.press(ALICE, "✅ Oui, je m'engage")
    assert (await demo(services)).pledge_count == 1  # pledged at "Yes"
    await bot.press(ALICE, "📍 Indiquer ma commune")
    prompt, skip = fake.sent(ALICE.id)[-2:]
    assert prompt.reply_markup is not None
    button = prompt.reply_markup["keyboard"][0][0]
    assert button == {"text": "Partager ma position", "request_location": True}
    assert [b["text"] for b in skip.buttons] == ["Passer"]

    saved, reminder = await bot.send(fake.location(ALICE, 45.7640, 4.8357))
    assert "C'est noté" in (saved.text or "")
    assert saved.reply_markup == {"remove_keyboard": True}  # the location keyboard goes
    assert "rappel" in (reminder.text or "")
    share = await bot.press(ALICE, "Pas de rappel")
    assert "https://t.me/koom_test_bot?start=trier-dechets-lyon_" in share

    alice = await member_of(services, ALICE)
    pledge = await services.pledges.get(alice.id, (await demo(services)).id)
    assert pledge is not None and pledge.active
    assert alice.location is not None and alice.location.area_key  # only a coarse area
    assert (await demo(services)).pledge_count == 1


async def test_a_button_press_is_answered_by_its_first_bot_api_call(
    bot: Bot, fake: FakeTelegram
) -> None:
    """On the critical path of a press, the first call the bot makes is the answer the person
    sees (the edit or the message); the spinner's answerCallbackQuery comes after it."""
    await onboard(bot, ALICE)
    await bot.say(ALICE, "/challenges")
    for label in ("Trier mes déchets", "🤝 Je m'engage", "✅ Oui, je m'engage", "Passer"):
        before = len(fake.calls)
        assert await bot.press(ALICE, label)
        methods = [c.method for c in fake.calls[before:] if c.method != "getUpdates"]
        assert methods[0] in ("editMessageText", "sendMessage"), (label, methods)
        assert methods.count("answerCallbackQuery") == 1, (label, methods)
        assert methods[-1] == "answerCallbackQuery", (label, methods)
        assert set(methods[:-1]) <= {"editMessageText", "sendMessage"}, (label, methods)


async def test_a_check_in(bot: Bot, services: Services) -> None:
    await onboard(bot, ALICE)
    await pledge_by_buttons(bot, ALICE)
    text = await bot.say(ALICE, "/checkin")
    assert "Bravo" in text
    alice = await member_of(services, ALICE)
    pledge = await services.pledges.get(alice.id, (await demo(services)).id)
    assert pledge is not None and pledge.checkin_total == 1


async def test_withdraw(bot: Bot, services: Services) -> None:
    await onboard(bot, ALICE)
    await pledge_by_buttons(bot, ALICE)
    question = await bot.say(ALICE, "/withdraw")
    assert "Trier mes déchets à Lyon" in question
    done = await bot.press(ALICE, "Oui, me retirer")
    assert f"/pledge {DEMO}" in done
    alice = await member_of(services, ALICE)
    pledge = await services.pledges.get(alice.id, (await demo(services)).id)
    assert pledge is not None and not pledge.active
    assert (await demo(services)).pledge_count == 0


async def test_a_deep_link_with_a_referrer(bot: Bot, services: Services) -> None:
    await onboard(bot, ALICE)
    thanks = await pledge_by_buttons(bot, ALICE)
    alice = await member_of(services, ALICE)
    link = f"https://t.me/koom_test_bot?start={make_payload(DEMO, alice.id)}"
    assert link in thanks  # Alice's own share link

    await bot.say(BOB, f"/start {make_payload(DEMO, alice.id)}")
    card = await bot.press(BOB, "English")
    assert "Sort my waste in Lyon" in card
    await bot.press(BOB, "🤝")
    await bot.press(BOB, "✅")
    await bot.press(BOB, "Skip")
    await bot.press(BOB, "No reminder")
    bob = await member_of(services, BOB)
    pledge = await services.pledges.get(bob.id, (await demo(services)).id)
    assert pledge is not None and pledge.referrer_id == alice.id


async def test_settings_edit_their_message_in_place(bot: Bot, fake: FakeTelegram) -> None:
    await onboard(bot, ALICE)
    await bot.say(ALICE, "/settings")
    menu = bot.last(ALICE.id)
    assert await bot.press(ALICE, "🔕") == ""  # no new message...
    assert menu.edits == 1  # ...the menu changed in place
    assert "🔔" in " ".join(b["text"] for b in menu.buttons)
    assert len(fake.callback_answers) == 2


async def test_a_message_over_4096_characters_is_split(
    bot: Bot, fake: FakeTelegram, services: Services
) -> None:
    description = ("🌍 " * 1400 + "\n") + "Fin de la description."
    draft = ChallengeDraft(
        slug="long",
        title="Un défi très décrit",
        description=description[:4000],
        action="lire jusqu'au bout",
        goal=100,
        deadline=services.clock.now() + timedelta(days=10),
        status=ChallengeStatus.OPEN,
    )
    await services.challenges.create(draft)
    await onboard(bot, ALICE)
    messages = await bot.send(fake.text(ALICE, "/challenge long"))
    assert len(messages) >= 2
    assert all(utf16_length(m.text or "") <= 4096 for m in messages)
    assert "Fin de la description." in _joined(messages)
    assert messages[-1].buttons and not messages[0].buttons
    assert "Désolé" not in _joined(messages)


async def test_a_forged_button_changes_nothing(
    bot: Bot, fake: FakeTelegram, services: Services
) -> None:
    await onboard(bot, ALICE)
    welcome = bot.last(ALICE.id)
    challenge = await demo(services)
    for data in (f"pledge:remind:{challenge.id}:daily", "x" * 64, "pledge:yes:1:2:3:4"):
        text = _joined(await bot.send(fake.press(ALICE, welcome, data=data)))
        assert "n’est plus valable" in text
    assert len(fake.callback_answers) == 4  # every press was answered
    assert (await demo(services)).pledge_count == 0


# --- groups and inline mode -----------------------------------------------------------


async def test_a_group_added_followed_by_an_admin_refused_to_others(
    bot: Bot, fake: FakeTelegram, services: Services
) -> None:
    hello = _joined(await bot.send(fake.member_change(BOB, CLUB, "left", "member")))
    assert "Hello everyone!" in hello
    club = ChatRef(Platform.TELEGRAM, str(CLUB["id"]), is_group=True)
    assert await services.groups.find(club) is not None

    fake.set_status(CLUB["id"], BOB.id, "administrator")
    assert "now follows" in await bot.say(BOB, f"/follow@koom_test_bot {DEMO}", CLUB)
    assert "administrators" in await bot.say(CAROL, f"/unfollow {DEMO}", CLUB)
    group_row = await services.groups.find(club)
    assert group_row is not None
    assert [c.slug for c in await services.groups.followed_by(group_row.id)] == [DEMO]
    asked = [c.params["user_id"] for c in fake.calls_of("getChatMember")]
    assert asked == [BOB.id, BOB.id, CAROL.id]  # asked each time someone acted

    # The admin's list of challenges is seen by all: a press counts only from an admin.
    await bot.say(BOB, "/unfollow", CLUB)
    assert "administrators" in await bot.press(CAROL, "Sort my waste", CLUB["id"])
    fake.set_status(CLUB["id"], BOB.id, "member")  # demoted meanwhile: refused now
    assert "administrators" in await bot.press(BOB, "Sort my waste", CLUB["id"])
    fake.set_status(CLUB["id"], BOB.id, "creator")
    assert "no longer follows" in await bot.press(BOB, "Sort my waste", CLUB["id"])

    # Progress for everyone, with the way to pledge in private.
    await bot.say(BOB, f"/follow {DEMO}", CLUB)
    await bot.say(CAROL, "/progress", CLUB)
    card = bot.last(CLUB["id"])
    assert "Sort my waste in Lyon" in (card.text or "")
    assert card.buttons[:1] == [
        {"text": "🤝 Pledge (in private)", "url": f"https://t.me/koom_test_bot?start={DEMO}"}
    ]
    # A personal command in the group points to the private chat.
    assert "private chat" in await bot.say(CAROL, "/pledge", CLUB)
    assert bot.last(CLUB["id"]).buttons[0]["url"].startswith("https://t.me/koom_test_bot")


async def test_a_migrated_group_keeps_its_follows_and_a_removed_one_is_unreachable(
    bot: Bot, fake: FakeTelegram, services: Services
) -> None:
    await bot.send(fake.member_change(BOB, CLUB, "left", "administrator"))
    fake.set_status(CLUB["id"], BOB.id, "administrator")
    await bot.say(BOB, f"/follow {DEMO}", CLUB)
    await bot.send(fake.migration(BOB, CLUB, -1001))
    supergroup = group(-1001, "Climate club", "supergroup")
    assert "Sort my waste in Lyon" in await bot.say(CAROL, "/following", supergroup)

    await bot.send(fake.member_change(BOB, supergroup, "member", "left"))
    async with services.db.read() as conn:
        row = (
            await conn.execute(select(groups.c.unreachable_at).where(groups.c.chat_id == "-1001"))
        ).one()
    assert row.unreachable_at is not None


async def test_inline_mode_offers_challenge_cards(
    bot: Bot, fake: FakeTelegram, services: Services
) -> None:
    await bot.send(fake.inline(BOB, "tri"))
    (answer,) = fake.inline_answers.values()
    (article,) = answer["results"]
    assert article["title"] == "Sort my waste in Lyon"
    assert article["description"] == "Nobody yet: be the first! · sort my waste"  # not 0 %
    assert "Sort my waste in Lyon" in article["input_message_content"]["message_text"]
    button = article["reply_markup"]["inline_keyboard"][0][0]
    assert button == {
        "text": "🌱 Open in climat-koom",
        "url": f"https://t.me/koom_test_bot?start={DEMO}",
    }
    # A member sharing a card is credited for whoever pledges through it.
    await onboard(bot, ALICE)
    await bot.send(fake.inline(ALICE, "LYON déchets"))
    alice = await member_of(services, ALICE)
    shared = list(fake.inline_answers.values())[-1]["results"][0]["reply_markup"]
    assert shared["inline_keyboard"][0][0]["url"].endswith(make_payload(DEMO, alice.id))
    await bot.send(fake.inline(BOB, "vélo"))
    assert list(fake.inline_answers.values())[-1]["results"] == []


# --- reliability ----------------------------------------------------------------------


async def test_a_blocked_member_is_unreachable_until_start(
    bot: Bot, fake: FakeTelegram, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    account = AccountRef(Platform.TELEGRAM, str(ALICE.id))
    await onboard(bot, ALICE)
    assert await services.members.is_reachable(account)
    await bot.send(fake.member_change(ALICE, ALICE.chat(), "member", "kicked"))
    assert not await services.members.is_reachable(account)
    assert "Bienvenue" in await bot.say(ALICE, "/start")
    assert await services.members.is_reachable(account)

    # Blocked without us hearing of it: the 403 on sending says so.
    fake.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=ALICE.id)
    with caplog.at_level(logging.ERROR):
        assert await bot.say(ALICE, "/help") == ""
    assert not await services.members.is_reachable(account)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # no apology, no error


async def test_the_same_update_delivered_twice_counts_once(
    bot: Bot, fake: FakeTelegram, services: Services
) -> None:
    await onboard(bot, ALICE)
    await bot.say(ALICE, "/pledge")
    await bot.press(ALICE, "✅ Oui, je m'engage")
    await bot.press(ALICE, "Passer")
    press = fake.press(ALICE, bot.last_with(ALICE.id, "Pas de rappel"), "Pas de rappel")
    assert "Embarquez vos proches" in _joined(await bot.send(press))
    assert await bot.send(press, again=True) == []  # redelivered after a crash
    assert (await demo(services)).pledge_count == 1
    assert len(fake.calls_of("answerCallbackQuery")) == 4


async def test_a_restart_in_the_middle_of_a_flow_continues_where_it_was(
    services: Services, settings: Settings, fake: FakeTelegram
) -> None:
    await load_demo(services, replace=False)
    settings = telegram_settings(settings, fake)
    async with running(services, settings, fake) as bot:
        await onboard(bot, ALICE)
        await bot.say(ALICE, f"/pledge {DEMO}")
    async with running(services, settings, fake) as bot:
        consent = await bot.press(ALICE, "✅ Oui, je m'engage")
        assert "commune" in consent
        await bot.press(ALICE, "Passer")
        assert "Embarquez vos proches" in await bot.press(ALICE, "Pas de rappel")
    assert (await demo(services)).pledge_count == 1


async def test_an_error_is_logged_with_the_update_id_and_apologised_for(
    bot: Bot, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    await onboard(bot, ALICE)
    fake.fail("sendMessage", 400, "Bad Request: can't parse entities", chat_id=ALICE.id)
    caplog.set_level(logging.DEBUG)
    update = fake.text(ALICE, "/help")
    messages = await bot.send(update)
    assert (
        _joined(messages)
        == "Désolé, quelque chose s'est mal passé de notre côté. Réessayez dans un instant."
    )
    failure = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert f"Telegram update {update['update_id']} failed" in failure[0].getMessage()
    assert TOKEN not in caplog.text
    assert "Voici ce que je sais faire" in await bot.say(ALICE, "/help")  # still running


async def test_flood_control_is_waited_out(bot: Bot, fake: FakeTelegram) -> None:
    await onboard(bot, ALICE)
    fake.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    assert "Voici ce que je sais faire" in await bot.say(ALICE, "/help")


async def test_polling_survives_a_network_error(bot: Bot, fake: FakeTelegram) -> None:
    fake.fail("getUpdates", 502, "Bad Gateway")
    await onboard(bot, ALICE)
    assert "Voici ce que je sais faire" in await bot.say(ALICE, "/help")
    assert any(c.method == "getUpdates" for c in fake.calls)


async def test_webhook_mode_checks_the_secret_and_skips_retries(
    services: Services, settings: Settings, fake: FakeTelegram
) -> None:
    await load_demo(services, replace=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = telegram_settings(
        settings,
        fake,
        telegram_webhook_url=f"http://127.0.0.1:{port}/telegram/hook",
        telegram_webhook_secret=SecretStr("s3cret_token-1"),
        telegram_webhook_port=port,
    )
    async with running(services, settings, fake) as bot:
        assert fake.webhook is not None
        assert fake.webhook["secret_token"] == "s3cret_token-1"
        assert not fake.calls_of("getUpdates")
        start = fake.text(ALICE, "/start")
        assert await fake.post_webhook(start, secret="wrong") == 403
        assert await bot.send(start) != []
        assert await bot.send(start) == []  # Telegram retried: handled once
        assert "Bienvenue" in await bot.press(ALICE, "Français")


async def test_webhook_answers_400_to_a_json_list_and_names_no_server_version(
    services: Services, settings: Settings, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/telegram/hook"
    settings = telegram_settings(
        settings,
        fake,
        telegram_webhook_url=url,
        telegram_webhook_secret=SecretStr("s3cret_token-1"),
        telegram_webhook_port=port,
    )
    headers = {SECRET_HEADER: "s3cret_token-1"}
    async with running(services, settings, fake) as bot, aiohttp.ClientSession() as session:
        for body in ([fake.text(ALICE, "/start")], "a string", 12, None):
            async with session.post(url, json=body, headers=headers) as response:
                assert response.status == 400, body
                assert "aiohttp" not in response.headers.get("Server", "")
                assert "Traceback" not in await response.text()
        assert "Traceback" not in caplog.text
        assert await bot.send(fake.text(ALICE, "/start")) != []  # still serving


async def test_a_refused_token_is_reported_without_the_token(
    services: Services, settings: Settings, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "1234:WrongTokenNeverShown"
    settings = telegram_settings(settings, fake, telegram_token=SecretStr(wrong))
    adapter = TelegramAdapter(services, settings)
    with pytest.raises(TokenRefused) as refused:
        await adapter.start()
    assert wrong not in "".join(traceback.format_exception(refused.value))
    assert wrong not in caplog.text


async def test_admin_checks_do_not_spend_a_groups_message_budget() -> None:
    one_an_hour = Limits(
        overall=Limit(30, timedelta(seconds=1)),
        private_chat=Limit(1, timedelta(seconds=1)),
        group=Limit(1, timedelta(hours=1)),
    )
    limits = RepliesFirst(Pacer(one_an_hour, SystemClock()))
    made: list[str] = []

    async def call(endpoint: str, data: dict[str, Any]) -> bool:
        made.append(endpoint)
        return True

    message = {"chat_id": -100, "text": "Bonjour"}
    await limits.process_request(call, ("sendMessage", message), {}, "sendMessage", message, None)
    # The group's budget is spent for an hour; asking about an administrator still goes.
    member = {"chat_id": -100, "user_id": 2}
    asked = limits.process_request(
        call, ("getChatMember", member), {}, "getChatMember", member, None
    )
    await asyncio.wait_for(asked, WAIT)
    assert made == ["sendMessage", "getChatMember"]


async def test_one_persons_updates_run_in_order_beside_others(bot: Bot, fake: FakeTelegram) -> None:
    await onboard(bot, ALICE)
    await onboard(bot, BOB, "English")
    commands = ["/help", "/challenges", "/mypledges", "/settings"]
    updates = [fake.text(person, c) for c in commands for person in (ALICE, BOB)]
    for update in updates[:-1]:
        await fake.push(update)
    await bot.send(updates[-1])
    expected = {
        ALICE.id: ["Voici ce que je sais faire", "Défis ouverts", "pas encore", "Vos réglages"],
        BOB.id: ["Here is what I can do", "Open challenges", "no pledge yet", "Your settings"],
    }
    for chat_id, marks in expected.items():
        replies = fake.texts(chat_id)[-4:]
        assert all(mark in reply for mark, reply in zip(marks, replies, strict=True)), replies


async def test_koom_run_serves_telegram_until_stopped(fake: FakeTelegram, tmp_path: Path) -> None:
    """What a campaign does: a token in the environment, `koom run`, Ctrl-C."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DISCORD_"))}
    env |= {
        "TELEGRAM_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": fake.base_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'koom.db'}",
        "KOOM_DEFAULT_LOCALE": "fr",
        "PYTHONPATH": str(ROOT),
    }
    koom = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots.cli", "run", cwd=tmp_path, env=env, stderr=PIPE
    )
    try:
        await fake.wait_until(lambda: bool(fake.calls_of("getUpdates")), seconds=STARTUP)
        await fake.deliver(fake.text(ALICE, f"/start {DEMO}"))
        await fake.wait_until(lambda: bool(fake.sent(ALICE.id)))
        assert [b["text"] for b in fake.sent(ALICE.id)[0].buttons] == ["Français", "English"]
    finally:
        koom.send_signal(signal.SIGINT)
        _, stderr = await koom.communicate()
    assert koom.returncode == 0, stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert TOKEN not in stderr.decode()


async def test_an_organiser_answers_the_creation_form_one_field_at_a_time(
    bot: Bot, fake: FakeTelegram
) -> None:
    olga = Person(999, "Olga", "en")  # telegram:999 is in KOOM_ORGANISERS
    await onboard(bot, olga, "English")
    asked = await bot.send(fake.text(olga, "/new"))
    assert "Title" in (asked[-1].text or "")
    ask = fake.calls_of("sendMessage")[-1].params["reply_markup"]
    assert ask["force_reply"] and ask["input_field_placeholder"]  # the example, as a hint
    assert "action each person pledges to" in await bot.say(olga, "Vélo au travail")
    assert "Description" in await bot.say(olga, "aller au travail à vélo")
    assert "how many people" in await bot.press(olga, "Skip")  # the description may wait


async def _pledgers_in_lyon(services: Services, challenge: Challenge, n: int = 3) -> None:
    """`n` pledgers who gave Lyon as their place: enough to be shown on the map."""
    for i in range(n):
        pledger = await services.members.ensure(AccountRef.parse(f"console:lyon{i}"), f"L{i}")
        await services.members.set_location(pledger.id, Location("Lyon", 45.76, 4.83, "fr:69123"))
        await services.pledges.pledge(pledger.id, challenge.id)


async def test_map_is_a_photo_in_private_and_in_a_group(bot: Bot, services: Services) -> None:
    await _pledgers_in_lyon(services, await demo(services))
    sent = await bot.send(bot.fake.text(ALICE, f"/map {DEMO}"))
    [photo] = [m for m in sent if m.photo is not None]
    assert photo.photo is not None and photo.photo.startswith(b"\x89PNG")
    assert "3" in (photo.caption or "")
    await bot.say(BOB, "/help", CLUB)
    in_group = await bot.send(bot.fake.text(BOB, f"/map {DEMO}", CLUB))
    assert any(m.photo is not None for m in in_group)
