"""`koom db backup`: a consistent copy of a SQLite database while the bot runs."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from core.errors import Invalid


def backup_sqlite(database: Path, target: Path) -> None:
    """Copy `database` into the new file `target` with VACUUM INTO: one consistent snapshot,
    even in WAL mode with the bot writing (copying the file is not). The copy gets mode 600."""
    if not database.exists():
        raise Invalid("operations.backup.no_database", file=str(database))
    if target.exists() and target.stat().st_size > 0:
        raise Invalid("operations.backup.exists", file=str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
            conn.execute("VACUUM INTO ?", (str(target),))
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
        raise Invalid("operations.backup.failed", problem=str(exc)) from exc


def pg_dump_command(url: str, target: Path) -> str:
    """The pg_dump command that backs up the PostgreSQL database of `url` (no password: pg_dump
    reads it from PGPASSWORD or ~/.pgpass)."""
    parsed = make_url(url)
    parts = ["pg_dump", "--format=custom", f"--file={target}"]
    if parsed.host:
        parts.append(f"--host={parsed.host}")
    if parsed.port:
        parts.append(f"--port={parsed.port}")
    if parsed.username:
        parts.append(f"--username={parsed.username}")
    parts.append(parsed.database or "koom")
    return " ".join(parts)
