"""The `koom` command: chat in a terminal, run the bot, manage challenges and the database."""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from bots.console.app import chat as console_chat
from bots.run import run as run_bot
from core.app import ChallengeEntry, ImportFailed, import_challenges, load_demo, open_services
from core.app import open_database as open_db
from core.db.migrate import current_revision, head_revision
from core.i18n import SUPPORTED_LOCALES, Translator, resolve_locale
from core.models import Challenge
from core.services import Services
from core.settings import Settings

NAME = re.compile(r"[\w.@-]{1,64}")

# Pydantic error types, and the catalogue key that says what is wrong in a person's words.
ERROR_KEYS = {
    "missing": "console.import.missing",
    "extra_forbidden": "console.import.unknown_field",
    "greater_than": "console.import.greater_than",
    "greater_than_equal": "console.import.at_least",
    "less_than_equal": "console.import.at_most",
    "string_too_short": "console.import.too_short",
    "string_too_long": "console.import.too_long",
    "too_long": "console.import.too_many",
    "int_parsing": "console.import.not_integer",
    "int_type": "console.import.not_integer",
    "int_from_float": "console.import.not_integer",
    "float_parsing": "console.import.not_number",
    "float_type": "console.import.not_number",
    "string_type": "console.import.not_text",
    "datetime_parsing": "console.import.not_date",
    "datetime_type": "console.import.not_date",
    "datetime_from_date_parsing": "console.import.not_date",
    "enum": "console.import.one_of",
    "model_type": "console.import.not_mapping",
    "dict_type": "console.import.not_mapping",
    "list_type": "console.import.not_list",
    "deadline_past": "console.import.deadline_past",
    "deadline_twice": "console.import.deadline_twice",
}


def terminal_locale() -> str | None:
    """The terminal's language (LC_ALL, LC_MESSAGES, LANG) when climat-koom speaks it."""
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if value := os.environ.get(variable):
            return resolve_locale(None, value, "") or None
    return None


HELP = Translator(terminal_locale() or os.environ.get("KOOM_DEFAULT_LOCALE", "fr"))

app = typer.Typer(help=HELP("console.cli.help"), no_args_is_help=True, add_completion=False)
challenge_app = typer.Typer(help=HELP("console.cli.challenge"), no_args_is_help=True)
db_app = typer.Typer(help=HELP("console.cli.db"), no_args_is_help=True)
app.add_typer(challenge_app, name="challenge")
app.add_typer(db_app, name="db")

Language = StrEnum("Language", [(code, code) for code in SUPPORTED_LOCALES])  # type: ignore[misc]
LangOption = Annotated[Language | None, typer.Option("--lang", help=HELP("console.cli.lang"))]


def load_settings(*, chatting: bool = False) -> Settings:
    """Settings from the environment and `.env`; logging set up from them, quieter in a chat."""
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"])
            typer.echo(HELP("console.bad_setting", name=name, problem=error["msg"]), err=True)
        raise typer.Exit(2) from None
    level = logging.getLevelNamesMapping().get(settings.log_level.upper())
    if level is None:
        t = translator(settings)
        typer.echo(
            t("console.bad_setting", name="KOOM_LOG_LEVEL", problem=settings.log_level), err=True
        )
        raise typer.Exit(2)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    for package in ("bots", "conversations", "core"):
        logging.getLogger(package).setLevel(max(level, logging.WARNING) if chatting else level)
    return settings


def translator(settings: Settings, language: str | None = None) -> Translator:
    """The CLI's words: `--lang`, else the terminal's language, else KOOM_DEFAULT_LOCALE."""
    return Translator(resolve_locale(language, terminal_locale(), settings.default_locale))


def account_name(name: str | None, t: Translator) -> str:
    """A valid console account name: the one given, else the login name."""
    if name is None:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "guest"
    name = name.strip()
    if not NAME.fullmatch(name):
        typer.echo(t("console.bad_name", name=name), err=True)
        raise typer.Exit(2)
    return name


@asynccontextmanager
async def services_for(settings: Settings) -> AsyncIterator[Services]:
    """Services over the migrated database, closed afterwards."""
    services = await open_services(settings)
    try:
        yield services
    finally:
        await services.db.dispose()


@app.command(help=HELP("console.cli.chat"))
def chat(
    name: Annotated[str, typer.Option("--as", help=HELP("console.cli.as"))],
    lang: LangOption = None,
) -> None:
    settings = load_settings(chatting=True)
    language = lang.value if lang else None
    name = account_name(name, translator(settings, language))

    async def work() -> None:
        async with services_for(settings) as services:
            await console_chat(services, name, language, terminal_locale())

    asyncio.run(work())


@app.command(help=HELP("console.cli.run"))
def run(
    name: Annotated[str | None, typer.Option("--as", help=HELP("console.cli.as_run"))] = None,
    lang: LangOption = None,
) -> None:
    settings = load_settings(chatting=True)
    language = lang.value if lang else None
    t = translator(settings, language)
    name = account_name(name, t)
    code = terminal_locale()
    raise typer.Exit(asyncio.run(run_bot(settings, name, language, code, t)))


@app.command(help=HELP("console.cli.demo"))
def demo() -> None:
    settings = load_settings()
    t = translator(settings)

    async def work() -> None:
        services = Services(db=await open_db(settings), settings=settings)
        try:
            challenge = await load_demo(services, replace=True)
        finally:
            await services.db.dispose()
        typer.echo(t("console.demo_loaded", title=challenge.title, slug=challenge.slug))

    asyncio.run(work())


@app.command(help=HELP("console.cli.stats"))
def stats() -> None:
    settings = load_settings()
    t = translator(settings)

    async def work() -> None:
        async with services_for(settings) as services:
            found = await services.challenges.list_all()
        if found:
            Console(highlight=False).print(stats_table(found, t))
        else:
            typer.echo(t("console.stats.empty"))

    asyncio.run(work())


def stats_table(found: list[Challenge], t: Translator) -> Table:
    """One row per challenge: slug, status, count/goal, percent, check-ins."""
    table = Table(title=t("console.stats.title"))
    table.add_column(t("console.stats.slug"))
    table.add_column(t("console.stats.status"))
    table.add_column(t("console.stats.pledges"), justify="right")
    table.add_column(t("console.stats.percent"), justify="right")
    table.add_column(t("console.stats.checkins"), justify="right")
    for challenge in found:
        table.add_row(
            challenge.slug,
            t(f"console.status.{challenge.status.value}"),
            t("console.stats.count", count=challenge.pledge_count, goal=challenge.goal),
            t(
                "console.stats.percent_value",
                percent=challenge.pledge_count * 100 // challenge.goal,
            ),
            t.number(challenge.checkin_count),
        )
    return table


@challenge_app.command("import", help=HELP("console.cli.import"))
def import_command(
    file: Annotated[Path, typer.Argument(help=HELP("console.cli.file"), show_default=False)],
) -> None:
    settings = load_settings()
    t = translator(settings)
    entries = read_entries(file, t)

    async def work() -> int:
        async with services_for(settings) as services:
            now = services.clock.now()
            drafts: list[ChallengeEntry] = []
            problems: list[str] = []
            for index, (data, node) in enumerate(entries):
                try:
                    drafts.append(ChallengeEntry.model_validate(data, context={"now": now}))
                except ValidationError as exc:
                    problems.extend(describe(exc, file, index, node, t))
            if problems:
                return report(problems, t)
            try:
                created = await import_challenges(services, drafts)
            except ImportFailed as failed:
                message = t(failed.error.key, **failed.error.params)
                node = entries[failed.index][1]
                return report([entry_problem(file, failed.index, node, message, t)], t)
        for challenge in created:
            status = t(f"console.status.{challenge.status.value}")
            line = t(
                "console.import.created", slug=challenge.slug, title=challenge.title, status=status
            )
            typer.echo(line)
        typer.echo(t.plural("console.import.done", len(created)))
        return 0

    raise typer.Exit(asyncio.run(work()))


def report(problems: list[str], t: Translator) -> int:
    """Print the problems of an import that changed nothing; the exit status."""
    for problem in problems:
        typer.echo(problem, err=True)
    typer.echo(t("console.import.nothing_changed"), err=True)
    return 1


def read_entries(file: Path, t: Translator) -> list[tuple[Any, yaml.Node]]:
    """The challenges of a YAML file (one mapping or a list), each with its node for lines."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(t("console.import.unreadable", file=str(file), problem=str(exc)), err=True)
        raise typer.Exit(2) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = str(mark.line + 1) if mark is not None else "?"
        problem = getattr(exc, "problem", None) or str(exc)
        typer.echo(
            t("console.import.yaml_error", file=str(file), line=line, problem=problem), err=True
        )
        raise typer.Exit(2) from None
    finally:
        loader.dispose()
    if isinstance(node, yaml.MappingNode):
        return [(data, node)]
    if isinstance(node, yaml.SequenceNode) and isinstance(data, list) and data:
        return list(zip(data, node.value, strict=True))
    typer.echo(t("console.import.bad_root", file=str(file)), err=True)
    raise typer.Exit(2)


def line_of(node: yaml.Node, loc: tuple[int | str, ...]) -> int:
    """The line (from 1) of the field at `loc` under `node`, or of its nearest parent."""
    for position, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            match = next((pair for pair in node.value if pair[0].value == part), None)
            if match is None:
                break
            if position == len(loc) - 1:
                return int(match[0].start_mark.line) + 1
            node = match[1]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
        else:
            break
    return int(node.start_mark.line) + 1


def describe(
    exc: ValidationError, file: Path, index: int, node: yaml.Node, t: Translator
) -> list[str]:
    """One line per problem, in file order: where (file, line, entry, field) and what."""
    problems: list[tuple[int, str]] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        key = ERROR_KEYS.get(error["type"])
        message = (
            t(key, **error.get("ctx", {})) if key else error["msg"].removeprefix("Value error, ")
        )
        line = line_of(node, loc)
        if loc:
            field = ".".join(str(part + 1) if isinstance(part, int) else part for part in loc)
            where = {"file": str(file), "line": str(line), "entry": str(index + 1)}
            problems.append(
                (line, t("console.import.problem", **where, field=field, message=message))
            )
        else:
            problems.append((line, entry_problem(file, index, node, message, t)))
    return [text for _, text in sorted(problems, key=lambda problem: problem[0])]


def entry_problem(file: Path, index: int, node: yaml.Node, message: str, t: Translator) -> str:
    """A problem with a whole entry, placed at the entry's first line."""
    return t(
        "console.import.entry_problem",
        file=str(file),
        line=str(line_of(node, ())),
        entry=str(index + 1),
        message=message,
    )


@db_app.command("upgrade", help=HELP("console.cli.upgrade"))
def db_upgrade() -> None:
    settings = load_settings()
    t = translator(settings)

    async def work() -> None:
        db = await open_db(settings)
        try:
            revision = await current_revision(db)
        finally:
            await db.dispose()
        typer.echo(t("console.db.revision", revision=revision or "-", head=head_revision() or "-"))

    asyncio.run(work())


def main() -> None:
    """Entry point of the `koom` command."""
    app()


if __name__ == "__main__":
    main()
