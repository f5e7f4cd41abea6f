"""The `koom` command: chat in a terminal, run the bot, manage challenges and the database."""

from __future__ import annotations

import asyncio
import getpass
import re
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from enum import StrEnum
from functools import partial
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from bots.cli_help import HELP, Debug, KoomCommand, KoomGroup, terminal_locale
from bots.console.app import chat as console_chat
from bots.logs import configure_logging
from bots.run import run as run_bot
from conversations.flows.broadcast import (
    LIVE,
    eta_words,
    local_time,
    parse_when,
    preview_texts,
    progress_text,
)
from core.app import (
    ChallengeEntry,
    ImportFailed,
    demo_draft,
    import_challenges,
    load_demo,
    open_services,
)
from core.app import open_database as open_db
from core.backup import backup_sqlite, pg_dump_command
from core.db.migrate import current_revision, head_revision
from core.errors import Forbidden, KoomError, Misconfigured, NotFound
from core.i18n import SUPPORTED_LOCALES, Translator, resolve_locale
from core.models import Challenge
from core.services import Services
from core.services.broadcasts import Audience, Broadcast, BroadcastProgress
from core.services.organisations import Actor
from core.settings import Settings

NAME = re.compile(r"[\w.@-]{1,64}")
POLL_SECONDS = 1.0
"""Seconds between two looks at a followed broadcast."""
T = TypeVar("T")

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


SETTINGS = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(
    cls=KoomGroup,
    help=HELP("console.cli.help"),
    no_args_is_help=True,
    add_completion=False,
    context_settings=SETTINGS,
    pretty_exceptions_show_locals=False,
)
challenge_app = typer.Typer(
    cls=KoomGroup,
    help=HELP("console.cli.challenge"),
    no_args_is_help=True,
    context_settings=SETTINGS,
)
db_app = typer.Typer(
    cls=KoomGroup, help=HELP("console.cli.db"), no_args_is_help=True, context_settings=SETTINGS
)
app.add_typer(challenge_app, name="challenge")
app.add_typer(db_app, name="db")
command = partial(app.command, cls=KoomCommand)

Language = StrEnum("Language", [(code, code) for code in SUPPORTED_LOCALES])  # type: ignore[misc]
LangOption = Annotated[Language | None, typer.Option("--lang", help=HELP("console.cli.lang"))]


def show_version(value: bool) -> None:
    """`--version`: print the installed version and stop."""
    if value:
        typer.echo(f"koom {package_version('climat-koom')}")
        raise typer.Exit()


@app.callback()
def options(
    debug: Annotated[bool, typer.Option("--debug", help=HELP("operations.cli.debug"))] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=show_version, is_eager=True, help=HELP("operations.cli.version")
        ),
    ] = False,
) -> None:
    Debug.enabled = debug


def load_settings(*, chatting: bool = False) -> Settings:
    """Settings from the environment and `.env`, each refused one told in one line (exit 2);
    logging set up from them, quieter in a chat."""
    try:
        settings = Settings()
    except ValidationError as exc:
        for line in setting_problems(exc, HELP):
            typer.echo(line, err=True)
        raise typer.Exit(2) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise Misconfigured("operations.error.env_file", problem=str(exc)) from exc
    Debug.enabled = Debug.enabled or settings.log_level == "DEBUG"
    Debug.words = translator(settings)
    configure_logging(settings, chatting=chatting)
    return settings


def setting_problems(exc: ValidationError, t: Translator) -> list[str]:
    """One line per refused setting: its name, what is wrong and what to do."""
    lines = []
    for error in exc.errors():
        context = error.get("ctx", {})
        name = ".".join(str(part) for part in error["loc"]) or str(context.get("setting", ""))
        key = f"operations.setting.{error['type']}"
        if not t.has(key):
            key = ERROR_KEYS.get(error["type"], "")
        problem = t(key, **context) if key else error["msg"]
        lines.append(t("operations.bad_setting", name=name, problem=problem))
    return lines


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
async def services_for(settings: Settings, *, demo: bool = False) -> AsyncIterator[Services]:
    """Services over the migrated database (`demo`: see open_services), closed afterwards."""
    services = await open_services(settings, demo=demo)
    try:
        yield services
    finally:
        await services.db.dispose()


@command(help=HELP("console.cli.chat"))
def chat(
    name: Annotated[str, typer.Option("--as", help=HELP("console.cli.as"))],
    lang: LangOption = None,
) -> None:
    settings = load_settings(chatting=True)
    language = lang.value if lang else None
    name = account_name(name, translator(settings, language))

    async def work() -> None:
        async with services_for(settings, demo=True) as services:
            await console_chat(services, name, language, terminal_locale())

    asyncio.run(work())


@command(help=HELP("console.cli.run"))
def run(
    name: Annotated[str | None, typer.Option("--as", help=HELP("console.cli.as_run"))] = None,
    lang: LangOption = None,
) -> None:
    settings = load_settings()
    language = lang.value if lang else None
    t = translator(settings, language)
    name = account_name(name, t)
    code = terminal_locale()
    raise typer.Exit(asyncio.run(run_bot(settings, name, language, code, t)))


@command(help=HELP("console.cli.demo"))
def demo(
    yes: Annotated[bool, typer.Option("--yes", "-y", help=HELP("operations.demo.yes"))] = False,
) -> None:
    settings = load_settings()
    t = translator(settings)
    with asyncio.Runner() as runner:
        services = Services(db=runner.run(open_db(settings)), settings=settings)
        try:
            slug = demo_draft(services.clock.now()).effective_slug
            pledges = runner.run(demo_pledges(services, slug))
            if pledges and not (yes or confirmed(t.plural("operations.demo.confirm", pledges))):
                typer.echo(t("operations.demo.kept"))
                raise typer.Exit(1)
            challenge = runner.run(load_demo(services, replace=True))
        finally:
            runner.run(services.db.dispose())
    typer.echo(t("console.demo_loaded", title=challenge.title, slug=challenge.slug))


async def demo_pledges(services: Services, slug: str) -> int:
    """The pledges that reloading the demo challenge would delete (0 when it is absent)."""
    try:
        return (await services.challenges.by_slug(slug)).pledge_count
    except NotFound:
        return 0


@command(help=HELP("console.cli.stats"))
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


@command(help=HELP("broadcast.cli.help"))
def broadcast(
    audience: Annotated[
        list[str] | None,
        typer.Option(
            "--audience",
            "-a",
            metavar=HELP("operations.cli.audience_metavar"),
            help=HELP("broadcast.cli.audience"),
        ),
    ] = None,
    challenge: Annotated[
        str | None,
        typer.Option(
            "--challenge",
            "-c",
            metavar=HELP("operations.cli.slug_metavar"),
            help=HELP("broadcast.cli.challenge"),
        ),
    ] = None,
    org: Annotated[
        str | None,
        typer.Option(
            "--org", metavar=HELP("operations.cli.slug_metavar"), help=HELP("broadcast.cli.org")
        ),
    ] = None,
    message: Annotated[
        str | None,
        typer.Option(
            "--message",
            "-m",
            metavar=HELP("operations.cli.text_metavar"),
            help=HELP("broadcast.cli.message"),
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            metavar=HELP("operations.cli.file_metavar"),
            help=HELP("broadcast.cli.file"),
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at", metavar=HELP("operations.cli.when_metavar"), help=HELP("broadcast.cli.at")
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help=HELP("broadcast.cli.yes"))] = False,
    preview: Annotated[bool, typer.Option("--preview", help=HELP("broadcast.cli.preview"))] = False,
    follow: Annotated[
        bool, typer.Option("--follow/--no-follow", help=HELP("broadcast.cli.follow"))
    ] = True,
    status: Annotated[
        int | None, typer.Option("--status", metavar="ID", help=HELP("broadcast.cli.status"))
    ] = None,
    cancel: Annotated[
        int | None, typer.Option("--cancel", metavar="ID", help=HELP("broadcast.cli.cancel"))
    ] = None,
    lang: LangOption = None,
) -> None:
    settings = load_settings()
    t = translator(settings, lang.value if lang else None)
    writing = bool(audience or challenge or message or file or at or preview)
    if (status is not None) + (cancel is not None) + writing > 1:
        usage_error(t("broadcast.cli.one_action"))
    if status is None and cancel is None:
        audiences, text = parse_audiences(audience or [], t), read_message(message, file, t)
    with asyncio.Runner() as runner:
        command = BroadcastCommand(runner, runner.run(open_services(settings)), t)
        try:
            if status is not None:
                code = command.status(status, org)
            elif cancel is not None:
                code = command.cancel(cancel, yes, org)
            else:
                code = command.write(audiences, text, challenge, at, yes, preview, follow, org)
        except KoomError as error:
            typer.echo(t(error.key, **error.params), err=True)
            code = 1
        finally:
            runner.run(command.services.db.dispose())
    raise typer.Exit(code)


def usage_error(message: str) -> NoReturn:
    """Say what is wrong with the command line and exit with status 2."""
    typer.echo(message, err=True)
    raise typer.Exit(2)


def parse_audiences(values: list[str], t: Translator) -> set[Audience]:
    """The audiences named by repeated or comma-separated `--audience` values."""
    names = [name.strip().lower() for value in values for name in value.split(",")]
    if not any(names):
        usage_error(t("broadcast.cli.no_audience"))
    known = {audience.value: audience for audience in Audience}
    for name in filter(None, names):
        if name not in known:
            usage_error(t("broadcast.cli.bad_audience", name=name, choices=", ".join(known)))
    return {known[name] for name in names if name}


def read_message(message: str | None, file: Path | None, t: Translator) -> str:
    """The text given with `--message` or read from `--file`."""
    if (message is None) == (file is None):
        usage_error(t("broadcast.cli.two_messages" if message else "broadcast.cli.no_message"))
    if message is not None:
        return message
    assert file is not None
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        usage_error(t("broadcast.cli.unreadable", file=str(file), problem=str(exc)))


def poll_pause() -> None:
    """The wait between two looks at a followed broadcast."""
    time.sleep(POLL_SECONDS)


class BroadcastCommand:
    """`koom broadcast` over open services: write, follow, show or cancel a broadcast. The
    delivery worker of `koom run` sends the messages."""

    def __init__(self, runner: asyncio.Runner, services: Services, t: Translator) -> None:
        self.runner = runner
        self.services = services
        self.t = t
        self.timezone = services.settings.default_timezone

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Await `work` on the command's event loop."""
        return self.runner.run(work)

    def write(
        self,
        audiences: set[Audience],
        text: str,
        slug: str | None,
        at: str | None,
        yes: bool,
        preview: bool,
        follow: bool,
        org: str | None = None,
    ) -> int:
        """Preview, confirm, then schedule or launch a broadcast (and follow it); with `org`,
        only to the audiences of that organisation's challenges."""
        t, broadcasts = self.t, self.services.broadcasts
        found = self.run(self.services.challenges.by_slug(slug)) if slug else None
        if org is not None:
            self.check_organisation(org, audiences, found)
        send_at = parse_when(at, self.timezone, self.services.clock.now()) if at else None
        draft = self.run(broadcasts.create(None, audiences, text, found.id if found else None))
        if preview or not yes:
            sizes = self.run(broadcasts.audience_size(draft.id))
            for part in preview_texts(t, draft, found.title if found else "", sizes):
                typer.echo(f"{part}\n")
            typer.echo(t.plural("broadcast.cli.total", sum(sizes.values())))
        if preview or not (yes or confirmed(t("broadcast.cli.confirm"))):
            self.run(broadcasts.discard(draft.id))
            typer.echo(t("broadcast.cli.not_sent"))
            return 0 if preview else 1
        self.run(broadcasts.confirm(draft.id, send_at))
        if send_at is not None:
            when = local_time(send_at, self.timezone)
            typer.echo(t("broadcast.cli.scheduled", id=str(draft.id), when=when))
            return 0
        self.run(broadcasts.launch_due())
        launched = self.run(broadcasts.get(draft.id))
        typer.echo(t.plural("broadcast.cli.launched", launched.recipients, id=str(draft.id)))
        return self.follow(draft.id) if follow else 0

    def check_organisation(
        self, slug: str, audiences: set[Audience], challenge: Challenge | None
    ) -> None:
        """Forbidden unless the audience is the organisation's: the pledgers or groups of one
        of its challenges, never every member."""
        organisations = self.services.organisations
        organisation = self.run(organisations.by_slug(slug))
        if Audience.MEMBERS in audiences:
            raise Forbidden("broadcast.cli.org_members", org=organisation.name)
        own = self.run(organisations.challenges(Actor.administrator(), organisation.id))
        if challenge is not None and all(c.id != challenge.id for c in own):
            raise Forbidden(
                "broadcast.cli.org_challenge", slug=challenge.slug, org=organisation.name
            )

    def check_broadcast_of(self, slug: str, found: Broadcast) -> None:
        """Forbidden unless the broadcast is the organisation's: written to the pledgers or
        groups of one of its challenges (as `check_organisation` lets it write)."""
        organisations = self.services.organisations
        organisation = self.run(organisations.by_slug(slug))
        own = self.run(organisations.challenges(Actor.administrator(), organisation.id))
        if Audience.MEMBERS in found.audiences or all(c.id != found.challenge_id for c in own):
            raise Forbidden("broadcast.cli.org_broadcast", id=str(found.id), org=organisation.name)

    def status(self, broadcast_id: int, org: str | None = None) -> int:
        """Print where a broadcast stands; with `org`, only one of that organisation's."""
        progress = self.run(self.services.broadcasts.progress(broadcast_id))
        if org is not None:
            self.check_broadcast_of(org, progress.broadcast)
        typer.echo(progress_text(self.t, progress, self.timezone))
        return 0

    def cancel(self, broadcast_id: int, yes: bool, org: str | None = None) -> int:
        """Cancel a broadcast after confirmation; with `org`, only one of that organisation's."""
        t, broadcasts = self.t, self.services.broadcasts
        found = self.run(broadcasts.get(broadcast_id))
        if org is not None:
            self.check_broadcast_of(org, found)
        if not (yes or confirmed(t("broadcast.cancel_confirm", id=str(broadcast_id)))):
            return 1
        cancelled = self.run(broadcasts.cancel(broadcast_id))
        typer.echo(t.plural("broadcast.cancelled", cancelled, id=str(broadcast_id)))
        return 0

    def follow(self, broadcast_id: int) -> int:
        """A progress bar until the broadcast is over; Ctrl-C offers to cancel it."""
        t = self.t
        typer.echo(t("broadcast.cli.follow_hint"))
        try:
            final = self._watch(broadcast_id)
        except KeyboardInterrupt:
            if confirmed(t("broadcast.cli.cancel_prompt", id=str(broadcast_id))):
                return self.cancel(broadcast_id, yes=True)
            typer.echo(t("broadcast.cli.still_going", id=str(broadcast_id)))
            return 0
        typer.echo(progress_text(t, final, self.timezone))
        return 0

    def _watch(self, broadcast_id: int) -> BroadcastProgress:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
        )
        label = self.t("broadcast.cli.sending", id=str(broadcast_id))
        with Progress(*columns, console=Console(highlight=False)) as bar:
            task = bar.add_task(label, total=None, detail="")
            while True:
                progress = self.run(self.services.broadcasts.progress(broadcast_id))
                done, detail = progress.total - progress.remaining, self._detail(progress)
                bar.update(task, total=progress.total, completed=done, detail=detail)
                if progress.broadcast.status not in LIVE:
                    return progress
                poll_pause()

    def _detail(self, progress: BroadcastProgress) -> str:
        t = self.t
        if progress.eta is None:
            eta = t("broadcast.cli.eta_unknown")
        else:
            eta = t("broadcast.cli.eta", eta=eta_words(t, progress.eta))
        return t("broadcast.cli.detail", remaining=progress.remaining, eta=eta)


def confirmed(question: str) -> bool:
    """The answer to a yes/no question; no when the input ends."""
    try:
        return typer.confirm(question, default=False)
    except typer.Abort:
        return False


@challenge_app.command("import", cls=KoomCommand, help=HELP("console.cli.import"))
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            metavar=HELP("operations.cli.file_metavar"),
            help=HELP("console.cli.file"),
            show_default=False,
        ),
    ],
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
    except ValueError as exc:  # a well-formed value that is no date, such as 2027-02-30
        typer.echo(t("operations.error.yaml_value", file=str(file), problem=str(exc)), err=True)
        raise typer.Exit(2) from None
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


@command("web", help=HELP("web.cli.help"))
def web_command(
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help=HELP("web.cli.port"))
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help=HELP("web.cli.host"))] = None,
) -> None:
    from bots.web import serve_web

    settings = load_settings()
    t = translator(settings)
    address, number = host or settings.web_host, port or settings.web_port or 8080
    raise typer.Exit(asyncio.run(serve_web(settings, address, number, t)))


@db_app.command("upgrade", cls=KoomCommand, help=HELP("console.cli.upgrade"))
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


@db_app.command("backup", cls=KoomCommand, help=HELP("operations.backup.help"))
def db_backup(
    file: Annotated[
        Path,
        typer.Argument(
            metavar=HELP("operations.cli.file_metavar"),
            help=HELP("operations.backup.file"),
            show_default=False,
        ),
    ],
) -> None:
    settings = load_settings()
    t = translator(settings)
    if settings.sqlite_path is None:
        command = pg_dump_command(settings.database_url, file)
        typer.echo(t("operations.backup.postgres", command=command), err=True)
        raise typer.Exit(1)
    try:
        backup_sqlite(settings.sqlite_path, file)
    except KoomError as error:
        typer.echo(t(error.key, **error.params), err=True)
        raise typer.Exit(1) from None
    typer.echo(t("operations.backup.done", file=str(file)))


# The commands of other modules (`koom org`, `koom sponsor`, `koom report`) use the helpers
# above, so they are added last; run as a script, this module hands over to its imported self
# (the one those modules import), so they are added once, to the app that runs.
if __name__ != "__main__":
    from bots.cli_organisations import org_app

    app.add_typer(org_app, name="org")


def main() -> None:
    """Entry point of the `koom` command."""
    app(prog_name="koom")


if __name__ == "__main__":
    from bots.cli import main as imported_main

    imported_main()
