"""Neutral names for people and chats on any platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Platform(StrEnum):
    """A chat platform climat-koom talks on."""

    TELEGRAM = "telegram"
    DISCORD = "discord"
    CONSOLE = "console"


PUSH_PLATFORMS = (Platform.TELEGRAM.value, Platform.DISCORD.value)
"""Platforms where the bot can speak first (the console only answers)."""

MENU_PLATFORMS = (Platform.TELEGRAM.value,)
"""Platforms where each person has a command menu of their own (Telegram's chat scopes):
organisation staff get the organisers' commands there."""


@dataclass(frozen=True, slots=True)
class AccountRef:
    """One account of a person on one platform, e.g. `telegram:123`."""

    platform: Platform
    external_id: str

    @classmethod
    def parse(cls, text: str) -> AccountRef:
        """Parse `platform:id`; raise ValueError on anything else."""
        platform, sep, external_id = text.strip().partition(":")
        if not sep or not external_id:
            raise ValueError(f"not an account reference (platform:id): {text!r}")
        return cls(Platform(platform.lower()), external_id)

    def __str__(self) -> str:
        return f"{self.platform.value}:{self.external_id}"


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A chat on a platform: a private chat, a group or a channel."""

    platform: Platform
    chat_id: str
    is_group: bool = False
    title: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{self.platform.value}:{self.chat_id}"
