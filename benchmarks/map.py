"""The /map picture with 100,000 pledgers in 5,000 real places: areas under the minimum merged
(`progress.areas`), then the PNG drawn (`render_map`), end to end; and the card's "people near
you" over the same rows.

Run: .venv/bin/python -m benchmarks.map [--pledgers 100000] [--areas 5000] [--runs 10]
Target (2-core machine): a map, areas and picture together, in < 1.5 s.
The last line is `key=value` pairs for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, update

from conversations.model import Image
from conversations.testing import ChatHarness
from core.clock import SystemClock
from core.db.database import Database
from core.db.migrate import upgrade
from core.db.tables import area_counts, challenges
from core.drafts import ChallengeDraft
from core.geo import Gazetteer, Place
from core.identity import AccountRef
from core.mapping import MapPoint, render_map
from core.models import ChallengeStatus
from core.places import place_location
from core.services import Services
from core.settings import Settings

SLUG = "carte"
WORLD_SHARE = 0.05  # of the areas: cities abroad; the rest are French communes


def _places(gazetteer: Gazetteer, count: int, rng: random.Random) -> list[Place]:
    """`count` real places: mostly French communes of every size, some cities abroad."""
    french = [p for p in gazetteer if p.key.startswith("fr:")]
    abroad = [p for p in gazetteer if not p.key.startswith("fr:")]
    world = round(count * WORLD_SHARE)
    return rng.sample(french, count - world) + rng.sample(abroad, world)


def _counts(places: list[Place], pledgers: int) -> list[int]:
    """One pledger per place, the rest shared by population^0.7: big towns get many, most
    small ones stay under the minimum and merge."""
    weights = [max(p.population, 1) ** 0.7 for p in places]
    total = sum(weights)
    spare = pledgers - len(places)
    counts = [1 + int(spare * w / total) for w in weights]
    for i in range(pledgers - sum(counts)):  # the rounding remainder, to the largest
        counts[i % len(counts)] += 1
    return counts


async def _setup(
    folder: Path, gazetteer: Gazetteer, pledgers: int, area_total: int
) -> tuple[Services, int, Place]:
    db = Database(f"sqlite+aiosqlite:///{folder / 'map.db'}")
    await upgrade(db)
    settings = Settings(_env_file=None, DATABASE_URL=db.url)  # type: ignore[call-arg]
    services = Services(db=db, settings=settings, clock=SystemClock())
    draft = ChallengeDraft(
        slug=SLUG,
        title="Trier mes déchets, partout en France",
        action="trier mes déchets",
        goal=pledgers * 2,
        deadline=datetime.now(UTC) + timedelta(days=30),
        status=ChallengeStatus.OPEN,
    )
    challenge_id = (await services.challenges.create(draft)).id
    rng = random.Random(20261126)
    places = _places(gazetteer, area_total, rng)
    counts = _counts(places, pledgers)
    async with db.write() as conn:
        await conn.execute(
            insert(area_counts),
            [
                {"challenge_id": challenge_id, "area_key": p.key, "label": p.name, "pledgers": n}
                for p, n in zip(places, counts, strict=True)
            ],
        )
        await conn.execute(
            update(challenges).where(challenges.c.id == challenge_id).values(pledge_count=pledgers)
        )
    return services, challenge_id, places[counts.index(max(counts))]


async def main(pledgers: int, area_total: int, runs: int) -> None:
    started = time.perf_counter()
    gazetteer = await asyncio.to_thread(Gazetteer.default)
    load_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        services, challenge_id, biggest = await _setup(Path(tmp), gazetteer, pledgers, area_total)
        challenge = await services.challenges.get(challenge_id)
        areas_ms, render_ms, total_ms = [], [], []
        png = b""
        shown = 0
        for _ in range(runs):
            t0 = time.perf_counter()
            areas = await services.progress.areas(challenge_id)
            t1 = time.perf_counter()
            points = [MapPoint(a.latitude, a.longitude, a.count, a.label) for a in areas]
            png = await asyncio.to_thread(
                render_map, points, title=challenge.title, caption=f"{pledgers} personnes"
            )
            t2 = time.perf_counter()
            areas_ms.append((t1 - t0) * 1000)
            render_ms.append((t2 - t1) * 1000)
            total_ms.append((t2 - t0) * 1000)
            shown = len(areas)
            assert all(a.count >= services.settings.map_min_count for a in areas)
            assert sum(a.count for a in areas) <= pledgers
        # the same through the engine: /map as a member would send it
        chat = ChatHarness(services)
        await chat.command("/start")  # the member exists before the timing
        turns_ms = []
        for _ in range(runs):
            t0 = time.perf_counter()
            replies = await chat.command(f"/map {SLUG}")
            turns_ms.append((time.perf_counter() - t0) * 1000)
            assert any(isinstance(r, Image) for r in replies)
        # the card's "people near you" over the same 5,000 rows, for a member in the largest
        alice = await services.members.find(AccountRef.parse(chat.alice.account))
        assert alice is not None
        alice = await services.members.set_location(alice.id, place_location(biggest))
        card_ms = []
        for _ in range(runs * 10):
            t0 = time.perf_counter()
            progress = await services.progress.of(challenge_id, alice)
            card_ms.append((time.perf_counter() - t0) * 1000)
        assert progress.near and progress.near[0].own
        await services.db.dispose()
    p50 = statistics.median(total_ms)
    print(f"gazetteer load (once per process, in a worker thread): {load_s:.2f} s")
    print(f"{pledgers:,} pledgers in {area_total:,} places -> {shown:,} areas on the map")
    print(f"progress.areas: p50 {statistics.median(areas_ms):.0f} ms, max {max(areas_ms):.0f} ms")
    print(f"render_map: p50 {statistics.median(render_ms):.0f} ms, max {max(render_ms):.0f} ms")
    print(f"areas + render: p50 {p50:.0f} ms, max {max(total_ms):.0f} ms (target < 1500 ms)")
    print(f"/map through the engine: p50 {statistics.median(turns_ms):.0f} ms")
    print(f"card with people near: p50 {statistics.median(card_ms):.1f} ms")
    print(f"png: {len(png):,} bytes")
    print(
        f"pledgers={pledgers} places={area_total} areas_shown={shown} "
        f"areas_p50_ms={statistics.median(areas_ms):.0f} "
        f"render_p50_ms={statistics.median(render_ms):.0f} map_p50_ms={p50:.0f} "
        f"map_max_ms={max(total_ms):.0f} engine_map_p50_ms={statistics.median(turns_ms):.0f} "
        f"card_p50_ms={statistics.median(card_ms):.1f} "
        f"card_p95_ms={statistics.quantiles(card_ms, n=100)[94]:.1f} "
        f"gazetteer_load_s={load_s:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pledgers", type=int, default=100_000)
    parser.add_argument("--areas", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.pledgers, args.areas, args.runs))
