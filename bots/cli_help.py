"""The `koom` command's help in one language: Typer's and Click's own words translated too,
and start-up problems (a bad setting, an unreachable database, a taken port) told in one line
with exit status 2 instead of a traceback."""

from __future__ import annotations

import os
import traceback
from typing import Any

import typer
from typer import rich_utils
from typer.core import TyperCommand, TyperGroup

from core.errors import Misconfigured
from core.i18n import Translator, resolve_locale

MISCONFIGURED = 2
"""Exit status of a start-up problem that the person running the bot must fix."""


def terminal_locale() -> str | None:
    """The terminal's language (LC_ALL, LC_MESSAGES, LANG) when climat-koom speaks it."""
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if value := os.environ.get(variable):
            return resolve_locale(None, value, "") or None
    return None


HELP = Translator(terminal_locale() or os.environ.get("KOOM_DEFAULT_LOCALE", "fr"))
"""The language of the help: the terminal's, else KOOM_DEFAULT_LOCALE (before any `.env`)."""


class Debug:
    """Whether start-up problems show their traceback (`koom --debug` or KOOM_LOG_LEVEL)."""

    enabled = False
    words = HELP


def _translate_typer() -> None:
    """Typer keeps the titles and hints of its help screens in module constants."""
    rich_utils.OPTIONS_PANEL_TITLE = HELP("operations.cli.options")
    rich_utils.ARGUMENTS_PANEL_TITLE = HELP("operations.cli.arguments")
    rich_utils.COMMANDS_PANEL_TITLE = HELP("operations.cli.commands")
    rich_utils.ERRORS_PANEL_TITLE = HELP("operations.cli.error")
    rich_utils.ABORTED_TEXT = HELP("operations.cli.aborted")
    rich_utils.DEFAULT_STRING = HELP("operations.cli.default")
    rich_utils.REQUIRED_LONG_STRING = HELP("operations.cli.required")
    rich_utils.RICH_HELP = HELP("operations.cli.try_help")


_translate_typer()


def _usage(command: Any, ctx: typer.Context, formatter: Any) -> None:
    pieces = command.collect_usage_pieces(ctx)
    formatter.write_usage(ctx.command_path, " ".join(pieces), prefix=HELP("operations.cli.usage"))


def _help_option(option: Any) -> Any:
    if option is not None:
        option.help = HELP("operations.cli.help_option")
    return option


class KoomCommand(TyperCommand):
    """A command whose usage line and help option speak the help's language."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options_metavar = HELP("operations.cli.options_metavar")

    def format_usage(self, ctx: typer.Context, formatter: Any) -> None:
        _usage(self, ctx, formatter)

    def get_help_option(self, ctx: typer.Context) -> Any:
        return _help_option(super().get_help_option(ctx))


class KoomGroup(TyperGroup):
    """A group like KoomCommand that also tells start-up problems in one line (exit 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options_metavar = HELP("operations.cli.options_metavar")
        self.subcommand_metavar = HELP("operations.cli.subcommand_metavar")

    def format_usage(self, ctx: typer.Context, formatter: Any) -> None:
        _usage(self, ctx, formatter)

    def get_help_option(self, ctx: typer.Context) -> Any:
        return _help_option(super().get_help_option(ctx))

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Misconfigured as problem:
            if Debug.enabled:
                typer.echo("".join(traceback.format_exception(problem)).rstrip(), err=True)
            typer.echo(Debug.words(problem.key, **problem.params), err=True)
            raise typer.Exit(MISCONFIGURED) from None
