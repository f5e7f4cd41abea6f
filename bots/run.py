"""`koom run`: start every adapter whose token is configured; with none, the console chat."""

from __future__ import annotations

import sys
from typing import TextIO

from bots.console.app import chat
from core.app import open_services
from core.i18n import Translator
from core.settings import Settings


def configured_platforms(settings: Settings) -> list[str]:
    """The platforms whose token is set; the tokens themselves are never shown."""
    tokens = {"Telegram": settings.telegram_token, "Discord": settings.discord_token}
    return [name for name, token in tokens.items() if token and token.get_secret_value().strip()]


async def run(
    settings: Settings,
    name: str,
    language: str | None,
    language_code: str | None,
    t: Translator,
    err: TextIO | None = None,
) -> int:
    """Run the bot until it stops; the exit status.

    No adapter for Telegram or Discord ships in this version: a configured token is
    reported as such, and nothing pretends to run.
    """
    err = err or sys.stderr
    platforms = configured_platforms(settings)
    if platforms:
        for platform in platforms:
            print(t("console.adapter_unavailable", platform=platform), file=err)
        print(t("console.nothing_started"), file=err)
        return 1
    print(t("console.no_token"), file=err)
    services = await open_services(settings)
    try:
        await chat(services, name, language, language_code)
    finally:
        await services.db.dispose()
    return 0
