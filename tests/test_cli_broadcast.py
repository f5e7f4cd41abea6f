"""`koom broadcast` on a temporary SQLite database: preview, confirmation, sending now (the
rows only: `koom run` sends), scheduling, following with Ctrl-C, status, cancel, refusals."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from bots.cli import app
from core.app import open_database
from core.db.tables import deliveries
from core.services import Services
from core.services.broadcasts import Broadcast, BroadcastStatus
from core.services.organisations import Actor, OrganisationKind
from core.settings import Settings
from tests.factories import all_broadcasts, member, open_challenge

R = TypeVar("R")


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'koom.db'}"


@pytest.fixture
def koom(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner on a fresh database file, in English, with no demo and no `.env`."""
    monkeypatch.chdir(tmp_path)
    return CliRunner(
        env={
            "DATABASE_URL": url,
            "KOOM_LOAD_DEMO": "false",
            "KOOM_DEFAULT_LOCALE": "en",
            "KOOM_DEFAULT_TIMEZONE": "Europe/Paris",
            "LC_ALL": "en_GB.UTF-8",
            "TELEGRAM_TOKEN": None,
            "DISCORD_TOKEN": None,
        }
    )


def with_services(url: str, work: Callable[[Services], Awaitable[R]]) -> R:
    """Run `work` over the test database."""

    async def run() -> R:
        settings = Settings(_env_file=None, DATABASE_URL=url, KOOM_DEFAULT_LOCALE="en")
        services = Services(db=await open_database(settings), settings=settings)
        try:
            return await work(services)
        finally:
            await services.db.dispose()

    return asyncio.run(run())


@pytest.fixture
def seeded(url: str) -> str:
    """The challenge tri-lyon with two pledgers on Telegram, one of them French."""

    async def seed(services: Services) -> None:
        challenge = await open_challenge(services, slug="tri-lyon", goal=100)
        for name in ("1", "2"):
            person = await member(services, name, "telegram")
            await services.pledges.pledge(person.id, challenge.id)
        french = await member(services, "1", "telegram")
        await services.members.update(french.id, language="fr")

    with_services(url, seed)
    return url


def broadcasts(url: str) -> list[Broadcast]:
    return with_services(url, all_broadcasts)


def rows(url: str) -> dict[str, str]:
    async def read(services: Services) -> dict[str, str]:
        async with services.db.read() as conn:
            found = await conn.execute(select(deliveries.c.chat_id, deliveries.c.status))
            return {row.chat_id: row.status for row in found}

    return with_services(url, read)


def invoke(runner: CliRunner, *args: str, input: str | None = None) -> Result:
    return runner.invoke(app, ["broadcast", *args], input=input, catch_exceptions=False)


SEND = ("-a", "pledgers", "--challenge", "tri-lyon", "-m", "See you on Saturday!")


def test_help_says_koom_run_sends(koom: CliRunner) -> None:
    result = invoke(koom, "--help")
    assert result.exit_code == 0
    assert "koom run" in result.stdout


def test_preview_shows_each_language_then_sends_nothing(koom: CliRunner, seeded: str) -> None:
    result = invoke(koom, *SEND, "--preview")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "In French, for 1 recipient:" in out and "In English, for 1 recipient:" in out
    assert "📣 Un message des organisateurs de « Challenge tri-lyon » :" in out
    assert "📣 A message from the organisers of “Challenge tri-lyon”:" in out
    assert out.count("See you on Saturday!") == 2
    assert "Reply STOP" in out and "Répondez STOP" in out
    assert "2 recipients in all." in out and "Nothing was sent." in out
    assert broadcasts(seeded) == []  # the draft is deleted
    assert rows(seeded) == {}


def test_confirmation_declined_sends_nothing(koom: CliRunner, seeded: str) -> None:
    result = invoke(koom, *SEND, input="n\n")
    assert result.exit_code == 1
    assert "2 recipients in all." in result.stdout and "Send it?" in result.stdout
    assert "Nothing was sent." in result.stdout
    assert broadcasts(seeded) == []  # the draft is deleted
    assert rows(seeded) == {}


def test_confirmed_broadcast_is_written_for_koom_run(koom: CliRunner, seeded: str) -> None:
    result = invoke(koom, *SEND, "--no-follow", input="y\n")
    assert result.exit_code == 0, result.output
    assert "Broadcast #1 is written for 2 recipients." in result.stdout
    assert "koom run" in result.stdout
    assert rows(seeded) == {"1": "pending", "2": "pending"}
    [sending] = broadcasts(seeded)
    assert (sending.status, sending.recipients) == (BroadcastStatus.SENDING, 2)

    status = invoke(koom, "--status", "1")
    assert status.exit_code == 0
    assert "📣 Broadcast #1: sending" in status.stdout
    assert "Sent: 0 · failed: 0 · cancelled: 0 · remaining: 2 (of 2 recipients)" in status.stdout

    cancel = invoke(koom, "--cancel", "1", "--yes")
    assert cancel.exit_code == 0
    assert "Broadcast #1 is cancelled: 2 messages still waiting are dropped." in cancel.stdout
    assert rows(seeded) == {"1": "cancelled", "2": "cancelled"}
    again = invoke(koom, "--cancel", "1", "--yes")
    assert again.exit_code == 1
    assert "This broadcast is already over" in again.stderr


def test_yes_skips_the_preview(koom: CliRunner, seeded: str) -> None:
    result = invoke(koom, *SEND, "--yes", "--no-follow")
    assert result.exit_code == 0, result.output
    assert "In French" not in result.stdout
    assert set(rows(seeded)) == {"1", "2"}


def test_cancel_asks_first(koom: CliRunner, seeded: str) -> None:
    invoke(koom, *SEND, "--yes", "--no-follow")
    result = invoke(koom, "--cancel", "1", input="n\n")
    assert result.exit_code == 1
    assert "Cancel broadcast #1?" in result.stdout
    assert rows(seeded) == {"1": "pending", "2": "pending"}


def test_follow_ends_when_done(koom: CliRunner, seeded: str) -> None:
    result = invoke(koom, "-a", "groups", "-c", "tri-lyon", "-m", "Hi", "--yes")  # no group
    assert result.exit_code == 0, result.output
    assert "Press Ctrl-C to stop following." in result.stdout
    assert "📣 Broadcast #1: done" in result.stdout


@pytest.mark.parametrize("answer,status", [("y", "cancelled"), ("n", "pending")])
def test_ctrl_c_while_following_offers_to_cancel(
    koom: CliRunner, seeded: str, monkeypatch: pytest.MonkeyPatch, answer: str, status: str
) -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("bots.cli.poll_pause", interrupt)
    result = invoke(koom, *SEND, "--yes", input=f"{answer}\n")
    assert result.exit_code == 0, result.output
    assert "Cancel broadcast #1 too?" in result.stdout
    if answer == "y":
        assert "Broadcast #1 is cancelled: 2 messages still waiting are dropped." in result.stdout
    else:
        assert "koom broadcast --status 1" in result.stdout
    assert rows(seeded) == {"1": status, "2": status}


def test_scheduled_at_a_local_time(koom: CliRunner, seeded: str) -> None:
    result = invoke(koom, *SEND, "--yes", "--at", "2099-01-01 10:00")
    assert result.exit_code == 0, result.output
    assert "Broadcast #1 is scheduled for" in result.stdout
    [scheduled] = broadcasts(seeded)
    assert scheduled.status is BroadcastStatus.SCHEDULED
    assert scheduled.send_at == datetime(2099, 1, 1, 9, 0, tzinfo=UTC)  # Paris in winter
    assert rows(seeded) == {}
    status = invoke(koom, "--status", "1")
    assert "📣 Broadcast #1: scheduled" in status.stdout and "10:00" in status.stdout


def test_message_from_a_file(koom: CliRunner, seeded: str, tmp_path: Path) -> None:
    (tmp_path / "message.txt").write_text("Tomorrow, 9 am.\nBring gloves.\n", encoding="utf-8")
    result = invoke(koom, "-a", "members", "-f", "message.txt", "--yes", "--no-follow")
    assert result.exit_code == 0, result.output
    [sent] = broadcasts(seeded)
    assert sent.text == "Tomorrow, 9 am.\nBring gloves."


@pytest.mark.parametrize(
    "args,code,message",
    [
        (("-a", "pledgers,bogus", "-c", "tri-lyon", "-m", "x"), 2, "Unknown audience “bogus”"),
        (("-m", "Hello"), 2, "Choose who receives it with --audience"),
        (("-a", "members"), 2, "Give the message with --message TEXT or --file PATH."),
        (("-a", "members", "-m", "x", "-f", "x.txt"), 2, "not both"),
        (("-a", "members", "-f", "missing.txt"), 2, "missing.txt: cannot read the file"),
        (("--status", "1", "-a", "members"), 2, "Choose one thing to do"),
        (("-a", "pledgers", "-m", "Hello", "-y"), 1, "belong to a challenge: choose one first"),
        (("-a", "pledgers", "-c", "nope", "-m", "Hello", "-y"), 1, "nope"),
        (("-a", "members", "-m", "   ", "-y"), 1, "The message is empty"),
        (("-a", "members", "-m", "x" * 3001, "-y"), 1, "3,000 characters at most"),
        (("-a", "members", "-m", "Hi", "-y", "--at", "2020-01-01 10:00"), 1, "already passed"),
        (("-a", "members", "-m", "Hi", "-y", "--at", "soon"), 1, "could not read that date"),
        (("--status", "42"), 1, "This broadcast does not exist."),
        (("--cancel", "42", "-y"), 1, "This broadcast does not exist."),
    ],
)
def test_errors_write_nothing(
    koom: CliRunner, seeded: str, args: tuple[str, ...], code: int, message: str
) -> None:
    result = invoke(koom, *args)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert broadcasts(seeded) == []
    assert rows(seeded) == {}


async def lyon_owns_tri_lyon(services: Services) -> None:
    """Two organisations, Lyon and Acme; the seeded challenge tri-lyon is Lyon's."""
    admin = Actor.administrator()
    owner = await member(services, "carla")
    for slug, name in (("lyon", "Ville de Lyon"), ("acme", "Acme")):
        await services.organisations.create(admin, slug, name, OrganisationKind.CITY, owner.id)
    lyon = await services.organisations.by_slug("lyon")
    challenge = await services.challenges.by_slug("tri-lyon")
    await services.organisations.attach_challenge(admin, lyon.id, challenge.id)


def test_org_writes_only_to_its_own_challenges(koom: CliRunner, seeded: str) -> None:
    with_services(seeded, lyon_owns_tri_lyon)
    refused = invoke(koom, *SEND, "--org", "acme", "--yes", "--no-follow")
    assert refused.exit_code == 1
    assert "tri-lyon is not a challenge of Acme." in refused.stderr
    everyone = invoke(koom, "-a", "members", "-m", "Hi", "--org", "lyon", "--yes")
    assert everyone.exit_code == 1
    assert "not every member" in everyone.stderr
    assert broadcasts(seeded) == [] and rows(seeded) == {}
    sent = invoke(koom, *SEND, "--org", "lyon", "--yes", "--no-follow")
    assert sent.exit_code == 0, sent.output
    assert set(rows(seeded)) == {"1", "2"}


def test_org_status_and_cancel_refuse_another_organisations_broadcast(
    koom: CliRunner, seeded: str
) -> None:
    with_services(seeded, lyon_owns_tri_lyon)
    assert invoke(koom, *SEND, "--org", "lyon", "--yes", "--no-follow").exit_code == 0
    assert invoke(koom, "-a", "members", "-m", "Hi", "--yes", "--no-follow").exit_code == 0
    for args in (("--status", "1"), ("--cancel", "1", "--yes"), ("--status", "2")):
        number = args[1]
        refused = invoke(koom, *args, "--org", "acme" if number == "1" else "lyon")
        assert refused.exit_code == 1, refused.output
        owner = "Acme" if number == "1" else "Ville de Lyon"
        assert refused.stderr.strip() == (
            f"Broadcast #{number} is not one of {owner}'s: "
            "with --org, --status and --cancel act on its broadcasts only."
        )
        assert refused.stdout == ""
    assert set(rows(seeded).values()) == {"pending"}  # nothing cancelled
    assert [b.status for b in broadcasts(seeded)] == [BroadcastStatus.SENDING] * 2
    shown = invoke(koom, "--status", "1", "--org", "lyon")
    assert shown.exit_code == 0 and "📣 Broadcast #1: sending" in shown.stdout
    cancelled = invoke(koom, "--cancel", "1", "--org", "lyon", "--yes")
    assert cancelled.exit_code == 0, cancelled.output
    assert "Broadcast #1 is cancelled" in cancelled.stdout
    unknown = invoke(koom, "--status", "1", "--org", "nowhere")
    assert unknown.exit_code == 1 and unknown.stderr.count("\n") == 1
