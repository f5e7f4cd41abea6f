"""Discord interactions and DM messages as neutral inputs: who acts, where, and what.

A guild channel (or thread) is a group chat; a DM is the member's private chat, named by the
member's user id like a private chat on every platform (so the bot can write there first).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import discord

from bots.discord.render import ANSWER
from conversations.model import (
    ChoiceInput,
    Command,
    FormInput,
    Input,
    OtherInput,
    PictureInput,
    Sender,
    TextInput,
)
from core.errors import Invalid
from core.identity import AccountRef, ChatRef, Platform
from core.pictures import MAX_BYTES


def account_of(user: discord.abc.User) -> AccountRef:
    """The neutral account of a Discord user."""
    return AccountRef(Platform.DISCORD, str(user.id))


def sender_of(interaction: discord.Interaction[Any]) -> Sender:
    """The member, their client's language, and whether they may manage this server (checked
    on this interaction: Discord resolves their permissions in the channel)."""
    user = interaction.user
    admin = interaction.guild_id is not None and interaction.permissions.manage_guild
    return Sender(account_of(user), user.display_name, interaction.locale.value, admin)


def chat_of(interaction: discord.Interaction[Any]) -> ChatRef:
    """The guild channel as a group (titled `Server #channel`), else the member's DMs."""
    channel = interaction.channel
    if interaction.guild_id is None and not isinstance(channel, discord.GroupChannel):
        return ChatRef(Platform.DISCORD, str(interaction.user.id))
    name = getattr(channel, "name", None) or ""
    guild = interaction.guild.name if interaction.guild is not None else ""
    title = " ".join(part for part in (guild, f"#{name}" if name else "") if part)
    return ChatRef(Platform.DISCORD, str(interaction.channel_id), is_group=True, title=title)


def component_input(data: Mapping[str, Any]) -> ChoiceInput:
    """A pressed button (its custom_id) or a picked option (its value) as a choice."""
    values = data.get("values") or []
    return ChoiceInput(str(values[0]) if values else str(data.get("custom_id", "")))


def modal_input(data: Mapping[str, Any]) -> TextInput | FormInput:
    """A submitted modal: the answer to a request for text, else the values of a form."""
    values: dict[str, str] = {}
    for component in data.get("components") or []:
        inner = component.get("components") or [component.get("component") or {}]
        for item in inner:
            if "custom_id" in item and isinstance(item.get("value"), str):
                values[item["custom_id"]] = item["value"]
    if data.get("custom_id") == ANSWER:
        return TextInput(next(iter(values.values()), ""))
    return FormInput(values)


def picture_input(message: discord.Message) -> PictureInput | None:
    """The message's first picture attachment, with its text as the caption; fetched from
    Discord only when a flow wants it."""
    found = next(
        (a for a in message.attachments if (a.content_type or "").startswith("image/")), None
    )
    if found is None:
        return None
    picture: discord.Attachment = found

    async def load() -> bytes:
        if picture.size > MAX_BYTES:
            raise Invalid("error.picture.too_large", megabytes=MAX_BYTES // 1_000_000)
        return await picture.read()

    return PictureInput(message.content.strip(), load)


def typed_input(text: str, attached: bool = False) -> Input | None:
    """A typed DM message: `/name args` is a command (a pasted share link), else text; with
    no text, an attachment or sticker is something else than an answer."""
    text = text.strip()
    if not text:
        return OtherInput() if attached else None
    return Command.parse(text) or TextInput(text)
