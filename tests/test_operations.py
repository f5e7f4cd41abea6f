"""Operations without a running bot: time zones repaired by migration 0008, database files
readable by their owner only, `koom db backup`, `koom demo`'s question, one warning per
Telegram outage, readiness and the text log line."""

from __future__ import annotations

import logging
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from alembic.script import ScriptDirectory
from sqlalchemy import insert, select
from telegram.error import NetworkError, TimedOut
from typer.testing import CliRunner

from bots.cli import app
from bots.logs import OURS, configure_logging
from bots.telegram.outage import QUIET_SECONDS, OutageLog
from bots.web.health import Readiness, create_health_app
from core.app import open_database
from core.db.database import Database
from core.db.migrate import alembic_config, upgrade
from core.db.tables import members
from core.settings import Settings
from tests.test_cli import invoke, koom  # noqa: F401 - the fixture

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def before_0008() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_revision("0008")
    assert revision is not None and isinstance(revision.down_revision, str)
    return revision.down_revision


async def test_migration_0008_repairs_stored_time_zones(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'koom.db'}")
    try:
        await upgrade(db, before_0008())
        async with db.write() as conn:
            for name, zone in (("A", "Mars/Olympus"), ("B", "Europe/Paris"), ("C", "")):
                await conn.execute(
                    insert(members).values(display_name=name, timezone=zone, created_at=NOW)
                )
        await upgrade(db, default_timezone="America/Montreal")
        async with db.read() as conn:
            rows = dict(
                (await conn.execute(select(members.c.display_name, members.c.timezone))).all()
            )
    finally:
        await db.dispose()
    assert rows == {"A": "America/Montreal", "B": "Europe/Paris", "C": "America/Montreal"}


async def test_a_new_sqlite_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "koom.db"
    settings = Settings(_env_file=None, DATABASE_URL=f"sqlite+aiosqlite:///{path}")
    db = await open_database(settings)
    try:  # open, it has its write-ahead log and shared memory files too
        assert modes(path.parent) == dict.fromkeys(("koom.db", "koom.db-wal", "koom.db-shm"), 0o600)
    finally:
        await db.dispose()


def modes(folder: Path) -> dict[str, int]:
    return {file.name: stat.S_IMODE(file.stat().st_mode) for file in folder.iterdir()}


def test_backup_copies_the_database_while_it_is_open(koom: CliRunner, tmp_path: Path) -> None:  # noqa: F811
    assert invoke(koom, "demo").exit_code == 0
    writer = sqlite3.connect(tmp_path / "koom.db")  # an open connection, as the bot keeps one
    try:
        result = invoke(koom, "db", "backup", "saved/copy.db")
    finally:
        writer.close()
    assert result.exit_code == 0, result.output
    copy = tmp_path / "saved" / "copy.db"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    with sqlite3.connect(copy) as conn:
        (slug,) = conn.execute("SELECT slug FROM challenges").fetchone()
    assert slug == "trier-dechets-lyon"
    again = invoke(koom, "db", "backup", "saved/copy.db")
    assert again.exit_code == 1
    assert "exists already" in again.stderr


def test_backup_of_postgres_gives_the_pg_dump_command(koom: CliRunner) -> None:  # noqa: F811
    url = "postgresql+asyncpg://koom:secret@db.example:5433/koom"
    result = koom.invoke(app, ["db", "backup", "koom.dump"], env={"DATABASE_URL": url})
    assert result.exit_code == 1
    assert "pg_dump --format=custom --file=koom.dump --host=db.example --port=5433" in result.stderr
    assert "secret" not in result.stderr


def test_demo_asks_before_deleting_pledges(koom: CliRunner, tmp_path: Path) -> None:  # noqa: F811
    assert invoke(koom, "demo").exit_code == 0
    with sqlite3.connect(tmp_path / "koom.db") as conn:
        conn.execute("UPDATE challenges SET pledge_count = 3")
    refused = koom.invoke(app, ["demo"], input="n\n")
    assert refused.exit_code == 1
    assert "deletes its 3 pledges" in refused.stdout
    assert "left as it is" in refused.stdout
    with sqlite3.connect(tmp_path / "koom.db") as conn:
        assert conn.execute("SELECT pledge_count FROM challenges").fetchone() == (3,)
    assert koom.invoke(app, ["demo"], input="").exit_code == 1  # no answer: no
    assert invoke(koom, "demo", "--yes").exit_code == 0
    with sqlite3.connect(tmp_path / "koom.db") as conn:
        assert conn.execute("SELECT pledge_count FROM challenges").fetchone() == (0,)


def test_one_warning_per_telegram_outage(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    outage = OutageLog(clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="bots.telegram.outage"):
        for _ in range(50):  # a poll failing every few seconds
            outage.failed(NetworkError("httpx.ConnectError: connection refused"))
            now[0] += 5
        outage.recovered()
        now[0] += 1000
        outage.failed(TimedOut())
        now[0] += QUIET_SECONDS + 1  # quiet that long: a new outage
        outage.failed(TimedOut())
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 4, messages
    assert messages[0].startswith("Telegram cannot be reached (NetworkError")
    assert messages[1] == "Telegram reachable again after 50 failed polls"
    assert all(record.exc_info is None for record in caplog.records)  # no traceback


async def test_readyz_waits_for_the_adapters(db: Database) -> None:
    client = TestClient(TestServer(create_health_app(db)))
    await client.start_server()
    try:
        Readiness.wait_for("adapters")
        waiting = await client.get("/readyz")
        assert waiting.status == 503
        assert (await waiting.json())["waiting"] == ["adapters"]
        Readiness.done("adapters")
        assert (await client.get("/readyz")).status == 200
        assert (await client.get("/healthz")).status == 200
        page = await client.get("/metrics")
        assert "koom_deliveries" in await page.text()
    finally:
        Readiness.done("adapters")
        await client.close()


def test_the_text_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(_env_file=None, KOOM_LOG_LEVEL="INFO")
    configure_logging(settings)
    try:
        logging.getLogger("conversations.engine").info("handled %s", "telegram command")
        logging.getLogger("telegram.ext").info("a library's chatter")
    finally:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, OURS, False)]:
            root.removeHandler(handler)
    err = capsys.readouterr().err
    assert "INFO conversations.engine: handled telegram command" in err
    assert "chatter" not in err
