"""SQLite reads on the event loop's own thread, for SQLAlchemy's async engine.

aiosqlite runs every call of a connection (cursor, execute, fetch, close, BEGIN, ROLLBACK)
on a thread of its own: about four thread hops a statement, each waking a thread that must
take the GIL. A conversation turn makes ten to twenty such statements, and under load the
hand-overs cost more CPU than the reads (a profile of the Telegram bot put a quarter of its
time in them). These connections answer the same async API at once instead, on the calling
thread: the read runs in place. That is safe for reads because in WAL mode a reader never
waits for a lock (writers of this process are the single writer's thread; a `koom` command's
writes wait for the lock, not reads); the loop is held only for the read's own time, which
the GIL would mostly have taken from it anyway.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Generator, Iterable
from types import SimpleNamespace
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi


class _Cursor:
    """An aiosqlite-like cursor whose coroutines run at once."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> _Cursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = ()) -> _Cursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> _Cursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _Now:
    """Stands for aiosqlite's queue of calls to its thread: a call runs at once."""

    def put_nowait(self, item: tuple[Any, Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # handed to whoever awaits it
            future.set_exception(error)


class InlineConnection:
    """An aiosqlite-like connection whose coroutines run at once on the calling thread."""

    Error = sqlite3.Error

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._connection: sqlite3.Connection | None = conn
        self._tx = _Now()

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> _Cursor:
        return _Cursor(self._conn.cursor())

    def begin(self) -> None:
        """Begin a deferred transaction, at once (SQLAlchemy's `begin` event is synchronous)."""
        self._conn.execute("BEGIN")

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    def stop(self) -> None:
        """Close at once (SQLAlchemy's terminate)."""
        if self._connection is not None:
            self._connection = None
            self._conn.close()


class _Connecting:
    """What `connect` returns: awaited, the connection (SQLAlchemy marks aiosqlite's
    `_thread` a daemon; there is none here)."""

    def __init__(self, database: str, kwargs: dict[str, Any]) -> None:
        self._thread = SimpleNamespace(daemon=True)
        self._database = database
        # The pool lends a connection to one task at a time; it may close it elsewhere.
        self._kwargs = {**kwargs, "check_same_thread": False}

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        return self._open().__await__()

    async def _open(self) -> InlineConnection:
        return InlineConnection(sqlite3.connect(self._database, **self._kwargs))


def _connect(database: str, **kwargs: Any) -> _Connecting:
    return _Connecting(database, kwargs)


_MODULE = SimpleNamespace(
    connect=_connect,
    Connection=InlineConnection,
    __version__=aiosqlite.__version__,
    **{
        name: getattr(sqlite3, name)
        for name in (
            "DatabaseError",
            "Error",
            "IntegrityError",
            "NotSupportedError",
            "OperationalError",
            "ProgrammingError",
            "sqlite_version",
            "sqlite_version_info",
        )
    },
)


def inline_dbapi() -> Any:
    """The DBAPI to give `create_async_engine(..., module=...)` for a `sqlite+aiosqlite` URL."""
    return AsyncAdapt_aiosqlite_dbapi(_MODULE, sqlite3)  # type: ignore[arg-type]
