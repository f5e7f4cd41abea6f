"""Neutral replies planned as Bot API calls: keyboards, edits, the location keyboard and
Telegram's length limits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest
from telegram import Bot, ForceReply, ReplyKeyboardMarkup

from bots.telegram.render import (
    AddButtons,
    Call,
    Edit,
    Photo,
    Send,
    execute,
    fit_text,
    keyboard,
    plan,
    utf16_length,
)
from conversations.model import AskLocation, AskText, Choice, End, Image, Message
from core.i18n import Translator
from tests.fake_telegram import TOKEN, FakeTelegram, Person

T = Translator("fr")
ALICE = Person(1, "Alice", "fr")
YES = Choice("pledge:yes:1", "Oui")
NO = Choice("pledge:no:1", "Non")
SKIP = Choice("pledge:loc_skip:1", "Passer")
LINK = Choice("", "Ouvrir", "https://t.me/koom_test_bot?start=tri")


def test_choices_become_inline_buttons_and_links_url_buttons() -> None:
    markup = keyboard([[YES, NO], [LINK]])
    assert markup is not None
    assert markup.to_dict() == {
        "inline_keyboard": [
            [
                {"text": "Oui", "callback_data": "pledge:yes:1"},
                {"text": "Non", "callback_data": "pledge:no:1"},
            ],
            [{"text": "Ouvrir", "url": "https://t.me/koom_test_bot?start=tri"}],
        ]
    }
    assert keyboard([]) is None


def test_a_replacing_message_edits_the_pressed_one_only() -> None:
    replies = [Message("Page 2", ((YES,),), replaces=True), Message("Encore", replaces=True)]
    calls = plan(replies, T, private=True, pressed=7).calls
    assert isinstance(calls[0], Edit) and calls[0].message_id == 7
    assert calls[0].markup == keyboard([[YES]])
    assert calls[1] == Send("Encore")
    # Without a pressed message (a typed command), it is a new message.
    assert plan(replies[:1], T, private=True).calls == (Send("Page 2", keyboard([[YES]])),)


def test_long_texts_are_cut_in_utf16_units_with_buttons_on_the_last_part() -> None:
    text = "\n".join(["🌍" * 3000, "a" * 100])  # 3,101 code points but 6,101 UTF-16 units
    calls = plan([Message(text, ((YES,),))], T, private=True).calls
    assert len(calls) == 2
    assert all(isinstance(c, Send) and utf16_length(c.text) <= 4096 for c in calls)
    assert [c.markup for c in calls if isinstance(c, Send)][-1] == keyboard([[YES]])
    assert "".join(fit_text(text)).replace("\n", "") == text.replace("\n", "")


def test_a_long_caption_goes_under_the_picture() -> None:
    calls = plan([Image(b"png", "x" * 2000, "carte.png")], T, private=True).calls
    assert calls == (Photo(b"png", "carte.png", ""), Send("x" * 2000))
    assert plan([Image(b"png", "Carte", "c.png")], T, private=True).calls == (
        Photo(b"png", "c.png", "Carte"),
    )


def test_location_requests_show_a_keyboard_in_private_chats_only() -> None:
    ask = AskLocation("Où êtes-vous ?", "Partager ma position", SKIP)
    private = plan([ask], T, private=True)
    first, second = private.calls
    assert isinstance(first, Send) and isinstance(first.markup, ReplyKeyboardMarkup)
    button = first.markup.keyboard[0][0]
    assert button.text == "Partager ma position" and button.request_location
    assert first.markup.one_time_keyboard
    assert second == Send(T("telegram.location_skip"), keyboard([[SKIP]]))
    assert private.keyboard_shown
    group = plan([ask], T, private=False)
    assert group.calls == (Send("Où êtes-vous ?", keyboard([[SKIP]])),)
    assert not group.keyboard_shown


def test_the_first_new_message_after_a_location_request_removes_the_keyboard() -> None:
    replies = [Message("Noté"), Message("Rappel ?", ((YES,),))]
    plain = plan(replies, T, private=True, keyboard_shown=True)
    assert shape(plain.calls) == [
        ("send", "Noté", {"remove_keyboard": True}),
        ("send", "Rappel ?", keyboard([[YES]]).to_dict()),  # type: ignore[union-attr]
    ]
    assert not plain.keyboard_shown
    # A message with buttons carries the removal, then gets its buttons back.
    buttons = plan([Message("Rappel ?", ((YES,),)), End()], T, private=True, keyboard_shown=True)
    assert shape(buttons.calls) == [
        ("send", "Rappel ?", {"remove_keyboard": True}),
        ("buttons", "", keyboard([[YES]]).to_dict()),  # type: ignore[union-attr]
    ]
    # An edit cannot remove it: it waits for a new message.
    edit = plan([Message("Page", replaces=True)], T, private=True, pressed=3, keyboard_shown=True)
    assert edit.keyboard_shown


def shape(calls: Sequence[Call]) -> list[tuple[str, str, dict[str, object] | None]]:
    """Calls as plain values (some markups cannot be compared)."""
    found: list[tuple[str, str, dict[str, object] | None]] = []
    for call in calls:
        match call:
            case Send(text=text, markup=markup):
                found.append(("send", text, markup.to_dict() if markup else None))
            case AddButtons(markup=markup):
                found.append(("buttons", "", markup.to_dict()))
            case _:
                found.append((type(call).__name__, "", None))
    return found


def test_text_requests_show_the_placeholder_in_private_chats() -> None:
    calls = plan([AskText("Combien ?", "1000")], T, private=True).calls
    assert calls == (Send("Combien ?", ForceReply(input_field_placeholder="1000")),)
    assert plan([AskText("Combien ?")], T, private=True).calls == (Send("Combien ?"),)
    assert plan([AskText("Combien ?", "1000")], T, private=False).calls == (Send("Combien ?"),)


def test_blank_texts_are_not_sent() -> None:
    assert plan([Message("  \n"), End()], T, private=True).calls == ()


# --- the calls made against the fake Bot API -----------------------------------------


@pytest.fixture
async def api() -> AsyncIterator[tuple[FakeTelegram, Bot]]:
    fake = FakeTelegram()
    await fake.start()
    bot = Bot(TOKEN, base_url=fake.base_url)
    await bot.initialize()
    fake.text(ALICE, "hello")  # Alice wrote to the bot: it may write to her
    yield fake, bot
    await bot.shutdown()
    await fake.close()


async def test_pictures_edits_and_their_fallbacks(api: tuple[FakeTelegram, Bot]) -> None:
    fake, bot = api
    await execute(bot, ALICE.id, [Photo(b"\x89PNG...", "carte.png", "Carte"), Send("Menu")])
    photo, menu = fake.sent(ALICE.id)
    assert photo.photo == b"\x89PNG..." and photo.caption == "Carte"
    # Editing a picture's text is refused: the text comes as a new message instead.
    await execute(bot, ALICE.id, [Edit(photo.message_id, "Page 2", keyboard([[YES]]))])
    assert fake.texts(ALICE.id)[-1] == "Page 2"
    # An edit that changes nothing is no error and sends nothing.
    await execute(bot, ALICE.id, [Edit(menu.message_id, "Menu")])
    assert len(fake.sent(ALICE.id)) == 3
    await execute(bot, ALICE.id, [Edit(menu.message_id, "Menu ✓", keyboard([[NO]]))])
    assert menu.text == "Menu ✓" and menu.buttons[0]["text"] == "Non"


async def test_buttons_come_back_after_the_keyboard_removal(
    api: tuple[FakeTelegram, Bot],
) -> None:
    fake, bot = api
    calls = plan([Message("Rappel ?", ((YES,),))], T, private=True, keyboard_shown=True).calls
    await execute(bot, ALICE.id, calls)
    (message,) = fake.sent(ALICE.id)
    assert message.edits == 1 and message.buttons[0]["callback_data"] == YES.id
    assert fake.calls_of("sendMessage")[0].params["reply_markup"] == {"remove_keyboard": True}
