"""The organisations' commands: `koom org` (organisations, their staff, challenges and header),
`koom sponsor` (a sponsor's account on a tier) and `koom report` (a challenge's report)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bots.cli import SETTINGS, command, load_settings, services_for, translator
from bots.cli_help import HELP, KoomCommand, KoomGroup
from bots.report import ReportFormat, report_html
from conversations.deeplinks import join_payload
from core.errors import KoomError
from core.i18n import Translator, resolve_locale
from core.identity import AccountRef
from core.models import Member, Visibility
from core.report_pdf import report_pdf
from core.services import Services
from core.services.organisations import Actor, OrganisationKind, Role

org_app = typer.Typer(
    cls=KoomGroup, help=HELP("org.cli.help"), no_args_is_help=True, context_settings=SETTINGS
)
ADMIN = Actor.administrator()

Slug = Annotated[
    str, typer.Argument(metavar=HELP("operations.cli.org_metavar"), help=HELP("org.cli.slug"))
]
Account = Annotated[
    str,
    typer.Argument(metavar=HELP("operations.cli.account_metavar"), help=HELP("org.cli.account")),
]
Colour = Annotated[str | None, typer.Option("--colour", help=HELP("org.cli.colour"))]
Logo = Annotated[str | None, typer.Option("--logo", help=HELP("org.cli.logo"))]
Contact = Annotated[str | None, typer.Option("--contact", help=HELP("org.cli.contact"))]
Privacy = Annotated[str | None, typer.Option("--privacy", help=HELP("org.cli.privacy"))]


def run(work: Callable[[Services, Translator], Awaitable[str]]) -> None:
    """Run one command over the services; a refusal is printed in the reader's language and
    exits with 1, having changed nothing."""
    settings = load_settings()
    t = translator(settings)

    async def main() -> str:
        async with services_for(settings) as services:
            return await work(services, t)

    try:
        typer.echo(asyncio.run(main()))
    except KoomError as error:
        typer.echo(t(error.key, **error.params), err=True)
        raise typer.Exit(1) from None


async def person(services: Services, account: str) -> Member:
    """The member behind `platform:id`, created when they never wrote to the bot."""
    try:
        ref = AccountRef.parse(account)
    except ValueError:
        raise KoomError("org.cli.bad_account", account=account) from None
    return await services.members.ensure(ref, str(ref))


def join_link(services: Services, code: str) -> str:
    """How people join with a members' code: the bot's Telegram link when its name is known,
    else the command to send it (Discord, console)."""
    username = services.settings.telegram_bot_username
    if username:
        return f"https://t.me/{username}?start={join_payload(code)}"
    return f"/org join {code}"


@org_app.command("create", cls=KoomCommand, help=HELP("org.cli.create"))
def create(
    slug: Slug,
    name: Annotated[str, typer.Option("--name", help=HELP("org.cli.name"))],
    kind: Annotated[OrganisationKind, typer.Option("--kind", help=HELP("org.cli.kind"))],
    owner: Annotated[
        str,
        typer.Option(
            "--owner", metavar=HELP("operations.cli.account_metavar"), help=HELP("org.cli.owner")
        ),
    ],
    colour: Colour = None,
    logo: Logo = None,
    contact: Contact = None,
    privacy: Privacy = None,
) -> None:
    async def work(services: Services, t: Translator) -> str:
        owner_member = await person(services, owner)
        created = await services.organisations.create(
            ADMIN,
            slug,
            name,
            kind,
            owner_member.id,
            colour=colour,
            logo_file=logo,
            contact=contact,
            privacy_url=privacy,
        )
        return t("org.cli.created", name=created.name, slug=created.slug, owner=owner)

    run(work)


@org_app.command("header", cls=KoomCommand, help=HELP("org.cli.header"))
def header(
    slug: Slug,
    colour: Colour = None,
    logo: Logo = None,
    contact: Contact = None,
    privacy: Privacy = None,
) -> None:
    async def work(services: Services, t: Translator) -> str:
        found = await services.organisations.by_slug(slug)
        given = {"colour": colour, "logo_file": logo, "contact": contact, "privacy_url": privacy}
        changed = {name: value for name, value in given.items() if value is not None}
        await services.organisations.set_header(ADMIN, found.id, **changed)
        return t("org.cli.header_set", name=found.name)

    run(work)


@org_app.command("list", cls=KoomCommand, help=HELP("org.cli.list"))
def list_command() -> None:
    async def work(services: Services, t: Translator) -> str:
        found = await services.organisations.list_all()
        if not found:
            return t("org.cli.none")
        return "\n".join(
            t("org.cli.line", slug=o.slug, name=o.name, kind=t(f"org.kind.{o.kind.value}"))
            for o in found
        )

    run(work)


@org_app.command("staff", cls=KoomCommand, help=HELP("org.cli.staff"))
def staff(slug: Slug) -> None:
    async def work(services: Services, t: Translator) -> str:
        found = await services.organisations.by_slug(slug)
        table = Table(title=found.name)
        table.add_column(t("org.cli.person"))
        table.add_column(t("org.cli.role"))
        for one in await services.organisations.staff(ADMIN, found.id):
            table.add_row(one.display_name, t(f"org.role.{one.role.value}"))
        console = Console(highlight=False)
        with console.capture() as captured:
            console.print(table)
        return captured.get().rstrip("\n")

    run(work)


@org_app.command("add", cls=KoomCommand, help=HELP("org.cli.add"))
def add(
    slug: Slug,
    account: Account,
    role: Annotated[Role, typer.Option("--role", help=HELP("org.cli.role_help"))] = Role.ORGANISER,
) -> None:
    async def work(services: Services, t: Translator) -> str:
        found = await services.organisations.by_slug(slug)
        someone = await person(services, account)
        await services.organisations.set_role(ADMIN, found.id, someone.id, role)
        return t(
            "org.cli.added", account=account, role=t(f"org.role.{role.value}"), name=found.name
        )

    run(work)


@org_app.command("remove", cls=KoomCommand, help=HELP("org.cli.remove"))
def remove(slug: Slug, account: Account) -> None:
    async def work(services: Services, t: Translator) -> str:
        found = await services.organisations.by_slug(slug)
        someone = await person(services, account)
        await services.organisations.remove(ADMIN, found.id, someone.id)
        return t("org.cli.removed", account=account, name=found.name)

    run(work)


@org_app.command("challenge", cls=KoomCommand, help=HELP("org.cli.challenge"))
def challenge(
    slug: Slug,
    challenge_slug: Annotated[
        str,
        typer.Argument(
            metavar=HELP("operations.cli.challenge_metavar"), help=HELP("org.cli.challenge_slug")
        ),
    ],
    visibility: Annotated[
        Visibility | None, typer.Option("--visibility", help=HELP("org.cli.visibility"))
    ] = None,
) -> None:
    async def work(services: Services, t: Translator) -> str:
        found = await services.organisations.by_slug(slug)
        attached = await services.challenges.by_slug(challenge_slug)
        await services.organisations.attach_challenge(ADMIN, found.id, attached.id)
        said = t("org.cli.attached", title=attached.title, name=found.name)
        if visibility is not None:
            await services.organisations.set_visibility(ADMIN, attached.id, visibility)
            said += "\n" + t(f"org.visibility.{visibility.value}")
        return said

    run(work)


@org_app.command("invite", cls=KoomCommand, help=HELP("org.cli.invite"))
def invite(slug: Slug) -> None:
    async def work(services: Services, t: Translator) -> str:
        found = await services.organisations.by_slug(slug)
        code = await services.organisations.invite(ADMIN, found.id, Role.MEMBER)
        return t("org.member_invite", name=found.name, code=code, link=join_link(services, code))

    run(work)


@command("sponsor", help=HELP("sponsor.cli.help"))
def sponsor(
    challenge_slug: Annotated[
        str,
        typer.Argument(
            metavar=HELP("operations.cli.challenge_metavar"), help=HELP("sponsor.cli.challenge")
        ),
    ],
    threshold: Annotated[
        int,
        typer.Argument(
            metavar=HELP("operations.cli.threshold_metavar"), help=HELP("sponsor.cli.threshold")
        ),
    ],
    account: Account,
) -> None:
    async def work(services: Services, t: Translator) -> str:
        challenge = await services.challenges.by_slug(challenge_slug)
        tier = next((x for x in challenge.tiers if x.threshold == threshold), None)
        if tier is None:
            raise KoomError("sponsor.cli.no_tier", title=challenge.title, threshold=threshold)
        someone = await person(services, account)
        await services.sponsors.attach(ADMIN, tier.id, someone.id)
        return t(
            "sponsor.cli.attached", account=account, threshold=threshold, title=challenge.title
        )

    run(work)


@command("report", help=HELP("report.cli.help"))
def report(
    challenge_slug: Annotated[
        str,
        typer.Argument(
            metavar=HELP("operations.cli.challenge_metavar"), help=HELP("sponsor.cli.challenge")
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", metavar=HELP("operations.cli.file_metavar"), help=HELP("report.cli.out")
        ),
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help=HELP("console.cli.lang"))] = None,
    form: Annotated[
        ReportFormat, typer.Option("--format", "-f", help=HELP("report.cli.format"))
    ] = ReportFormat.HTML,
) -> None:
    async def work(services: Services, t: Translator) -> str:
        if lang is not None:
            t = Translator(resolve_locale(lang, None, services.settings.default_locale))
        challenge = await services.challenges.by_slug(challenge_slug)
        made = await services.reports.of(challenge.id)
        target = out or Path(f"{challenge.slug}-report.{form.value}")
        if form is ReportFormat.PDF:
            target.write_bytes(report_pdf(made, t))
        else:
            target.write_text(report_html(made, t), encoding="utf-8")
        return t("report.cli.written", path=str(target))

    run(work)
