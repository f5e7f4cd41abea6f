"""The deployment files, checked without Docker: compose.yaml parses and names only settings
that exist, the Dockerfile and the systemd unit run real commands, and the processes compose
declares start here as they would in their containers, until their health check passes."""

from __future__ import annotations

import asyncio
import configparser
import re
import shlex
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import yaml

from bots.cli import app
from bots.cli_help import MISCONFIGURED
from core.settings import Settings
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.test_startup_errors import environment
from tests.test_web import free_port

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {
    str(field.validation_alias)
    for field in Settings.model_fields.values()
    if field.validation_alias
}
POSTGRES_IMAGE = {"POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD"}
COMPOSE_ONLY = {"POSTGRES_PASSWORD"}
"""Variables compose itself reads from .env (never given to the bot as a setting)."""


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return document


def koom_commands() -> set[str]:
    names = {
        command.name or getattr(command.callback, "__name__", "")
        for command in app.registered_commands
    }
    return names | {group.name for group in app.registered_groups if group.name}


def test_compose_parses_and_names_only_settings_that_exist() -> None:
    services = compose()["services"]
    assert {"db", "bot", "web"} <= set(services)
    for name, service in services.items():
        names = set(service.get("environment", {}))
        allowed = POSTGRES_IMAGE if name == "db" else SETTINGS
        assert names <= allowed, (name, names - allowed)
    used = set(re.findall(r"\$\{(\w+)", (ROOT / "compose.yaml").read_text()))
    assert used <= SETTINGS | COMPOSE_ONLY, used
    for name in ("bot", "web"):
        command = services[name]["command"]
        assert command[0] == "koom" and command[1] in koom_commands(), command
        assert services[name]["healthcheck"]["test"][1:3] == [
            "python",
            "/app/deploy/healthcheck.py",
        ]
    assert services["bot"]["deploy"]["replicas"] == 1  # see README: several bots after issue 11


def test_the_dockerfile_runs_as_a_user_with_a_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim$", text, re.M)
    assert re.search(r"^USER koom$", text, re.M)
    assert "HEALTHCHECK" in text and '"/app/deploy/healthcheck.py"' in text
    assert re.search(r'^CMD \["koom", "run"\]$', text, re.M)
    for name in re.findall(r"^ENV (?:\\\n|.)*?(?=^\S)", text, re.M | re.S):
        for variable in re.findall(r"(\w+)=", name):
            assert variable in SETTINGS or variable.startswith(("PYTHON", "PIP_")), variable
    for copied in re.findall(r"^COPY (\S+)", text, re.M):
        for path in copied.split():
            assert (ROOT / path).exists(), path


def test_the_systemd_unit() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(ROOT / "deploy" / "koom.service")
    service = unit["Service"]
    assert shlex.split(service["ExecStart"])[1:] == ["run"]
    assert service["ExecStart"].split()[0].endswith("/koom")
    assert service["RestartPreventExitStatus"] == str(MISCONFIGURED)
    assert service["KillSignal"] == "SIGTERM"
    assert service["User"] == "koom"


async def test_the_compose_processes_start_and_pass_their_health_checks(tmp_path: Path) -> None:
    """`bot` and `web` as compose declares them (command and environment), on a database
    of this machine instead of the `db` service, Telegram's fake instead of Telegram."""
    services = compose()["services"]
    fake = FakeTelegram()
    await fake.start()
    processes: list[asyncio.subprocess.Process] = []
    metrics_port, web_port = free_port(), free_port()
    try:
        for name, port in (("bot", metrics_port), ("web", web_port)):
            service = services[name]
            env = environment(tmp_path, **{k: str(v) for k, v in service["environment"].items()})
            env.update(
                DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'koom.db'}",
                TELEGRAM_TOKEN=TOKEN,
                TELEGRAM_BASE_URL=fake.base_url,
                KOOM_METRICS_HOST="127.0.0.1",
                KOOM_METRICS_PORT=str(metrics_port),
                TELEGRAM_WEBHOOK_PORT=str(free_port()),
            )
            command = [
                str(port) if part == "8080" else "127.0.0.1" if part == "0.0.0.0" else part
                for part in service["command"]
            ]
            processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bots.cli",
                    *command[1:],
                    cwd=tmp_path,
                    env=env,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.PIPE,
                )
            )
            check = [*service["healthcheck"]["test"][1:-1], str(port)]
            check[1] = str(ROOT / "deploy" / "healthcheck.py")
            await healthy([sys.executable, *check[1:]], tmp_path)
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        outputs = [await asyncio.wait_for(process.communicate(), 30) for process in processes]
        await fake.close()
    assert [process.returncode for process in processes] == [0, 0]
    bot_log = outputs[0][1].decode()
    assert "koom demo" in bot_log  # a bot with a token tells how to load the demo challenge...
    with sqlite3.connect(tmp_path / "koom.db") as conn:  # ...and does not load it itself
        assert conn.execute("SELECT count(*) FROM challenges").fetchone() == (0,)


async def healthy(check: list[str], cwd: Path) -> None:
    """Run the container's health check until it passes (as Docker would, more often)."""
    for _ in range(200):
        probe = await asyncio.create_subprocess_exec(
            *check, cwd=cwd, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        if await probe.wait() == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{check} never passed")
