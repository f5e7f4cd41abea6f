"""Start-up problems as an operator meets them, each in a `koom` process of its own: one
translated line naming the setting and what to do, exit status 2, no traceback (unless
--debug or KOOM_LOG_LEVEL=DEBUG); and the help in one language."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL
from tests.fake_telegram import TOKEN, FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
OURS = ("DATABASE_URL", "TELEGRAM_", "DISCORD_", "KOOM_", "LANG", "LC_")


def environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The test process's environment without any climat-koom setting, in English."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    env.update(
        PYTHONPATH=str(ROOT),
        LANG="en_GB.UTF-8",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'koom.db'}",
        KOOM_LOAD_DEMO="false",
    )
    env.update(settings)
    return env


def koom(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bots.cli", *args],
        cwd=tmp_path,
        env=environment(tmp_path, **settings),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def told(result: subprocess.CompletedProcess[str], *words: str, only: bool = True) -> str:
    """The line that tells the problem (the last, or the only one), once its exit status
    and the absence of a traceback are checked."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    if only:
        assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[-1], lines[-1]
    return lines[-1]


def busy_port() -> socket.socket:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    return listener


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"DATABASE_URL": "garbage"}, ["DATABASE_URL", "sqlite+aiosqlite:///koom.db"]),
        ({"DATABASE_URL": "sqlite:///koom.db"}, ["DATABASE_URL", "postgresql+asyncpg://"]),
        ({"KOOM_DEFAULT_TIMEZONE": "Europe/Pariss"}, ["KOOM_DEFAULT_TIMEZONE", "Europe/Paris"]),
        ({"TELEGRAM_WEBHOOK_PORT": "eighty"}, ["TELEGRAM_WEBHOOK_PORT", "whole number"]),
        ({"KOOM_METRICS_PORT": "70000"}, ["KOOM_METRICS_PORT", "at most 65"]),
        ({"KOOM_LOG_LEVEL": "LOUD"}, ["KOOM_LOG_LEVEL", "DEBUG, INFO, WARNING, ERROR"]),
        ({"KOOM_LOG_FORMAT": "xml"}, ["KOOM_LOG_FORMAT", "text, json"]),
        ({"KOOM_LOAD_DEMO": "maybe"}, ["KOOM_LOAD_DEMO", "true or false"]),
        ({"KOOM_ORGANISERS": "alice"}, ["KOOM_ORGANISERS", "platform:id"]),
        ({"KOOM_DEFAULT_LOCALE": "de"}, ["KOOM_DEFAULT_LOCALE", "fr, en"]),
        ({"TELEGRAM_WEBHOOK_URL": "https://bot.example/hook"}, ["TELEGRAM_WEBHOOK_SECRET"]),
        ({"KOOM_KEEP_DELIVERIES_DAYS": "0"}, ["KOOM_KEEP_DELIVERIES_DAYS", "at least 1"]),
        ({"KOOM_DISCORD_SHARDS": "2/2"}, ["KOOM_DISCORD_SHARDS", "0,1/4", "below the total"]),
    ],
)
def test_a_refused_setting_is_one_line(
    tmp_path: Path, settings: dict[str, str], words: list[str]
) -> None:
    line = told(koom(tmp_path, "stats", **settings), *words)
    assert "in .env" in line


def test_a_setting_in_french(tmp_path: Path) -> None:
    result = koom(tmp_path, "stats", LANG="fr_FR.UTF-8", KOOM_DEFAULT_TIMEZONE="Mars/Olympus")
    told(result, "KOOM_DEFAULT_TIMEZONE", "n'est pas un fuseau horaire")


def test_several_refused_settings_are_one_line_each(tmp_path: Path) -> None:
    result = koom(tmp_path, "stats", KOOM_LOG_LEVEL="LOUD", KOOM_MAP_MIN_COUNT="none")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 2, result.stderr


def test_a_non_utf8_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"KOOM_ORGANISERS=console:\xe9lise\n")
    told(koom(tmp_path, "stats"), ".env", "UTF-8")


def test_a_database_server_that_does_not_answer(tmp_path: Path) -> None:
    with busy_port() as taken:  # closed again once the block ends: nobody answers
        port = taken.getsockname()[1]
    url = f"postgresql+asyncpg://koom@127.0.0.1:{port}/koom"
    told(koom(tmp_path, "stats", DATABASE_URL=url), "DATABASE_URL", "server runs")


@pytest.mark.skipif(POSTGRES_URL is None, reason="needs KOOM_TEST_POSTGRES_URL")
def test_a_postgres_database_that_does_not_exist(tmp_path: Path) -> None:
    assert POSTGRES_URL is not None
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/koom_no_such_database"
    line = told(koom(tmp_path, "stats", DATABASE_URL=url), "DATABASE_URL")
    assert "koom_no_such_database" in line


def test_a_database_folder_that_cannot_be_created(tmp_path: Path) -> None:
    url = "sqlite+aiosqlite:////proc/koom/koom.db"
    told(koom(tmp_path, "stats", DATABASE_URL=url), "DATABASE_URL")


def test_the_traceback_with_debug(tmp_path: Path) -> None:
    url = "sqlite+aiosqlite:////proc/koom/koom.db"
    for result in (
        koom(tmp_path, "--debug", "stats", DATABASE_URL=url),
        koom(tmp_path, "stats", DATABASE_URL=url, KOOM_LOG_LEVEL="DEBUG"),
    ):
        assert result.returncode == 2
        assert "Traceback" in result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith("DATABASE_URL")


def test_a_yaml_date_that_does_not_exist(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "title: Vélo\naction: aller au travail à vélo\ngoal: 10\ndeadline: 2027-02-30\n"
    )
    told(koom(tmp_path, "challenge", "import", "c.yaml"), "c.yaml", "2027-02-28")


def test_a_taken_web_port_under_koom_run(tmp_path: Path) -> None:
    with busy_port() as taken:
        port = str(taken.getsockname()[1])
        result = koom(tmp_path, "run", "--as", "alice", KOOM_WEB_PORT=port)
    told(result, "KOOM_WEB_PORT", port, "free port", only=False)


def test_a_taken_metrics_port_under_koom_run(tmp_path: Path) -> None:
    with busy_port() as taken:
        port = str(taken.getsockname()[1])
        result = koom(tmp_path, "run", "--as", "alice", KOOM_METRICS_PORT=port)
    told(result, "KOOM_METRICS_PORT", port, only=False)


async def test_a_telegram_token_that_telegram_refuses(tmp_path: Path) -> None:
    fake = FakeTelegram()
    await fake.start()
    try:
        env = environment(tmp_path, TELEGRAM_TOKEN="abc", TELEGRAM_BASE_URL=fake.base_url)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots.cli",
            "run",
            cwd=tmp_path,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await fake.close()
    result = subprocess.CompletedProcess[str](
        [], process.returncode or 0, out.decode(), err.decode()
    )
    line = told(result, "TELEGRAM_TOKEN", "@BotFather", only=False)
    assert "abc" not in line


async def test_a_redis_server_that_does_not_answer(tmp_path: Path) -> None:
    fake = FakeTelegram()
    await fake.start()
    with busy_port() as closed:  # listening, never answering: then closed, refusing
        port = closed.getsockname()[1]
    try:
        env = environment(
            tmp_path,
            TELEGRAM_TOKEN=TOKEN,
            TELEGRAM_BASE_URL=fake.base_url,
            KOOM_REDIS_URL=f"redis://127.0.0.1:{port}/0",
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots.cli",
            "run",
            cwd=tmp_path,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await fake.close()
    result = subprocess.CompletedProcess[str](
        [], process.returncode or 0, out.decode(), err.decode()
    )
    # Before: the bot said it ran, then every reply failed with a traceback.
    told(result, "KOOM_REDIS_URL", str(port), only=False)
    assert not fake.calls_of("getUpdates")


# --- help -------------------------------------------------------------------------------

COMMANDS = [
    [],
    ["chat"],
    ["run"],
    ["demo"],
    ["stats"],
    ["broadcast"],
    ["web"],
    ["challenge"],
    ["challenge", "import"],
    ["db"],
    ["db", "upgrade"],
    ["db", "backup"],
    ["org"],
    ["org", "create"],
    ["org", "add"],
    ["org", "challenge"],
    ["sponsor"],
    ["report"],
]
ENGLISH = ("Usage:", "Show this message", "Commands ─", "[default:", "[required]", "COMMAND [ARGS]")
METAVARS = re.compile(r"\b(AUDIENCE|SLUG|TEXT|PATH|FILE|WHEN|CHALLENGE|ORG|PLATFORM|THRESHOLD)\b")
"""Placeholders of values, in English: a French help names them in French."""


def test_every_help_reads_in_french(tmp_path: Path) -> None:
    for command in COMMANDS:
        result = koom(tmp_path, *command, "-h", LANG="fr_FR.UTF-8", COLUMNS="200")
        assert result.returncode == 0, (command, result.stderr)
        assert "Utilisation : koom" in result.stdout, command
        assert "Afficher cette aide et quitter." in result.stdout, command
        assert not [word for word in ENGLISH if word in result.stdout], (command, result.stdout)
        assert not METAVARS.findall(_usage_and_options(result.stdout)), (command, result.stdout)


def test_help_in_english_and_the_version(tmp_path: Path) -> None:
    result = koom(tmp_path, "--help", COLUMNS="200")
    assert "Usage: koom [OPTIONS] COMMAND [ARGS]..." in result.stdout
    assert "--debug" in result.stdout
    version = koom(tmp_path, "--version")
    assert version.returncode == 0
    assert version.stdout.startswith("koom 0.")


def _usage_and_options(help_text: str) -> str:
    """The usage line and the options' and arguments' columns, without the help sentences
    (which may quote a setting such as KOOM_DEFAULT_TIMEZONE or a file name)."""
    kept = [line.split("  ")[0] for line in help_text.splitlines() if "Utilisation" in line]
    kept += [" ".join(line.split()[:4]) for line in help_text.splitlines() if "│ " in line]
    return "\n".join(kept)
