"""Telegram updates read as neutral inputs, and the platform events the adapter handles."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Update, User

from bots.telegram.inbound import (
    Blocked,
    Incoming,
    InlineSearch,
    Migrated,
    RemovedFromGroup,
    parse,
)
from conversations.model import ChoiceInput, Command, LocationInput, TextInput
from core.identity import AccountRef, ChatRef, Platform
from tests.fake_telegram import BOT_USER, FakeTelegram, Person, Sent, group

BOT = User.de_json(BOT_USER, None)
ALICE = Person(1, "Alice", "fr")
BOB = Person(2, "Bob", "en")
CLUB = group(-100, "Club climat")


@pytest.fixture
def fake() -> FakeTelegram:
    """Only the update builders are used: no server runs."""
    return FakeTelegram()


def read(data: dict[str, Any]) -> object:
    return parse(Update.de_json(data, None), BOT)


def incoming(data: dict[str, Any]) -> Incoming:
    event = read(data)
    assert isinstance(event, Incoming)
    return event


@pytest.mark.parametrize(
    "text,expected",
    [
        ("/start", Command("start")),
        ("/start trier-dechets-lyon_2s", Command("start", "trier-dechets-lyon_2s")),
        ("/Pledge@koom_test_bot  tri-lyon ", Command("pledge", "tri-lyon")),
        ("/follow\ntri-lyon", Command("follow", "tri-lyon")),
        ("Villeurbanne", TextInput("Villeurbanne")),
        ("/ hello", TextInput("/ hello")),
    ],
)
def test_private_messages(fake: FakeTelegram, text: str, expected: object) -> None:
    event = incoming(fake.text(ALICE, text))
    assert event.envelope.input == expected
    assert event.envelope.sender.account == AccountRef(Platform.TELEGRAM, "1")
    assert event.envelope.sender.display_name == "Alice"
    assert event.envelope.sender.language_code == "fr"
    assert event.envelope.chat == ChatRef(Platform.TELEGRAM, "1")
    assert event.chat_id == 1 and event.callback_id is None


def test_a_command_for_another_bot_is_ignored(fake: FakeTelegram) -> None:
    assert read(fake.text(ALICE, "/start@other_bot")) is None


def test_a_card_shared_through_inline_mode_is_not_an_input(fake: FakeTelegram) -> None:
    data = fake.text(ALICE, "Trier mes déchets à Lyon")
    data["message"]["via_bot"] = BOT_USER
    assert read(data) is None


def test_a_location_is_an_input(fake: FakeTelegram) -> None:
    event = incoming(fake.location(ALICE, 45.76, 4.84))
    assert event.envelope.input == LocationInput(45.76, 4.84)


def test_a_pressed_button_is_a_choice_on_its_message(fake: FakeTelegram) -> None:
    message = Sent(1, 55, text="Carte", reply_markup={"inline_keyboard": [[]]})
    event = incoming(fake.press(ALICE, message, data="browse:page:1"))
    assert event.envelope.input == ChoiceInput("browse:page:1")
    assert event.pressed == 55
    assert event.callback_id is not None


def test_groups_take_commands_and_replies_to_the_bot_only(fake: FakeTelegram) -> None:
    event = incoming(fake.text(BOB, "/follow tri-lyon", chat=CLUB))
    assert event.envelope.chat == ChatRef(Platform.TELEGRAM, "-100", is_group=True)
    assert event.envelope.chat.title == "Club climat"
    assert event.envelope.input == Command("follow", "tri-lyon")
    assert read(fake.text(BOB, "bonjour tout le monde", chat=CLUB)) is None
    ours = Sent(-100, 9, text="Quelle commune ?")
    reply = incoming(fake.text(BOB, "Lyon", chat=CLUB, reply_to=ours))
    assert reply.envelope.input == TextInput("Lyon")


def test_an_anonymous_administrator_speaks_as_the_group(fake: FakeTelegram) -> None:
    data = fake.text(BOB, "/follow", chat=CLUB)
    data["message"]["sender_chat"] = CLUB
    assert incoming(data).anonymous_admin


def test_the_bot_added_to_a_group_introduces_itself(fake: FakeTelegram) -> None:
    event = incoming(fake.member_change(BOB, CLUB, "left", "member"))
    assert event.envelope.input == Command("start")
    assert event.envelope.chat.is_group
    assert event.envelope.sender.language_code == "en"
    # Promoted to administrator: nothing to say.
    assert read(fake.member_change(BOB, CLUB, "member", "administrator")) is None


def test_removal_blocking_and_migration(fake: FakeTelegram) -> None:
    removed = read(fake.member_change(BOB, CLUB, "member", "left"))
    assert removed == RemovedFromGroup(ChatRef(Platform.TELEGRAM, "-100", is_group=True))
    blocked = read(fake.member_change(ALICE, ALICE.chat(), "member", "kicked"))
    assert blocked == Blocked(AccountRef(Platform.TELEGRAM, "1"))
    assert read(fake.member_change(ALICE, ALICE.chat(), "kicked", "member")) is None
    migrated = read(fake.migration(BOB, CLUB, -1001))
    assert migrated == Migrated(ChatRef(Platform.TELEGRAM, "-100", is_group=True), "-1001")


def test_inline_queries(fake: FakeTelegram) -> None:
    event = read(fake.inline(BOB, "  tri "))
    assert isinstance(event, InlineSearch)
    assert event.query == "tri"
    assert event.sender.account == AccountRef(Platform.TELEGRAM, "2")
