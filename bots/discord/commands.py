"""The slash commands: one per command of the flows, with descriptions and option names
translated in every language of the project by an app_commands.Translator over its catalogues.

Command names stay the flows' own (`/pledge`, `/checkin`...) in every language: the bot's
messages name them so on every platform, and Discord sends the default name whatever the
member's language. Descriptions, option names and option descriptions are translated.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

import discord
from discord import app_commands
from discord.app_commands import locale_str

from conversations.flow import CommandSpec, Option
from core.i18n import FALLBACK_LOCALE, SUPPORTED_LOCALES, catalogue


class Handler(Protocol):
    """What the commands call: the adapter."""

    async def command(self, interaction: discord.Interaction[Any], name: str, args: str) -> None:
        """Run `/name args` for the member."""

    async def autocomplete(
        self, interaction: discord.Interaction[Any], typed: str
    ) -> list[app_commands.Choice[str]]:
        """Challenges whose name or short name contains what the member typed."""


def text(key: str) -> locale_str:
    """A translatable string: the English text, with its catalogue key for the translator."""
    message = catalogue(FALLBACK_LOCALE).messages[key]
    assert isinstance(message, str), key
    return locale_str(message, key=key)


class CatalogueTranslator(app_commands.Translator):
    """Discord's locales from the project's catalogues (`fr`; `en-US` and `en-GB`)."""

    async def translate(
        self,
        string: locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key = string.extras.get("key")
        language = locale.value.split("-")[0]
        if key is None or language not in SUPPORTED_LOCALES:
            return None
        found = catalogue(language).messages.get(key)
        return found if isinstance(found, str) and found else None


def offered(described: Iterable[tuple[CommandSpec, bool]]) -> list[CommandSpec]:
    """The slash commands: every command as its flow describes it, but aliases."""
    return [spec for spec, _ in described if spec.slash]


def build_commands(
    slashes: Sequence[CommandSpec], handler: Handler
) -> list[app_commands.Command[Any, ..., None]]:
    """The app commands, each handing its name and option to `handler.command`. Commands
    for group administrators are shown by default only to members who may manage the
    server, and group-only ones only in servers; the flows still check for themselves."""
    return [_command(slash, handler) for slash in slashes]


def _command(slash: CommandSpec, handler: Handler) -> app_commands.Command[Any, ..., None]:
    name = slash.name
    callback: Callable[..., Awaitable[None]]
    if slash.option is Option.CHALLENGE:

        @app_commands.rename(challenge=text("discord.option.challenge"))
        @app_commands.describe(challenge=text("discord.option.challenge.hint"))
        @app_commands.autocomplete(challenge=handler.autocomplete)
        async def with_challenge(
            interaction: discord.Interaction[Any], challenge: str | None = None
        ) -> None:
            await handler.command(interaction, name, challenge or "")

        callback = with_challenge
    elif slash.option is Option.CODE:

        @app_commands.rename(code=text("discord.option.code"))
        @app_commands.describe(code=text("discord.option.code.hint"))
        async def with_code(interaction: discord.Interaction[Any], code: str | None = None) -> None:
            await handler.command(interaction, name, code or "")

        callback = with_code
    else:

        async def plain(interaction: discord.Interaction[Any]) -> None:
            await handler.command(interaction, name, "")

        callback = plain
    command: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=name, description=text(f"discord.command.{name}"), callback=callback
    )
    if slash.admin:
        command.default_permissions = discord.Permissions(manage_guild=True)
    if slash.group_only:
        command.guild_only = True
    return command
