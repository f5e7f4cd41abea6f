"""`koom org` on a temporary SQLite database: create, staff, challenges, header, refusals."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

from typer.testing import CliRunner

from bots.cli import app
from tests.test_cli import VALID, invoke, koom, write

__all__ = ["koom"]  # the runner fixture of test_cli


def test_org_create_staff_and_challenge(koom: CliRunner, tmp_path: Path) -> None:
    created = invoke(
        koom, "org", "create", "acme", "--name", "Acme", "--kind", "company",
        "--owner", "telegram:1", "--colour", "#112233",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "Organisation “Acme” (acme) created, owned by telegram:1." in created.stdout
    assert invoke(koom, "org", "list").stdout.strip() == "acme: Acme (company)"

    added = invoke(koom, "org", "add", "acme", "discord:7")
    assert added.exit_code == 0, added.output
    assert "discord:7 is now organiser of “Acme”." in added.stdout
    staff = invoke(koom, "org", "staff", "acme").stdout
    assert "telegram:1" in staff and "owner" in staff
    assert "discord:7" in staff and "organiser" in staff

    assert invoke(koom, "challenge", "import", write(tmp_path, VALID)).exit_code == 0
    attached = invoke(koom, "org", "challenge", "acme", "velo-au-travail")
    assert attached.exit_code == 0, attached.output
    assert "“Vélo au travail” is now run by “Acme”." in attached.stdout

    header = invoke(koom, "org", "header", "acme", "--contact", "rse@acme.example")
    assert header.exit_code == 0, header.output

    removed = invoke(koom, "org", "remove", "acme", "discord:7")
    assert removed.exit_code == 0, removed.output
    assert "discord:7" not in invoke(koom, "org", "staff", "acme").stdout


def test_org_refusals_are_translated_and_change_nothing(koom: CliRunner) -> None:
    assert invoke(koom, "org", "list").stdout.strip() == "No organisation yet."
    bad = invoke(
        koom, "org", "create", "acme", "--name", "Acme", "--kind", "company",
        "--owner", "telegram:1", "--colour", "red",
    )  # fmt: skip
    assert bad.exit_code == 1
    assert "“red” is not a colour" in bad.stderr
    assert invoke(koom, "org", "list").stdout.strip() == "No organisation yet."

    not_account = invoke(
        koom, "org", "create", "acme", "--name", "Acme", "--kind", "city", "--owner", "bob"
    )
    assert not_account.exit_code == 1
    assert "“bob” is not an account" in not_account.stderr

    assert (
        invoke(
            koom,
            "org",
            "create",
            "acme",
            "--name",
            "Acme",
            "--kind",
            "city",
            "--owner",
            "console:a",
        ).exit_code
        == 0
    )
    last_owner = invoke(koom, "org", "remove", "acme", "console:a")
    assert last_owner.exit_code == 1
    assert "keeps at least one owner" in last_owner.stderr
    unknown = invoke(koom, "org", "staff", "nope")
    assert unknown.exit_code == 1
    assert "No organisation is called “nope”." in unknown.stderr
    french = koom.invoke(app, ["org", "staff", "nope"], env={"LC_ALL": "fr_FR.UTF-8"})
    assert "Aucune organisation ne s'appelle « nope »." in french.stderr


def test_org_makes_a_challenge_private_and_invites_members(koom: CliRunner, tmp_path: Path) -> None:
    assert invoke(
        koom, "org", "create", "acme", "--name", "Acme", "--kind", "company",
        "--owner", "telegram:1",
    ).exit_code == 0  # fmt: skip
    assert invoke(koom, "challenge", "import", write(tmp_path, VALID)).exit_code == 0

    def visibility() -> str:
        with closing(sqlite3.connect(tmp_path / "koom.db")) as db:
            row = db.execute(
                "SELECT visibility FROM challenges WHERE slug = 'velo-au-travail'"
            ).fetchone()
        return str(row[0])

    assert visibility() == "public"
    private = invoke(koom, "org", "challenge", "acme", "velo-au-travail", "--visibility", "members")
    assert private.exit_code == 0, private.output
    assert "members only" in private.stdout
    assert visibility() == "members"

    invited = invoke(koom, "org", "invite", "acme")
    assert invited.exit_code == 0, invited.output
    code = re.search(r"Members' code of Acme: (\S+)", invited.stdout)
    assert code is not None, invited.stdout
    assert invoke(koom, "org", "invite", "nobody").exit_code == 1

    public = invoke(koom, "org", "challenge", "acme", "velo-au-travail", "--visibility", "public")
    assert public.exit_code == 0, public.output
    assert visibility() == "public"


def test_yaml_import_names_the_organisation_and_visibility(koom: CliRunner, tmp_path: Path) -> None:
    assert invoke(
        koom, "org", "create", "acme", "--name", "Acme", "--kind", "company",
        "--owner", "telegram:1",
    ).exit_code == 0  # fmt: skip
    orphan = (
        "- slug: staff-velo\n  title: Vélo\n  action: venir à vélo\n"
        "  goal: 50\n  deadline: 2099-01-01\n"
    )
    refused = invoke(
        koom, "challenge", "import", write(tmp_path, orphan + "  visibility: members\n")
    )
    assert refused.exit_code != 0
    assert "Only a challenge run by an organisation" in refused.output
    unknown = invoke(
        koom, "challenge", "import", write(tmp_path, orphan + "  organisation: nobody\n")
    )
    assert unknown.exit_code != 0
    assert "nobody" in unknown.output
    with closing(sqlite3.connect(tmp_path / "koom.db")) as db:
        assert db.execute("SELECT count(*) FROM challenges").fetchone()[0] == 0

    done = invoke(
        koom, "challenge", "import",
        write(tmp_path, orphan + "  organisation: acme\n  visibility: members\n"),
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    with closing(sqlite3.connect(tmp_path / "koom.db")) as db:
        row = db.execute(
            "SELECT c.visibility, o.slug FROM challenges c JOIN organisations o"
            " ON o.id = c.organisation_id WHERE c.slug = 'staff-velo'"
        ).fetchone()
    assert row == ("members", "acme")
