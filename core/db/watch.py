"""Errors of the database driver, counted for /metrics."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext

from core.db.database import Database
from core.metrics import DATABASE_ERRORS


def watch_database(db: Database) -> None:
    """Count every error the database driver raises, on the readers' engine and the
    writer's (SQLite's writer has an engine of its own)."""

    def _count(_context: ExceptionContext) -> None:
        DATABASE_ERRORS.inc()

    for engine in {db.engine.sync_engine, db.writer_engine}:
        event.listen(engine, "handle_error", _count)
