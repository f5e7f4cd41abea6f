"""Telegram updates as neutral inputs, and the few platform events the adapter acts on itself
(blocked, removed from a group, group migrated, inline search)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import Chat, ChatMember, Document, Message, PhotoSize, Update, User

from conversations.model import (
    ChoiceInput,
    Command,
    Envelope,
    Input,
    LocationInput,
    OtherInput,
    PictureInput,
    Sender,
    TextInput,
)
from core.errors import Invalid
from core.identity import AccountRef, ChatRef, Platform
from core.pictures import MAX_BYTES

GROUP_TYPES = frozenset({Chat.GROUP, Chat.SUPERGROUP})
COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@(\w+))?$")
GONE = frozenset({ChatMember.LEFT, ChatMember.BANNED})
PRESENT = frozenset({ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER})


@dataclass(frozen=True, slots=True)
class Incoming:
    """An input for the engine, with what rendering its replies needs.

    `pressed` is the message whose button was pressed (editable in place); `callback_id` must
    be answered; `anonymous_admin` is a group administrator writing as the group itself.
    """

    envelope: Envelope
    chat_id: int
    pressed: int | None = None
    callback_id: str | None = None
    anonymous_admin: bool = False


@dataclass(frozen=True, slots=True)
class Blocked:
    """A person blocked the bot: do not message them until they /start again."""

    account: AccountRef


@dataclass(frozen=True, slots=True)
class RemovedFromGroup:
    """The bot was removed from a group (or banned from it)."""

    chat: ChatRef


@dataclass(frozen=True, slots=True)
class Migrated:
    """A group became a supergroup with a new chat id."""

    chat: ChatRef
    new_chat_id: str


@dataclass(frozen=True, slots=True)
class InlineSearch:
    """`@bot words` typed in any chat: offer challenge cards to share."""

    query_id: str
    sender: Sender
    query: str


Event = Incoming | Blocked | RemovedFromGroup | Migrated | InlineSearch


def account_of(user: User) -> AccountRef:
    """The neutral account of a Telegram user."""
    return AccountRef(Platform.TELEGRAM, str(user.id))


def sender_of(user: User) -> Sender:
    """Who speaks, with the language their app reports."""
    return Sender(account_of(user), user.full_name, user.language_code)


def chat_of(chat: Chat) -> ChatRef:
    """The neutral chat; groups and supergroups are groups, with their title."""
    return ChatRef(
        Platform.TELEGRAM, str(chat.id), is_group=chat.type in GROUP_TYPES, title=chat.title or ""
    )


def parse(update: Update, bot: User) -> Event | None:
    """What an update means for the bot, or None when it should be ignored."""
    if update.callback_query is not None:
        return _callback(update)
    if update.message is not None:
        return _message(update.message, bot)
    if update.my_chat_member is not None:
        return _membership(update)
    query = update.inline_query
    if query is not None:
        return InlineSearch(query.id, sender_of(query.from_user), query.query.strip())
    return None


def _callback(update: Update) -> Incoming | None:
    query = update.callback_query
    assert query is not None
    message = query.message
    if message is None or query.data is None:  # inline messages carry link buttons only
        return None
    chat = chat_of(message.chat)
    envelope = Envelope(sender_of(query.from_user), chat, ChoiceInput(query.data))
    pressed = message.message_id if isinstance(message, Message) else None
    return Incoming(envelope, message.chat.id, pressed=pressed, callback_id=query.id)


def _message(message: Message, bot: User) -> Event | None:
    chat = chat_of(message.chat)
    if message.migrate_to_chat_id is not None:
        return Migrated(chat, str(message.migrate_to_chat_id))
    user = message.from_user
    if user is None or (message.via_bot is not None and message.via_bot.id == bot.id):
        return None  # a channel post, or a card the person shared through inline mode
    value = _input(message, bot)
    if value is None:
        return None
    if chat.is_group and not isinstance(value, Command) and not _answers_bot(message, bot):
        return None  # group chatter: only commands and replies to the bot are ours
    anonymous = message.sender_chat is not None and message.sender_chat.id == message.chat.id
    envelope = Envelope(sender_of(user), chat, value)
    return Incoming(envelope, message.chat.id, anonymous_admin=anonymous)


def _input(message: Message, bot: User) -> Input | None:
    if message.text is not None:
        return _text(message.text, bot.username or "")
    location = message.location or (message.venue.location if message.venue else None)
    if location is not None:
        return LocationInput(location.latitude, location.longitude)
    picture = _picture(message)
    if picture is not None:
        return picture
    if message.effective_attachment is not None:  # a sticker, file, contact...
        return OtherInput()
    return None


def _picture(message: Message) -> PictureInput | None:
    """A photo, or a picture sent as a file, fetched from Telegram only when a flow wants it."""
    document = message.document
    if message.photo:
        found: PhotoSize | Document = message.photo[-1]  # the largest size
    elif document is not None and (document.mime_type or "").startswith("image/"):
        found = document
    else:
        return None

    async def load() -> bytes:
        if (found.file_size or 0) > MAX_BYTES:
            raise Invalid("error.picture.too_large", megabytes=MAX_BYTES // 1_000_000)
        file = await found.get_file()
        return bytes(await file.download_as_bytearray())

    return PictureInput(message.caption or "", load)


def _text(text: str, bot_username: str) -> Input | None:
    """`/name@bot args` as a Command (None when addressed to another bot), else text."""
    if not text.strip():
        return None
    head, *rest = text.strip().split(maxsplit=1)
    found = COMMAND.match(head)
    if found is None:
        return TextInput(text)
    name, target = found.groups()
    if target is not None and target.lower() != bot_username.lower():
        return None
    return Command(name.lower(), rest[0].strip() if rest else "")


def _answers_bot(message: Message, bot: User) -> bool:
    replied = message.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.id == bot.id


def _membership(update: Update) -> Event | None:
    change = update.my_chat_member
    assert change is not None
    old, new = change.old_chat_member.status, change.new_chat_member.status
    if change.chat.type == Chat.PRIVATE:
        return Blocked(account_of(change.from_user)) if new == ChatMember.BANNED else None
    if change.chat.type not in GROUP_TYPES:
        return None
    chat = chat_of(change.chat)
    if new in GONE:
        return RemovedFromGroup(chat)
    if old in GONE and new in PRESENT:  # just added: the bot introduces itself
        envelope = Envelope(sender_of(change.from_user), chat, Command("start"))
        return Incoming(envelope, change.chat.id)
    return None
