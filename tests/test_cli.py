"""The `koom` command on a temporary SQLite database: import, stats, demo, db upgrade, run."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bots.cli import app
from core.db.migrate import head_revision
from core.settings import Settings

VALID = """\
- title: Vélo au travail
  action: aller au travail à vélo
  goal: 200
  frequency: daily
  deadline_in_days: 30
  status: open
  tiers:
    - threshold: 100
      sponsor: Cycles Martin
      reward: donne 500 € à l'atelier vélo du quartier
- slug: compost-villeurbanne
  title: Composter à Villeurbanne
  action: composter mes biodéchets
  goal: 300
  deadline: 2099-01-01
"""

INVALID = """\
- title: Vélo au travail
  action: aller au travail à vélo
  goal: 200
  deadline_in_days: 30
- title: Compost
  action: composter
  goal: 0
  deadline: 2020-01-01
  colour: green
"""


@pytest.fixture
def koom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner on a fresh database file, in English, with no demo and no `.env`."""
    monkeypatch.chdir(tmp_path)
    return CliRunner(
        env={
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'koom.db'}",
            "KOOM_LOAD_DEMO": "false",
            "KOOM_DEFAULT_LOCALE": "en",
            "LC_ALL": "en_GB.UTF-8",
            "TELEGRAM_TOKEN": None,
            "DISCORD_TOKEN": None,
        }
    )


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "challenges.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path.name)


def test_import_creates_every_challenge(koom: CliRunner, tmp_path: Path) -> None:
    result = invoke(koom, "challenge", "import", write(tmp_path, VALID))
    assert result.exit_code == 0, result.output
    assert "velo-au-travail" in result.stdout
    assert "compost-villeurbanne" in result.stdout
    assert "2 challenges imported" in result.stdout

    stats = invoke(koom, "stats")
    assert stats.exit_code == 0
    assert "velo-au-travail" in stats.stdout
    assert "open" in stats.stdout
    assert "0 / 200" in stats.stdout
    assert "compost-villeurbanne" in stats.stdout
    assert "draft" in stats.stdout


def test_invalid_import_names_fields_and_lines_and_changes_nothing(
    koom: CliRunner, tmp_path: Path
) -> None:
    result = invoke(koom, "challenge", "import", write(tmp_path, INVALID))
    assert result.exit_code == 1
    errors = result.stderr
    assert "challenges.yaml:7: entry 2, field goal: must be greater than 0" in errors
    assert "challenges.yaml:8: entry 2, field deadline: the deadline is in the past" in errors
    assert "challenges.yaml:9: entry 2, field colour: unknown field" in errors
    assert "Nothing was imported" in errors
    assert "No challenge yet" in invoke(koom, "stats").stdout


def test_refused_entry_undoes_the_whole_import(koom: CliRunner, tmp_path: Path) -> None:
    twice = VALID + VALID.replace("- slug: compost-villeurbanne", "- slug: autre")
    result = invoke(koom, "challenge", "import", write(tmp_path, twice))
    assert result.exit_code == 1
    assert "entry 3" in result.stderr
    assert "velo-au-travail" in result.stderr
    assert "No challenge yet" in invoke(koom, "stats").stdout


def test_import_reports_broken_yaml(koom: CliRunner, tmp_path: Path) -> None:
    result = invoke(koom, "challenge", "import", write(tmp_path, "- title: [\n"))
    assert result.exit_code == 2
    assert "challenges.yaml:2: this is not valid YAML" in result.stderr


def test_demo_loads_and_reloads(koom: CliRunner) -> None:
    first = invoke(koom, "demo")
    assert first.exit_code == 0, first.output
    assert "trier-dechets-lyon" in first.stdout
    assert invoke(koom, "demo").exit_code == 0
    stats = invoke(koom, "stats").stdout
    assert stats.count("trier-dechets-lyon") == 1
    assert "0 / 1,000" in stats


def test_the_console_chat_loads_the_demo_once(koom: CliRunner) -> None:
    demo = {"KOOM_LOAD_DEMO": "true"}
    stats = koom.invoke(app, ["stats"], env=demo)
    assert "trier-dechets-lyon" not in stats.stdout  # only the chat and `koom demo` load it
    for _ in range(2):
        result = koom.invoke(app, ["chat", "--as", "alice"], input="", env=demo)
        assert result.exit_code == 0, result.output
    assert koom.invoke(app, ["stats"], env=demo).stdout.count("trier-dechets-lyon") == 1


def test_the_demo_challenge_speaks_the_reader_s_language(koom: CliRunner) -> None:
    """The demo's title, action, description and rewards in English for an English reader;
    the French original for a French one."""
    demo = {"KOOM_LOAD_DEMO": "true"}
    steps = "/start trier-dechets-lyon\n1\n/pledge trier-dechets-lyon\n"
    english = koom.invoke(app, ["chat", "--as", "ann", "--lang", "en"], input=steps, env=demo)
    assert english.exit_code == 0, english.output
    for text in ("Sort my waste in Lyon", "a local reuse", "gives €1,000", "sort my waste"):
        assert text in english.stdout, text
    for text in ("Trier mes déchets", "trier mes déchets", "donne 1 000 €", "association locale"):
        assert text not in english.stdout, text
    french = koom.invoke(app, ["chat", "--as", "bea", "--lang", "fr"], input=steps, env=demo)
    assert french.exit_code == 0, french.output
    for text in ("Trier mes déchets à Lyon", "donne 1 000 €", "trier mes déchets"):
        assert text in french.stdout, text
    assert "Sort my waste" not in french.stdout


def test_db_upgrade_prints_the_revision(koom: CliRunner) -> None:
    result = invoke(koom, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert f"revision {head_revision()}" in result.stdout


def test_env_example_lists_every_setting() -> None:
    lines = (Path(__file__).parent.parent / ".env.example").read_text().splitlines()
    listed = {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}
    expected = {field.validation_alias for field in Settings.model_fields.values()}
    assert listed == expected


def test_import_refuses_an_area_goal_below_the_minimum_count(
    koom: CliRunner, tmp_path: Path
) -> None:
    """An area goal of 1 would announce one person's pledge by their commune's name."""
    entry = VALID.split("- slug: compost-villeurbanne")[0] + "  area_goal: 1\n"
    result = invoke(koom, "challenge", "import", write(tmp_path, entry))
    assert result.exit_code == 1
    assert "area goal" in result.stderr and "3" in result.stderr
    assert "Nothing was imported" in result.stderr
    assert "No challenge yet" in invoke(koom, "stats").stdout
