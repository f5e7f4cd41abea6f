"""Web pages under load: the open-data GeoJSON and the challenge page, with 100,000 pledgers
in 5,000 areas, under 50 concurrent clients on loopback.

Run: .venv/bin/python -m benchmarks.web [--pledgers 100000] [--areas 5000] [--clients 50]
     [--seconds 10] [--inflate] [--pledges-per-second 0]
Target (2-core machine): p95 < 100 ms for both. The server runs in a process of its own (one
core), the load generator in this one; every client keeps its connection open and sends its
next request as soon as the previous answer is read. Answers come gzipped, as browsers ask;
the generator does not inflate them unless `--inflate` (on a 2-core machine inflating 50
copies of the GeoJSON at once takes the core the server needs). `--pledges-per-second`
keeps pledges coming during the run (written straight to the counters), so the counts by
area are computed again while clients read. The last line is `key=value` pairs for scripts.

The areas are the most populous places of the shipped gazetteer, with counts falling off with
rank (Zipf-like) so that the small ones merge into larger areas as on a real map.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import insert, select, update

from core.clock import SystemClock
from core.db.database import Database
from core.db.migrate import upgrade
from core.db.tables import area_counts, challenges
from core.drafts import ChallengeDraft, TierDraft
from core.geo import Gazetteer
from core.models import ChallengeStatus
from core.services import Services
from core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SLUG = "bench-web"
TARGETS = {"geojson": f"/c/{SLUG}/areas.geojson", "page": f"/c/{SLUG}"}


def _settings(path: Path) -> Settings:
    return Settings(_env_file=None, DATABASE_URL=f"sqlite+aiosqlite:///{path}", KOOM_LOAD_DEMO="0")


def spread(pledgers: int, areas: int) -> list[int]:
    """`pledgers` shared among `areas`, falling off with rank, at least one each."""
    weights = [1 / (rank + 1) for rank in range(areas)]
    total = sum(weights)
    counts = [max(1, int(pledgers * w / total)) for w in weights]
    counts[0] += pledgers - sum(counts)
    return counts


async def seed(path: Path, pledgers: int, areas: int) -> None:
    """A challenge whose counts by area are `pledgers` in the `areas` largest places."""
    db = Database(f"sqlite+aiosqlite:///{path}")
    await upgrade(db)
    services = Services(db=db, settings=_settings(path), clock=SystemClock())
    draft = ChallengeDraft(
        slug=SLUG,
        title="Trier mes déchets, partout",
        description="Benchmark: 100,000 pledgers in 5,000 areas.",
        action="trier mes déchets",
        goal=pledgers * 2,
        deadline=datetime.now(UTC) + timedelta(days=30),
        tiers=[
            TierDraft(threshold=pledgers // 2, sponsor="Acme", reward="plants 1,000 trees"),
            TierDraft(threshold=pledgers * 2, sponsor="Acme", reward="plants 5,000 trees"),
        ],
        status=ChallengeStatus.OPEN,
    )
    challenge = await services.challenges.create(draft)
    places = sorted(Gazetteer.default(), key=lambda p: -p.population)[:areas]
    rows = [
        {"challenge_id": challenge.id, "area_key": p.key, "label": p.name, "pledgers": n}
        for p, n in zip(places, spread(pledgers, len(places)), strict=True)
    ]
    async with db.write() as conn:
        await conn.execute(insert(area_counts), rows)
        await conn.execute(
            update(challenges).where(challenges.c.id == challenge.id).values(pledge_count=pledgers)
        )
    started = time.perf_counter()
    shown = await services.progress.areas(challenge.id)
    took = (time.perf_counter() - started) * 1000
    print(f"seeded {pledgers:,} pledgers in {len(rows):,} areas: {len(shown):,} shown, ", end="")
    print(f"counts by area computed in {took:.0f} ms (once per change, then cached)")
    await db.dispose()


async def serve(path: Path, port: int) -> None:
    """The server side: the web app on 127.0.0.1:`port` until stdin closes."""
    from bots.web import WebServer

    settings = _settings(path)
    db = Database(settings.database_url)
    services = Services(db=db, settings=settings, clock=SystemClock())
    server = WebServer(services, "127.0.0.1", port)
    await server.start()
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.read)
    await server.stop()
    await db.dispose()


async def load(
    url: str, clients: int, seconds: float, inflate: bool
) -> tuple[list[float], int, float]:
    """`clients` connections asking `url` in turn for `seconds`: latencies (ms), errors, and
    the time taken."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal errors
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector, auto_decompress=inflate) as http:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    async with http.get(url) as response:
                        await response.read()
                        ok = response.status == 200
                except aiohttp.ClientError:
                    ok = False
                if ok:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - started


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100)[p - 1] if len(values) > 1 else values[0]


async def pledge_steadily(path: Path, per_second: float, stop: asyncio.Event) -> int:
    """One more pledger in a random area `per_second` times a second until `stop`."""
    import random

    db = Database(f"sqlite+aiosqlite:///{path}")
    async with db.read() as conn:
        keys = [r.area_key for r in await conn.execute(select_keys())]
    done = 0
    while not stop.is_set():
        async with db.write() as conn:  # as a pledge counts: the challenge, then its area
            version = (
                await conn.execute(
                    update(challenges)
                    .where(challenges.c.slug == SLUG)
                    .values(
                        pledge_count=challenges.c.pledge_count + 1,
                        area_version=challenges.c.area_version + 1,
                    )
                    .returning(challenges.c.area_version)
                )
            ).scalar_one()
            await conn.execute(
                update(area_counts)
                .where(area_counts.c.area_key == random.choice(keys))
                .values(pledgers=area_counts.c.pledgers + 1, version=version)
            )
        done += 1
        await asyncio.sleep(1 / per_second)
    await db.dispose()
    return done


def select_keys() -> Any:
    return select(area_counts.c.area_key)


async def main(
    pledgers: int, areas: int, clients: int, seconds: float, inflate: bool, pledging: float
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "web.db"
        await seed(path, pledgers, areas)
        port = free_port()
        server = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "benchmarks.web", "--serve", str(path), "--port", str(port)),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert server.stdin is not None and server.stdout is not None
        try:
            assert (await server.stdout.readline()).strip() == b"ready"
            results = await measure(
                f"http://127.0.0.1:{port}", clients, seconds, inflate, path, pledging
            )
        finally:
            server.stdin.close()
            await asyncio.wait_for(server.wait(), 10)
    print(
        " ".join(
            f"{name}_p50_ms={r[0]:.1f} {name}_p95_ms={r[1]:.1f} {name}_p99_ms={r[2]:.1f} "
            f"{name}_rps={r[3]:.0f} {name}_errors={r[4]}"
            for name, r in results.items()
        )
    )


async def measure(
    base: str, clients: int, seconds: float, inflate: bool, path: Path, pledging: float
) -> dict[str, tuple[float, float, float, float, int]]:
    """Load each target in turn; (p50, p95, p99, requests/s, errors) per target."""
    sizes: dict[str, tuple[int, str]] = {}
    async with aiohttp.ClientSession() as http:
        for target in TARGETS.values():  # warm the caches
            async with http.get(base + target) as response:
                assert response.status == 200, target
                wire = response.headers.get("Content-Length", "?")
                sizes[target] = (len(await response.read()), wire)
    results: dict[str, tuple[float, float, float, float, int]] = {}
    stop = asyncio.Event()
    writer = asyncio.create_task(pledge_steadily(path, pledging, stop)) if pledging else None
    for name, target in TARGETS.items():
        latencies, errors, took = await load(base + target, clients, seconds, inflate)
        rate = len(latencies) / took
        p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
        results[name] = (p50, p95, p99, rate, errors)
        size, wire = sizes[target]
        print(
            f"{name} ({size / 1000:,.0f} kB, {wire} bytes on the wire), {clients} clients: "
            f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, {rate:,.0f} requests/s, "
            f"{errors} errors"
        )
    if writer is not None:
        stop.set()
        print(f"pledges during the run: {await writer:,}")
    return results


def free_port() -> int:
    """A free port on 127.0.0.1 (closed again at once, for the server to take)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pledgers", type=int, default=100_000)
    parser.add_argument("--areas", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--inflate", action="store_true", help="un-gzip every answer")
    parser.add_argument("--pledges-per-second", type=float, default=0.0)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, args.port))
    else:
        asyncio.run(
            main(
                args.pledgers,
                args.areas,
                args.clients,
                args.seconds,
                args.inflate,
                args.pledges_per_second,
            )
        )
