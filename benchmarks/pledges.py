"""Pledge throughput through the services vs raw aiosqlite, and challenge-card latency.

Run: .venv/bin/python -m benchmarks.pledges [--pledges 5000] [--members 100000]
Targets (2-core machine): >= 1,000 pledges/s, ratio >= 0.2, card p95 < 50 ms.
The last line is `key=value` pairs for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite
from sqlalchemy import insert, update

from core.clock import SystemClock
from core.db.database import Database
from core.db.migrate import upgrade
from core.db.tables import accounts, area_counts, challenges, members, pledges
from core.drafts import ChallengeDraft, TierDraft
from core.models import ChallengeStatus
from core.services import Services
from core.settings import Settings

CONCURRENCY = 50


async def _services(path: Path) -> Services:
    db = Database(f"sqlite+aiosqlite:///{path}")
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
    )
    return (await services.challenges.create(draft)).id


async def _bulk_members(services: Services, n: int, areas: int) -> list[int]:
    now = datetime.now(UTC)
    rows = [
        {
            "display_name": f"m{i}",
            "timezone": "Europe/Paris",
            "location_name": f"Commune {i % areas}" if areas else None,
            "created_at": now,
        }
        for i in range(n)
    ]
    async with services.db.write() as conn:
        await conn.execute(insert(members), rows)
        ids = [r.id for r in await conn.exec_driver_sql("SELECT id FROM members ORDER BY id")]
        await conn.execute(
            insert(accounts),
            [
                {"platform": "console", "external_id": f"b{i}", "member_id": i, "created_at": now}
                for i in ids
            ],
        )
    return ids[-n:]


async def _run_concurrently(items: list[int], work: object) -> float:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def worker() -> None:
        while not queue.empty():
            await work(queue.get_nowait())  # type: ignore[operator]

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


async def bench_services(folder: Path, n: int) -> float:
    services = await _services(folder / "services.db")
    challenge_id = await _challenge(services, "bench", goal=n)
    member_ids = await _bulk_members(services, n, areas=0)

    async def pledge(member_id: int) -> None:
        await services.pledges.pledge(member_id, challenge_id)

    elapsed = await _run_concurrently(member_ids, pledge)
    assert (await services.challenges.get(challenge_id)).pledge_count == n
    await services.db.dispose()
    return n / elapsed


async def bench_raw(folder: Path, n: int) -> float:
    async with aiosqlite.connect(folder / "raw.db") as conn:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute(
            "CREATE TABLE pledges (member_id INTEGER, challenge_id INTEGER, created_at TEXT,"
            " PRIMARY KEY (member_id, challenge_id))"
        )
        await conn.commit()
        now = datetime.now(UTC).isoformat()

        async def insert_one(member_id: int) -> None:
            await conn.execute("INSERT INTO pledges VALUES (?, ?, ?)", (member_id, 1, now))
            await conn.commit()

        elapsed = await _run_concurrently(list(range(1, n + 1)), insert_one)
    return n / elapsed


async def bench_card(folder: Path, n: int, areas: int, samples: int) -> list[float]:
    services = await _services(folder / "card.db")
    challenge_id = await _challenge(services, "card", goal=n * 2)
    member_ids = await _bulk_members(services, n, areas=areas)
    now = datetime.now(UTC)
    async with services.db.write() as conn:
        await conn.execute(
            insert(pledges),
            [
                {
                    "member_id": m,
                    "challenge_id": challenge_id,
                    "created_at": now,
                    "area_key": f"commune {i % areas}",
                }
                for i, m in enumerate(member_ids)
            ],
        )
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
    timings = []
    for viewer in viewers:
        started = time.perf_counter()
        progress = await services.progress.of(challenge_id, viewer)
        timings.append((time.perf_counter() - started) * 1000)
        assert progress.count == n and progress.near[0].count == n // areas
    await services.db.dispose()
    return timings


async def main(pledge_count: int, member_count: int, areas: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        service_rate = await bench_services(folder, pledge_count)
        raw_rate = await bench_raw(folder, pledge_count)
        card = await bench_card(folder, member_count, areas, samples=300)
    ratio = service_rate / raw_rate
    p50 = statistics.median(card)
    p95 = statistics.quantiles(card, n=100)[94]
    print(f"services: {service_rate:,.0f} pledges/s ({CONCURRENCY} concurrent members)")
    print(f"raw aiosqlite insert+commit: {raw_rate:,.0f} rows/s")
    print(f"ratio: {ratio:.2f}")
    print(f"challenge card with {member_count:,} pledgers: p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    print(
        f"pledges_per_s={service_rate:.0f} raw_inserts_per_s={raw_rate:.0f} ratio={ratio:.2f} "
        f"card_p50_ms={p50:.2f} card_p95_ms={p95:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pledges", type=int, default=5000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--areas", type=int, default=5000)
    args = parser.parse_args()
    asyncio.run(main(args.pledges, args.members, args.areas))
