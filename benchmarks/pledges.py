"""Pledge throughput through the services vs raw inserts, a lone pledge's latency, and the
challenge card's.

Run: .venv/bin/python -m benchmarks.pledges [--pledges 5000] [--members 100000]
     [--rounds 5] [--postgres postgresql+asyncpg://user@host/db] [--card-only]
Baselines on the same kind of database, at the same durability (SQLite WAL, synchronous=FULL,
checked on both connections): `raw_batched` is rows inserted by 50 tasks through one
connection, each committing, so one COMMIT takes every row pending by then (batches);
`raw_per_row` is one transaction per row, one after another. The baselines and the pledges
are measured in turn within each round, on fresh databases; each figure is the median of
its rounds, and the ratios are ratios of medians. Targets (2-core machine): ratio = pledges /
raw_batched >= 0.8, pledges >= 3x raw_per_row, a lone pledge no slower than before, card p95
< 50 ms. The card is timed first (the first card of a process reads every area row), then 300
times with nothing changed, then 300 times each after one more pledge elsewhere (its process
reads the rows changed since); `--card-only` measures it alone.
The last lines are `key=value` pairs for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
from sqlalchemy import insert, update
from sqlalchemy.engine import Connection

from core.clock import SystemClock
from core.db.database import Database
from core.db.migrate import upgrade
from core.db.tables import accounts, area_counts, challenges, members, pledges
from core.drafts import ChallengeDraft, TierDraft
from core.models import ChallengeStatus, Member
from core.places import load_places
from core.services import Services
from core.settings import Settings

CONCURRENCY = 50
LONE = 300
"""Pledges timed one at a time, with nothing else running."""
PER_ROW_MAX = 1000
"""Rows of the one-transaction-per-row baseline per round: its rate is per row, and each
row waits for its own fsync."""
RAW_TABLE = (
    "CREATE TABLE raw_pledges (member_id INTEGER, challenge_id INTEGER, created_at TEXT,"
    " PRIMARY KEY (member_id, challenge_id))"
)


class Backend:
    """Where a run writes: a SQLite file per measure, or a PostgreSQL schema per measure."""

    def __init__(self, folder: Path, postgres: str | None) -> None:
        self.folder = folder
        self.postgres = postgres
        self.schemas: list[str] = []

    async def database(self, name: str) -> Database:
        if self.postgres is None:
            return Database(f"sqlite+aiosqlite:///{self.folder / name}_{uuid.uuid4().hex[:8]}.db")
        schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
        self.schemas.append(schema)
        conn = await asyncpg.connect(_dsn(self.postgres))
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.close()
        return Database(self.postgres, connect_args={"server_settings": {"search_path": schema}})

    async def drop(self) -> None:
        if self.postgres and self.schemas:
            conn = await asyncpg.connect(_dsn(self.postgres))
            for schema in self.schemas:
                await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            await conn.close()


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _services(backend: Backend, name: str) -> Services:
    db = await backend.database(name)
    await upgrade(db)
    settings = Settings(_env_file=None, DATABASE_URL=db.url)  # type: ignore[call-arg]
    return Services(db=db, settings=settings, clock=SystemClock())


async def _challenge(services: Services, slug: str, goal: int) -> int:
    draft = ChallengeDraft(
        slug=slug,
        title=f"Benchmark {slug}",
        action="sort my waste",
        goal=goal,
        deadline=datetime.now(UTC) + timedelta(days=30),
        tiers=[TierDraft(threshold=goal // 2, sponsor="Acme", reward="€1,000")],
        status=ChallengeStatus.OPEN,
        area_goal=goal // 100 or None,
    )
    return (await services.challenges.create(draft)).id


async def _bulk_members(services: Services, n: int, areas: int) -> list[int]:
    now = datetime.now(UTC)
    rows = [
        {
            "display_name": f"m{i}",
            "timezone": "Europe/Paris",
            "location_name": f"Commune {i % areas}" if areas else None,
            "area_key": f"commune {i % areas}" if areas else None,
            "created_at": now,
        }
        for i in range(n)
    ]
    async with services.db.write() as conn:
        for start in range(0, n, 5000):
            await conn.execute(insert(members), rows[start : start + 5000])
        ids = [r.id for r in await conn.exec_driver_sql("SELECT id FROM members ORDER BY id")]
        ids = ids[-n:]  # the members just made
        for start in range(0, n, 5000):
            await conn.execute(
                insert(accounts),
                [
                    {
                        "platform": "console",
                        "external_id": f"b{i}",
                        "member_id": i,
                        "created_at": now,
                    }
                    for i in ids[start : start + 5000]
                ],
            )
    return ids


async def _run_concurrently(items: list[int], work: Callable[[int], Awaitable[Any]]) -> float:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def worker() -> None:
        while not queue.empty():
            await work(queue.get_nowait())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


async def bench_services(backend: Backend, n: int, *, places: bool) -> float:
    """Pledges per second, 50 members at a time, with or without a place each."""
    name = "placed" if places else "services"
    services = await _services(backend, name)
    challenge_id = await _challenge(services, name, goal=n)
    member_ids = await _bulk_members(services, n, areas=500 if places else 0)
    if backend.postgres is None:
        assert await services.db.transaction(_writer_durability) == SQLITE_DURABILITY

    async def pledge(member_id: int) -> None:
        await services.pledges.pledge(member_id, challenge_id)

    elapsed = await _run_concurrently(member_ids, pledge)
    assert (await services.challenges.get(challenge_id)).pledge_count == n
    await services.db.dispose()
    return n / elapsed


async def bench_lone(backend: Backend) -> list[float]:
    """Milliseconds of each pledge made alone."""
    services = await _services(backend, "lone")
    challenge_id = await _challenge(services, "lone", goal=LONE * 2)
    member_ids = await _bulk_members(services, LONE, areas=50)
    timings = []
    for member_id in member_ids:
        started = time.perf_counter()
        await services.pledges.pledge(member_id, challenge_id)
        timings.append((time.perf_counter() - started) * 1000)
    await services.db.dispose()
    return timings


async def raw_sqlite(folder: Path, n: int, *, batched: bool) -> float:
    """Rows/s through one aiosqlite connection at the services' durability: by 50 tasks
    each committing (one COMMIT takes every row pending by then), or one transaction per
    row, one after another."""
    now = datetime.now(UTC).isoformat()
    path = folder / f"raw_{uuid.uuid4().hex[:8]}.db"
    async with aiosqlite.connect(path) as conn:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=FULL")
        await conn.execute(RAW_TABLE)
        await conn.commit()
        assert await _durability(conn) == SQLITE_DURABILITY

        async def insert_one(member_id: int) -> None:
            await conn.execute("INSERT INTO raw_pledges VALUES (?, ?, ?)", (member_id, 1, now))
            await conn.commit()

        ids = list(range(1, n + 1))
        if batched:
            elapsed = await _run_concurrently(ids, insert_one)
        else:
            started = time.perf_counter()
            for member_id in ids:
                await insert_one(member_id)
            elapsed = time.perf_counter() - started
    return n / elapsed


async def raw_postgres(url: str, n: int, *, batched: bool) -> float:
    """Rows/s through one asyncpg connection: in transactions of 50 rows, or one per row."""
    conn = await asyncpg.connect(_dsn(url))
    schema = f"bench_raw_{uuid.uuid4().hex[:8]}"
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.execute(f'SET search_path TO "{schema}"')
    await conn.execute(RAW_TABLE)
    now = datetime.now(UTC).isoformat()
    sql = "INSERT INTO raw_pledges VALUES ($1, $2, $3)"
    try:
        started = time.perf_counter()
        if batched:
            for start in range(1, n + 1, CONCURRENCY):
                async with conn.transaction():
                    await conn.executemany(
                        sql, [(i, 1, now) for i in range(start, min(start + CONCURRENCY, n + 1))]
                    )
        else:
            for i in range(1, n + 1):
                await conn.execute(sql, i, 1, now)
        return n / (time.perf_counter() - started)
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


async def _durability(conn: aiosqlite.Connection) -> tuple[str, int]:
    async with (
        conn.execute("PRAGMA journal_mode") as mode,
        conn.execute("PRAGMA synchronous") as sync,
    ):
        return (await mode.fetchone())[0], (await sync.fetchone())[0]  # type: ignore[index]


SQLITE_DURABILITY = ("wal", 2)
"""journal_mode=WAL, synchronous=FULL: what the services' writer and the raw baselines use."""


def _writer_durability(conn: Connection) -> tuple[str, int]:
    """Unit: the journal mode and synchronous level the single writer commits with."""
    mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()
    return mode, conn.exec_driver_sql("PRAGMA synchronous").scalar_one()


@dataclass
class CardTimings:
    """Milliseconds of the challenge card: the first one a process reads (every area row),
    then with nothing changed since, then each after one more pledge elsewhere."""

    first: float
    still: list[float]
    after_pledge: list[float]


async def bench_card(backend: Backend, n: int, areas: int, samples: int) -> CardTimings:
    services = await _services(backend, "card")
    challenge_id = await _challenge(services, "card", goal=n * 2)
    member_ids = await _bulk_members(services, n, areas=areas)
    newcomers = await _bulk_members(services, samples, areas=areas)
    now = datetime.now(UTC)
    rows = [
        {
            "member_id": m,
            "challenge_id": challenge_id,
            "created_at": now,
            "area_key": f"commune {i % areas}",
        }
        for i, m in enumerate(member_ids)
    ]
    async with services.db.write() as conn:
        for start in range(0, n, 5000):
            await conn.execute(insert(pledges), rows[start : start + 5000])
        await conn.execute(
            insert(area_counts),
            [
                {
                    "challenge_id": challenge_id,
                    "area_key": f"commune {a}",
                    "label": f"Commune {a}",
                    "pledgers": n // areas,
                }
                for a in range(areas)
            ],
        )
        await conn.execute(
            update(challenges).where(challenges.c.id == challenge_id).values(pledge_count=n)
        )
    viewers = [await services.members.get(member_ids[i * 97 % n]) for i in range(samples)]
    await load_places()  # once per process, before any card: not a card's time
    counts = {f"commune {a}": n // areas for a in range(areas)}

    async def card(viewer: Member, pledged: int) -> float:
        started = time.perf_counter()
        progress = await services.progress.of(challenge_id, viewer)
        elapsed = (time.perf_counter() - started) * 1000
        assert viewer.location is not None
        here = counts[viewer.location.area_key]
        assert progress.count == n + pledged and progress.near[0].count == here
        return elapsed

    first = await card(viewers[-1], 0)
    still = [await card(viewer, 0) for viewer in viewers]
    after_pledge = []
    for index, (viewer, newcomer) in enumerate(zip(viewers, newcomers, strict=True)):
        await services.pledges.pledge(newcomer, challenge_id)
        counts[f"commune {index % areas}"] += 1
        after_pledge.append(await card(viewer, index + 1))
    await services.db.dispose()
    return CardTimings(first, still, after_pledge)


def _p(values: list[float], percent: int) -> float:
    return statistics.quantiles(values, n=100)[percent - 1]


@dataclass
class Rounds:
    """Each measure's rate, one per round."""

    pledges: list[float] = field(default_factory=list)
    placed: list[float] = field(default_factory=list)
    raw_batched: list[float] = field(default_factory=list)
    raw_per_row: list[float] = field(default_factory=list)


async def measure_rounds(
    backend: Backend, folder: Path, n: int, rounds: int, postgres: str | None
) -> Rounds:
    """The four rates, measured in turn within each round, so a machine whose load changes
    moves the baselines and the pledges alike; each round on fresh databases."""
    measured = Rounds()
    per_row = min(n, PER_ROW_MAX)

    async def raw(count: int, *, batched: bool) -> float:
        if postgres is None:
            return await raw_sqlite(folder, count, batched=batched)
        return await raw_postgres(postgres, count, batched=batched)

    for _ in range(rounds):
        measured.raw_batched.append(await raw(n, batched=True))
        measured.pledges.append(await bench_services(backend, n, places=False))
        measured.placed.append(await bench_services(backend, n, places=True))
        measured.raw_per_row.append(await raw(per_row, batched=False))
    return measured


async def main(
    pledge_count: int,
    member_count: int,
    areas: int,
    rounds: int,
    postgres: str | None,
    card_only: bool,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        backend = Backend(Path(tmp), postgres)
        try:
            card = await bench_card(backend, member_count, areas, samples=300)
            if card_only:
                _print_card(card, member_count, postgres)
                return
            measured = await measure_rounds(backend, Path(tmp), pledge_count, rounds, postgres)
            lone = await bench_lone(backend)
        finally:
            await backend.drop()
    where = "PostgreSQL" if postgres else "SQLite"
    raw = "asyncpg" if postgres else "aiosqlite"
    rate, placed = statistics.median(measured.pledges), statistics.median(measured.placed)
    batched = statistics.median(measured.raw_batched)
    per_row = statistics.median(measured.raw_per_row)
    ratio = rate / batched
    print(f"{where}, {CONCURRENCY} members pledging at once; medians of {rounds} rounds")
    for name, values in vars(measured).items():
        print(f"  {name} per round: " + ", ".join(f"{v:,.0f}" for v in values) + " /s")
    print(f"services: {rate:,.0f} pledges/s; members with a place: {placed:,.0f} pledges/s")
    print(
        f"raw {raw}, batched commits: {batched:,.0f} rows/s; a transaction per row: {per_row:,.0f}"
    )
    print(
        f"ratio to batched: {ratio:.2f} (placed {placed / batched:.2f}); "
        f"to per row: {rate / per_row:.1f}x"
    )
    print(f"a lone pledge: p50 {statistics.median(lone):.2f} ms, p99 {_p(lone, 99):.2f} ms")
    print(
        f"rounds={rounds} pledges_per_s={rate:.0f} placed_pledges_per_s={placed:.0f} "
        f"raw_batched_per_s={batched:.0f} raw_per_row_per_s={per_row:.0f} ratio={ratio:.2f} "
        f"placed_ratio={placed / batched:.2f} per_row_ratio={rate / per_row:.1f} "
        f"lone_p50_ms={statistics.median(lone):.2f} lone_p99_ms={_p(lone, 99):.2f}"
    )
    _print_card(card, member_count, postgres)


def _print_card(card: CardTimings, member_count: int, postgres: str | None) -> None:
    """The card's figures, then as `key=value` pairs."""
    where = "PostgreSQL" if postgres else "SQLite"
    still, after = card.still, card.after_pledge
    print(
        f"{where}, challenge card with {member_count:,} pledgers: first {card.first:.2f} ms; "
        f"then p50 {statistics.median(still):.2f} ms, p95 {_p(still, 95):.2f} ms; "
        f"each after a pledge p50 {statistics.median(after):.2f} ms, p95 {_p(after, 95):.2f} ms"
    )
    print(
        f"card_first_ms={card.first:.2f} card_p50_ms={statistics.median(still):.2f} "
        f"card_p95_ms={_p(still, 95):.2f} card_after_pledge_p50_ms={statistics.median(after):.2f} "
        f"card_after_pledge_p95_ms={_p(after, 95):.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pledges", type=int, default=5000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--areas", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", metavar="URL", help="measure on PostgreSQL instead")
    parser.add_argument("--card-only", action="store_true", help="measure the card alone")
    args = parser.parse_args()
    asyncio.run(
        main(args.pledges, args.members, args.areas, args.rounds, args.postgres, args.card_only)
    )
