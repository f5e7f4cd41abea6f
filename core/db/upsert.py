"""INSERT ... ON CONFLICT for the two dialects we run on (their APIs are the same)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection


def insert_for(conn: Connection | AsyncConnection, table: Table) -> Any:
    """A dialect-specific insert that offers on_conflict_do_nothing/do_update."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignore(conn: Connection, table: Table, /, **values: object) -> bool:
    """Insert a row unless its key exists; True when it was inserted."""
    result = conn.execute(insert_for(conn, table).values(**values).on_conflict_do_nothing())
    return bool(result.rowcount)


CHUNK = 500
"""Rows per multi-row INSERT: well under SQLite's limit of bound parameters."""


def insert_all_new(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert many rows, in chunks, skipping those whose unique key exists; the rows written."""
    written = 0
    for start in range(0, len(rows), CHUNK):
        result = conn.execute(
            insert_for(conn, table)
            .values(list(rows[start : start + CHUNK]))
            .on_conflict_do_nothing()
        )
        written += max(result.rowcount, 0)
    return written
