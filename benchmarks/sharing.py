"""Sharing at scale: the share picture and the link preview (og.png) with 100,000 pledgers in
5,000 areas, and the map's outline endpoint under distinct boxes.

Run: .venv/bin/python -m benchmarks.sharing [--pledgers 100000] [--areas 5000] [--rounds 20]
Targets (2-core machine): share picture and OG image < 200 ms each.

- share picture: a member who gave her place presses the button through the real engine
  (console platform); timed from the press to the picture's reply (count read, card built, PNG
  drawn), after each round adds a pledger, so the picture is new each time.
- OG image: the web server in a process of its own; each round adds a pledger, waits for the
  page's snapshot to be older than its refresh period (1 s), then times GET /c/SLUG/og.png
  the way a link preview's crawler asks it, after the page (the picture drawn for the new
  count), then alone (the page's snapshot read again first, counts by area included when due).
- outlines: 60 distinct `?bbox=` views (none cached) asked one after another while another
  client keeps asking a cached one (the world); the time of each new box, and the worst wait
  of the cached requests meanwhile (issue 14: 250 ms a box, cached ones delayed 1.2 s).
The last line is `key=value` pairs for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from sqlalchemy import update
from sqlalchemy.engine import Connection

from benchmarks.web import ROOT, SLUG, _settings, free_port, percentile, seed
from conversations.testing import ChatHarness
from core.clock import SystemClock
from core.db.database import Database
from core.db.tables import challenges
from core.identity import AccountRef
from core.models import Location
from core.services import Services

LYON = Location("Lyon", 45.76, 4.83, "fr:69123")


def _count_one_more(conn: Connection) -> None:
    conn.execute(
        update(challenges)
        .where(challenges.c.slug == SLUG)
        .values(pledge_count=challenges.c.pledge_count + 1)
    )


async def add_pledger(db: Database) -> None:
    """One more pledger on the challenge's counter (as a pledge leaves it)."""
    await db.transaction(_count_one_more)


async def share_pictures(path: Path, rounds: int) -> list[float]:
    """Milliseconds from the button's press to the picture, `rounds` times."""
    db = Database(f"sqlite+aiosqlite:///{path}")
    services = Services(db=db, settings=_settings(path), clock=SystemClock())
    chat = ChatHarness(services)
    await chat.alice.command("/start")
    await chat.alice.press("Français")
    alice = await services.members.find(AccountRef.parse(chat.alice.account))
    assert alice is not None
    await services.members.set_location(alice.id, LYON)  # as most pledgers: her card counts near
    took: list[float] = []
    for _ in range(rounds + 1):
        await add_pledger(db)
        await chat.alice.command(f"/challenge {SLUG}")
        await chat.alice.press("Partager")
        started = time.perf_counter()
        replies = await chat.alice.press("🖼 Image à partager")
        took.append((time.perf_counter() - started) * 1000)
        assert any(type(r).__name__ == "Image" for r in replies)
    await db.dispose()
    return took[1:]  # the first loads the fonts


async def og_images(base: str, db: Database, rounds: int, page_first: bool) -> list[float]:
    """Milliseconds of GET og.png after each change of the count: as a link preview's crawler
    asks it, after the page (`page_first`), or alone (the snapshot then read again first)."""
    took: list[float] = []
    async with aiohttp.ClientSession() as http:
        for _ in range(rounds + 1):
            await add_pledger(db)
            await asyncio.sleep(1.1)
            if page_first:
                async with http.get(f"{base}/c/{SLUG}") as response:
                    assert response.status == 200 and b"og:image" in await response.read()
            started = time.perf_counter()
            async with http.get(f"{base}/c/{SLUG}/og.png") as response:
                body = await response.read()
                assert response.status == 200 and body[:4] == b"\x89PNG"
            took.append((time.perf_counter() - started) * 1000)
    return took[1:]


async def outlines(base: str, boxes: int) -> tuple[list[float], float]:
    """Milliseconds of each new box, and the worst cached request meanwhile."""
    rng = random.Random(14)
    worst = 0.0
    done = asyncio.Event()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/outlines.geojson") as response:
            await response.read()
        await asyncio.sleep(3)  # the levels' warm-up at start

        async def cached() -> None:
            nonlocal worst
            while not done.is_set():
                started = time.perf_counter()
                async with http.get(f"{base}/outlines.geojson") as answer:
                    await answer.read()
                worst = max(worst, (time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.01)

        reader = asyncio.create_task(cached())
        took: list[float] = []
        for _ in range(boxes):
            west, south = rng.uniform(-170, 150), rng.uniform(-60, 60)
            size = rng.choice((1.0, 3.0, 4.5, 8.0, 15.0))
            box = f"{west:.3f},{south:.3f},{west + size:.3f},{south + size:.3f}"
            started = time.perf_counter()
            async with http.get(f"{base}/outlines.geojson?bbox={box}") as answer:
                assert answer.status == 200
                await answer.read()
            took.append((time.perf_counter() - started) * 1000)
        done.set()
        await reader
    return took, worst


def line(name: str, values: list[float]) -> str:
    p50, p95 = percentile(values, 50), percentile(values, 95)
    return f"{name}: p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(values):.0f} ms"


async def main(pledgers: int, areas: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sharing.db"
        await seed(path, pledgers, areas)
        share = await share_pictures(path, rounds)
        print(line("share picture (press to picture)", share))
        port = free_port()
        server = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "benchmarks.web", "--serve", str(path), "--port", str(port)),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert server.stdin is not None and server.stdout is not None
        db = Database(f"sqlite+aiosqlite:///{path}")
        try:
            assert (await server.stdout.readline()).strip() == b"ready"
            base = f"http://127.0.0.1:{port}"
            og = await og_images(base, db, rounds, page_first=True)
            print(line("OG image after a count change, the page read first", og))
            alone = await og_images(base, db, rounds, page_first=False)
            print(line("OG image after a count change, alone", alone))
            boxes, worst = await outlines(base, 60)
            print(line("outlines, 60 distinct boxes", boxes))
            print(f"cached outline requests meanwhile: worst {worst:.0f} ms")
        finally:
            server.stdin.close()
            await asyncio.wait_for(server.wait(), 10)
            await db.dispose()
    print(
        f"share_p50_ms={statistics.median(share):.0f} share_max_ms={max(share):.0f} "
        f"og_p50_ms={statistics.median(og):.0f} og_max_ms={max(og):.0f} "
        f"og_alone_p50_ms={statistics.median(alone):.0f} og_alone_max_ms={max(alone):.0f} "
        f"box_p50_ms={statistics.median(boxes):.0f} box_max_ms={max(boxes):.0f} "
        f"cached_worst_ms={worst:.0f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pledgers", type=int, default=100_000)
    parser.add_argument("--areas", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.pledgers, args.areas, args.rounds))
