"""The single writer: units in batches with one COMMIT, a failing unit undone alone, a failed
COMMIT refused to every caller, set-based unit kinds."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from core.db import database, writer
from core.db.database import Database
from core.db.tables import members
from core.db.watch import watch_database
from core.db.writer import CommitFailed, SetBased
from core.metrics import DATABASE_ERRORS
from core.services import Services
from tests.factories import member


def add_member(conn: Connection, name: str) -> int:
    row = conn.execute(
        text(
            "INSERT INTO members (display_name, timezone, created_at)"
            " VALUES (:name, 'Europe/Paris', CURRENT_TIMESTAMP) RETURNING id"
        ),
        {"name": name},
    )
    return int(row.scalar_one())


def add_then_fail(conn: Connection, name: str) -> int:
    add_member(conn, name)
    raise ValueError(f"refused {name}")


async def names(db: Database) -> list[str]:
    async with db.read() as conn:
        rows = await conn.execute(select(members.c.display_name).order_by(members.c.id))
        return list(rows.scalars())


def count_commits(db: Database) -> list[int]:
    commits: list[int] = []
    event.listen(db.writer_engine, "commit", lambda _conn: commits.append(1))
    return commits


async def test_units_waiting_together_share_one_commit(db: Database) -> None:
    commits = count_commits(db)
    ids = await asyncio.gather(*(db.transaction(add_member, f"m{i}") for i in range(50)))
    assert len(set(ids)) == 50
    assert len(commits) < 5  # 50 units, a handful of batches at most
    assert sorted(await names(db)) == sorted(f"m{i}" for i in range(50))


async def test_a_unit_alone_is_committed_before_its_caller_hears(db: Database) -> None:
    member_id = await db.transaction(add_member, "alone")
    async with db.read() as conn:  # another connection sees it at once
        found = (await conn.execute(select(members.c.id))).scalars().all()
    assert found == [member_id]


async def test_a_read_ends_with_a_rollback_not_a_commit(db: Database) -> None:
    # On PostgreSQL reads share the writers' engine: a COMMIT would be a round trip for
    # nothing, and counted among the writes.
    ended: list[str] = []
    for name in ("commit", "rollback"):
        event.listen(db.engine.sync_engine, name, lambda _conn, name=name: ended.append(name))
    await db.transaction(add_member, "written")
    ended.clear()
    assert await names(db) == ["written"]
    with pytest.raises(ValueError):
        async with db.read() as conn:
            await conn.execute(select(members.c.id))
            raise ValueError("a read that fails")
    assert ended == ["rollback", "rollback"]


async def test_a_caller_writing_again_as_soon_as_answered_is_written(db: Database) -> None:
    # Answered before its writer has stopped, the caller's next unit must still be picked up.
    for i in range(5):
        await asyncio.wait_for(db.transaction(add_member, f"m{i}"), 10)
    assert await names(db) == [f"m{i}" for i in range(5)]


async def test_a_failing_unit_leaves_the_others_of_its_batch_committed(db: Database) -> None:
    commits = count_commits(db)
    calls = [
        db.transaction(add_then_fail if i % 10 == 3 else add_member, f"m{i}") for i in range(30)
    ]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    failed = [o for o in outcomes if isinstance(o, Exception)]
    assert [str(e) for e in failed] == ["refused m3", "refused m13", "refused m23"]
    assert sorted(await names(db)) == sorted(f"m{i}" for i in range(30) if i % 10 != 3)
    assert len(commits) < 5


async def test_a_failed_commit_answers_every_caller_and_stores_nothing(db: Database) -> None:
    # A deferred foreign key is checked at COMMIT only: the statement passes, the COMMIT fails.
    async with db.write() as conn:
        await conn.execute(
            text(
                "CREATE TABLE probe (id INTEGER PRIMARY KEY, member_id INTEGER"
                " REFERENCES members (id) DEFERRABLE INITIALLY DEFERRED)"
            )
        )

    def dangling(conn: Connection) -> None:
        conn.execute(text("INSERT INTO probe (id, member_id) VALUES (1, 424242)"))

    calls = [db.transaction(add_member, f"m{i}") for i in range(10)]
    calls.insert(5, db.transaction(dangling))
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(o, CommitFailed) for o in outcomes), outcomes
    assert await names(db) == []
    async with db.read() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM probe"))).scalar_one() == 0
    # The writer goes on with the next batch.
    assert await db.transaction(add_member, "after") > 0
    assert await names(db) == ["after"]


def add_many(conn: Connection, batch: Sequence[str]) -> list[int | Exception]:
    """Members in one statement; a name starting with '!' is refused alone."""
    wanted = [n for n in batch if not n.startswith("!")]
    ids: dict[str, int] = {}
    if wanted:
        rows = conn.execute(
            insert(members)
            .values(
                [
                    {"display_name": n, "timezone": "UTC", "created_at": func.current_timestamp()}
                    for n in wanted
                ]
            )
            .returning(members.c.id, members.c.display_name)
        )
        ids = {r.display_name: r.id for r in rows}
    statements.append(len(batch))
    return [ids[n] if n in ids else ValueError(n) for n in batch]


statements: list[int] = []
ADD_MANY: SetBased[str, int] = SetBased(add_many)


async def test_a_set_based_kind_runs_a_batch_at_once(db: Database) -> None:
    statements.clear()
    names_in = [f"m{i}" for i in range(20)] + ["!bad"]
    outcomes = await asyncio.gather(
        *(db.transaction(ADD_MANY, n) for n in names_in), return_exceptions=True
    )
    assert isinstance(outcomes[-1], ValueError)
    assert len(set(outcomes[:-1])) == 20
    assert max(statements) > 1 and sum(statements) == 21  # sets, every call once
    assert sorted(await names(db)) == sorted(names_in[:-1])


async def test_a_large_set_runs_in_pieces_of_at_most_max_set(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "MAX_SET", 7)
    statements.clear()
    ids = await asyncio.gather(*(db.transaction(ADD_MANY, f"m{i}") for i in range(30)))
    assert len(set(ids)) == 30
    assert max(statements) <= 7 and sum(statements) == 30


def add_many_or_fail(conn: Connection, batch: Sequence[str]) -> list[int | Exception]:
    """Members one statement each: a name starting with '!' fails its statement, and with
    it the whole set."""
    return [add_member(conn, n) if not n.startswith("!") else add_then_fail(conn, n) for n in batch]


ADD_MANY_OR_FAIL: SetBased[str, int] = SetBased(add_many_or_fail)


def written_statements(db: Database) -> list[str]:
    seen: list[str] = []
    event.listen(
        db.writer_engine, "before_cursor_execute", lambda *args: seen.append(args[2].split()[0])
    )
    return seen


async def test_a_batch_of_one_set_or_one_unit_takes_no_savepoint(db: Database) -> None:
    seen = written_statements(db)
    await db.transaction(add_member, "alone")
    ids = await asyncio.gather(*(db.transaction(ADD_MANY, f"m{i}") for i in range(20)))
    assert len(set(ids)) == 20
    assert "SAVEPOINT" not in seen and "RELEASE" not in seen
    assert len(await names(db)) == 21


async def test_a_lone_unit_that_fails_is_undone_and_the_next_is_written(db: Database) -> None:
    with pytest.raises(ValueError, match="refused lone"):
        await db.transaction(add_then_fail, "lone")
    assert await db.transaction(add_member, "next") > 0
    assert await names(db) == ["next"]


@pytest.mark.parametrize("with_other_units", [False, True])
async def test_a_set_failing_as_a_whole_is_written_again_one_by_one(
    db: Database, with_other_units: bool
) -> None:
    calls = [db.transaction(ADD_MANY_OR_FAIL, n) for n in ("a", "b", "!c", "d")]
    if with_other_units:
        calls.append(db.transaction(add_member, "e"))
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert [str(o) for o in outcomes if isinstance(o, Exception)] == ["refused !c"]
    expected = ["a", "b", "d"] + (["e"] if with_other_units else [])
    assert sorted(await names(db)) == expected


async def test_a_unit_may_use_what_services_wrote(services: Services) -> None:
    alice = await member(services, "alice")

    def rename(conn: Connection, member_id: int) -> None:
        conn.execute(members.update().where(members.c.id == member_id).values(display_name="A"))

    await services.db.transaction(rename, alice.id)
    assert await names(services.db) == ["A"]


@pytest.mark.parametrize("n", [1, 3])
async def test_the_writer_stops_cleanly(db: Database, n: int) -> None:
    await asyncio.gather(*(db.transaction(add_member, f"m{i}") for i in range(n)))
    await db.dispose()
    assert not db._writers


@pytest.mark.parametrize("url", ["sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:"])
def test_sqlite_in_memory_is_refused(url: str) -> None:
    # The writer's connection and the readers' would each see a database of their own.
    with pytest.raises(ValueError, match="SQLite needs a file"):
        Database(url)


async def test_an_error_in_a_unit_is_counted_for_the_metrics(db: Database) -> None:
    watch_database(db)
    before = DATABASE_ERRORS._value.get()

    def no_name(conn: Connection) -> None:
        conn.execute(insert(members).values(display_name=None, timezone="UTC"))

    with pytest.raises(IntegrityError):
        await db.transaction(no_name)
    assert DATABASE_ERRORS._value.get() == before + 1


async def _lone_connection_killed(db: Database) -> int:
    """The pool left with one connection, whose server process is then ended; its pid."""
    await db.engine.dispose()
    async with db.read() as conn:
        pid = int((await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one())
    other = Database(db.url)
    async with other.read() as conn:
        await conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
    await other.dispose()
    return pid


async def test_a_postgresql_connection_lost_while_idle_is_replaced(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db.is_sqlite:
        pytest.skip("PostgreSQL's connection pool")
    monkeypatch.setattr(database, "PING_AFTER_IDLE_S", 0.0)
    killed = await _lone_connection_killed(db)
    assert await db.transaction(add_member, "after") > 0
    async with db.read() as conn:
        pid = (await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one()
    assert pid != killed and await names(db) == ["after"]


async def test_a_postgresql_connection_used_just_before_is_not_pinged(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The other side of the trade: a connection lost within PING_AFTER_IDLE_S fails the
    # one use that meets it (the pool then replaces it).
    if db.is_sqlite:
        pytest.skip("PostgreSQL's connection pool")
    monkeypatch.setattr(database, "PING_AFTER_IDLE_S", 3600.0)
    await _lone_connection_killed(db)
    with pytest.raises(DBAPIError):
        await db.transaction(add_member, "lost")
    assert await db.transaction(add_member, "after") > 0
    assert await names(db) == ["after"]
