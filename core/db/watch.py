"""Errors of the database driver, counted for /metrics."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext

from core.db.database import Database
from core.metrics import DATABASE_ERRORS


def watch_database(db: Database) -> None:
    """Count every error the database driver raises on this engine."""

    @event.listens_for(db.engine.sync_engine, "handle_error")
    def _count(_context: ExceptionContext) -> None:
        DATABASE_ERRORS.inc()
