"""Neutral replies as Bot API calls: inline keyboards, link buttons, a location keyboard in
private chats, edits in place, and every text cut to Telegram's limits.

`plan` decides the calls (pure, so it is tested without a server); `execute` makes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from telegram import (
    Bot,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.error import BadRequest

from conversations.engine import split_text
from conversations.model import (
    AskForm,
    AskLocation,
    AskText,
    Choice,
    Document,
    End,
    Image,
    Message,
    Reply,
)
from core.i18n import Translator

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
PLACEHOLDER_LIMIT = 64
NOT_MODIFIED = "message is not modified"

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply


@dataclass(frozen=True, slots=True)
class Send:
    """sendMessage."""

    text: str
    markup: Markup | None = None


@dataclass(frozen=True, slots=True)
class Edit:
    """editMessageText of the message whose button was pressed (a new message if it fails)."""

    message_id: int
    text: str
    markup: InlineKeyboardMarkup | None = None


@dataclass(frozen=True, slots=True)
class Photo:
    """sendPhoto."""

    data: bytes
    filename: str
    caption: str


@dataclass(frozen=True, slots=True)
class AddButtons:
    """editMessageReplyMarkup of the message sent just before (which removed the keyboard)."""

    markup: InlineKeyboardMarkup


@dataclass(frozen=True, slots=True)
class File:
    """sendDocument."""

    data: bytes
    filename: str
    caption: str


Call = Send | Edit | Photo | File | AddButtons


@dataclass(frozen=True, slots=True)
class Plan:
    """The calls for one batch of replies, and whether the location keyboard stays shown."""

    calls: tuple[Call, ...]
    keyboard_shown: bool


def utf16_length(text: str) -> int:
    """The length Telegram counts: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def fit_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Non-blank parts of at most `limit` UTF-16 units, cut at line ends where possible."""
    parts: list[str] = []
    for part in split_text(text, limit):
        # A part over the limit holds characters counted twice: half as many always fit.
        parts.extend([part] if utf16_length(part) <= limit else split_text(part, limit // 2))
    return [part for part in parts if part.strip()]


def keyboard(rows: Sequence[Sequence[Choice]]) -> InlineKeyboardMarkup | None:
    """Choices as inline buttons: callback data, or a link for a choice with a URL."""
    buttons = [
        [
            InlineKeyboardButton(c.label, url=c.url)
            if c.url is not None
            else InlineKeyboardButton(c.label, callback_data=c.id)
            for c in row
        ]
        for row in rows
        if row
    ]
    return InlineKeyboardMarkup(buttons) if buttons else None


def plan(
    replies: Sequence[Reply],
    t: Translator,
    *,
    private: bool,
    pressed: int | None = None,
    keyboard_shown: bool = False,
) -> Plan:
    """The calls that show `replies`.

    The first message that `replaces` edits the `pressed` one. A location request shows a
    reply keyboard (private chats only); once a batch asks for no location, the first new
    message removes it again.
    """
    calls: list[Call] = []
    asks_location = False
    for reply in replies:
        match reply:
            case Message(text=text, choices=rows, replaces=replaces):
                edit = pressed if replaces else None
                calls.extend(_text(text, keyboard(rows), edit))
                if edit is not None:
                    pressed = None  # only the pressed message itself is replaced
            case Image(data=data, caption=caption, filename=filename):
                fits = utf16_length(caption) <= CAPTION_LIMIT
                calls.append(Photo(data, filename, caption if fits else ""))
                if not fits:
                    calls.extend(_text(caption))
            case Document(data=data, caption=caption, filename=filename):
                fits = utf16_length(caption) <= CAPTION_LIMIT
                calls.append(File(data, filename, caption if fits else ""))
                if not fits:
                    calls.extend(_text(caption))
            case AskText(prompt=prompt, placeholder=placeholder):
                hint = ForceReply(input_field_placeholder=placeholder[:PLACEHOLDER_LIMIT])
                calls.extend(_text(prompt, hint if private and placeholder else None))
            case AskLocation(prompt=prompt, button_label=label, skip=skip) if private:
                asks_location = True
                calls.extend(_text(prompt, _location_keyboard(label, t)))
                if skip is not None:
                    calls.extend(_text(t("telegram.location_skip"), keyboard([[skip]])))
            case AskLocation(prompt=prompt, skip=skip):  # groups: a typed place, or skip
                calls.extend(_text(prompt, keyboard([[skip]] if skip else [])))
            case AskForm(title=title, fields=fields):  # only where forms were not split
                calls.extend(_text("\n".join([title, *(f"• {f.label}" for f in fields)])))
            case End():
                pass
    if asks_location:
        return Plan(tuple(calls), True)
    if keyboard_shown:
        return _remove_keyboard(calls)
    return Plan(tuple(calls), False)


def _location_keyboard(label: str, t: Translator) -> ReplyKeyboardMarkup:
    """One button that shares the location; hidden once used."""
    return ReplyKeyboardMarkup(
        [[KeyboardButton(label, request_location=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
        input_field_placeholder=t("telegram.location_placeholder")[:PLACEHOLDER_LIMIT],
    )


def _text(text: str, markup: Markup | None = None, edit: int | None = None) -> list[Call]:
    """A text in as many messages as it needs; the markup goes on the last one, and the first
    replaces message `edit` when given."""
    parts = fit_text(text) or (["…"] if markup is not None else [])
    calls: list[Call] = []
    for index, part in enumerate(parts):
        part_markup = markup if index == len(parts) - 1 else None
        if index == 0 and edit is not None:
            assert part_markup is None or isinstance(part_markup, InlineKeyboardMarkup)
            calls.append(Edit(edit, part, part_markup))
        else:
            calls.append(Send(part, part_markup))
    return calls


def _remove_keyboard(calls: list[Call]) -> Plan:
    """Let the first new message remove the location keyboard: one without buttons carries
    the removal; one with buttons is sent with it and given its buttons right after."""
    for index, call in enumerate(calls):
        if not isinstance(call, Send):
            continue
        if call.markup is None:
            calls[index] = Send(call.text, ReplyKeyboardRemove())
        elif isinstance(call.markup, InlineKeyboardMarkup):
            calls[index : index + 1] = [
                Send(call.text, ReplyKeyboardRemove()),
                AddButtons(call.markup),
            ]
        else:
            continue
        return Plan(tuple(calls), False)
    return Plan(tuple(calls), True)


async def execute(bot: Bot, chat_id: int, calls: Sequence[Call]) -> None:
    """Make the calls in order. An edit that Telegram refuses becomes a new message, except
    when the message already reads the same."""
    last: int | None = None
    for call in calls:
        match call:
            case Send(text=text, markup=markup):
                last = (await bot.send_message(chat_id, text, reply_markup=markup)).message_id
            case Edit(message_id=message_id, text=text, markup=markup):
                try:
                    await bot.edit_message_text(
                        text, chat_id=chat_id, message_id=message_id, reply_markup=markup
                    )
                except BadRequest as error:
                    if NOT_MODIFIED not in error.message.lower():
                        sent = await bot.send_message(chat_id, text, reply_markup=markup)
                        last = sent.message_id
            case Photo(data=data, filename=filename, caption=caption):
                photo = InputFile(data, filename=filename)
                sent = await bot.send_photo(chat_id, photo, caption=caption or None)
                last = sent.message_id
            case File(data=data, filename=filename, caption=caption):
                document = InputFile(data, filename=filename)
                sent = await bot.send_document(chat_id, document, caption=caption or None)
                last = sent.message_id
            case AddButtons(markup=markup) if last is not None:
                await bot.edit_message_reply_markup(chat_id, last, reply_markup=markup)
