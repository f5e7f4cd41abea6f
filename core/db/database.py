"""The storage engine: async reads, and one writer through which every write goes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from core.db.inline_sqlite import InlineConnection, inline_dbapi
from core.db.writer import Job, answer, fail, write_batch

_WRITE = "koom_write"
POSTGRES_WRITERS = 4
"""Batches written at once on PostgreSQL, each on its own connection."""
SQLITE_READERS = 40
"""Read connections kept open on SQLite: as many as reads can be under way at once (updates
handled together and the delivery worker), so that none is opened, configured and closed
again for one read (the pool's default of 5, plus overflow closed on return, reopened
about one connection every second read under load)."""
PING_AFTER_IDLE_S = 1.0
"""A PostgreSQL connection back from the pool after lying idle this long is pinged first
(a dead one is replaced); one used within it is trusted. The pool's own pre-ping pinged at
every checkout, and asyncpg's ping is three round trips (BEGIN, a statement, ROLLBACK): as
many as a whole batch of pledges."""
BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite write waits for another process's lock before it fails."""
P = ParamSpec("P")
T = TypeVar("T")


class Database:
    """The storage engine: `read()` gives a connection in a read transaction; writes are
    units of work passed to `transaction()`, written in batches by the single writer.

    On SQLite the writer is one dedicated thread with its own synchronous connection to the
    same file (WAL, synchronous=FULL): no write waits on the file lock of another in this
    process; reads run in place on the event loop's thread (`inline_sqlite`). On PostgreSQL
    the units run on up to POSTGRES_WRITERS pooled connections through `run_sync`.
    `write()` is an async write transaction kept for migrations; it queues behind the
    writer's batches on SQLite.
    """

    def __init__(self, url: str, *, echo: bool = False, **engine_options: Any) -> None:
        self.url = url
        self.engine_options = engine_options
        self.is_sqlite = url.startswith("sqlite")
        # Every transaction ends in an explicit commit or rollback, so the pool need not
        # roll back again when a connection comes back (one round trip less per use).
        if self.is_sqlite and make_url(url).database in (None, "", ":memory:"):
            raise ValueError("SQLite needs a file: the writer and the readers share it")
        kwargs: dict[str, Any] = {"echo": echo, "pool_reset_on_return": None, **engine_options}
        if not self.is_sqlite:
            kwargs.update(pool_size=10, max_overflow=20)
        else:
            kwargs.setdefault("module", inline_dbapi())  # reads in place: see inline_sqlite
            if "poolclass" not in kwargs:
                kwargs.setdefault("pool_size", SQLITE_READERS)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if not self.is_sqlite:
            _ping_when_idle(self.engine.sync_engine)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._writer_engine: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._pending: list[Job] = []
        self._writers: set[asyncio.Task[None]] = set()
        self._draining = 0  # writers at work, counted as they start and stop (not when reaped)
        self._max_writers = 1 if self.is_sqlite else POSTGRES_WRITERS
        if self.is_sqlite:
            _configure_sqlite(self.engine.sync_engine)
            self._writer_engine = create_engine(
                make_url(url).set(drivername="sqlite+pysqlite"),
                echo=echo,
                poolclass=StaticPool,
                connect_args={"check_same_thread": False},
            )
            _configure_sqlite(self._writer_engine, always_immediate=True)

    @property
    def writer_engine(self) -> Engine:
        """The synchronous engine the writer's transactions run on (for its events)."""
        return self._writer_engine or self.engine.sync_engine

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a read transaction (a consistent snapshot), rolled back at the
        end: a read has nothing to commit, and on PostgreSQL a COMMIT is one more round trip
        and one more commit counted on the writers' engine."""
        async with self.engine.connect() as conn:
            await conn.begin()
            try:
                yield conn
            finally:
                await conn.rollback()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """An async write transaction, committed on success, rolled back on error.

        For schema migrations and code not yet written as units; application writes go
        through `transaction()`.
        """
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.connect() as conn:
            conn = await conn.execution_options(**{_WRITE: True})
            async with conn.begin():
                yield conn

    async def transaction(
        self,
        unit: Callable[Concatenate[SyncConnection, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run `unit(conn, *args, **kwargs)`, a plain function over a synchronous connection,
        in a write transaction; its result is returned once that transaction is committed.

        Units waiting together are written as one batch with one COMMIT; each runs in a
        SAVEPOINT, so one that raises is undone alone and its caller gets the exception.
        A failed COMMIT raises `CommitFailed` to every caller of the batch.
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append(Job(unit, args, kwargs, future))
        if self._draining < self._max_writers:
            self._draining += 1
            task = asyncio.create_task(self._drain())
            self._writers.add(task)
            task.add_done_callback(self._writers.discard)
        return await future

    async def _drain(self) -> None:
        """Write the waiting units, batch after batch, until none is left."""
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    outcomes = await self._write(batch)
                except BaseException as error:
                    fail(batch, error)
                    if not isinstance(error, Exception):
                        raise
                else:
                    answer(batch, outcomes)
        finally:
            # No await between the last look at _pending and this: no unit is left behind.
            self._draining -= 1

    async def _write(self, batch: list[Job]) -> list[Any]:
        if self._write_lock is None:
            async with self.engine.connect() as conn:
                return await conn.run_sync(write_batch, batch)
        async with self._write_lock:
            if self._thread is None:
                self._thread = ThreadPoolExecutor(1, thread_name_prefix="koom-writer")
            return await asyncio.get_running_loop().run_in_executor(
                self._thread, self._write_sqlite, batch
            )

    def _write_sqlite(self, batch: list[Job]) -> list[Any]:
        assert self._writer_engine is not None
        with self._writer_engine.connect() as conn:
            return write_batch(conn, batch)

    async def dispose(self) -> None:
        """Finish the batches under way, then close every connection and the writer."""
        while self._writers:
            await asyncio.gather(*self._writers, return_exceptions=True)
        if self._thread is not None:
            self._thread.shutdown()
            self._thread = None
        if self._writer_engine is not None:
            self._writer_engine.dispose()
        await self.engine.dispose()


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool replaces the connection and checks out another.
            raise DisconnectionError(f"connection lost while idle: {error}") from error


_RETURNED_AT = "koom_returned_at"


def _configure_sqlite(engine: Engine, *, always_immediate: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "foreign_keys=ON",
            # Writers of other processes (koom commands) wait for the lock instead of failing.
            f"busy_timeout={BUSY_TIMEOUT_MS}",
            # Every COMMIT is on disk before a caller is answered: power-loss safe.
            "synchronous=FULL",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: SyncConnection) -> None:
        # A write takes the lock up front: it can never fail when a read turns into a write.
        if always_immediate or conn.get_execution_options().get(_WRITE, False):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        driver = conn.connection.driver_connection
        if isinstance(driver, InlineConnection):  # a read's BEGIN takes no lock: it cannot
            driver.begin()  # fail, and SQLAlchemy's execution cost a tenth of a turn's CPU
        else:
            conn.exec_driver_sql("BEGIN")
