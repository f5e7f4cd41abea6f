"""The map's outline endpoint: every zoom level is simplified once, so distinct boxes cost no
simplification (issue 14: each new ?bbox= cost ~250 ms of CPU under a lock)."""

from __future__ import annotations

import json
import random

import pytest

from bots.web import outlines as web_outlines
from bots.web.outlines import LEVELS, OutlineCache, snap
from core.mapping import levels


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many rings are simplified, from an empty level cache."""
    calls = [0]
    original = levels.ring_coordinates

    def counting(points: object, tolerance: int) -> list[list[float]]:
        calls[0] += 1
        return original(points, tolerance)  # type: ignore[arg-type]

    levels.outline_level.cache_clear()
    monkeypatch.setattr(levels, "ring_coordinates", counting)
    yield calls
    levels.outline_level.cache_clear()


def boxes(count: int, seed: int) -> list[tuple[float, float, float, float]]:
    rng = random.Random(seed)
    found = []
    while len(found) < count:
        west, south = rng.uniform(-170, 150), rng.uniform(-60, 60)
        size = rng.choice((1.0, 3.0, 4.5, 8.0, 15.0))
        found.append((west, south, west + size, south + size))
    return found


async def test_distinct_boxes_cost_no_simplification_once_the_levels_are_made(
    counted: list[int],
) -> None:
    cache = OutlineCache(size=48)
    first = boxes(60, 1)
    assert len({snap(box) for box in first}) > 48  # more distinct answers than the cache holds
    for box in first:
        await cache.get(box)
    per_level = counted[0]
    assert per_level > 0
    for box in boxes(60, 2):  # 60 more distinct boxes, none cached
        await cache.get(box)
    await cache.get(None)  # the world
    world = counted[0] - per_level
    assert counted[0] == per_level + world
    for box in boxes(60, 3):
        await cache.get(box)
    await cache.get(None)
    assert counted[0] == per_level + world  # nothing simplified again


async def test_levels_warm_up_once_for_every_box(counted: list[int]) -> None:
    web_outlines.warm_up()
    made = counted[0]
    cache = OutlineCache()
    for box in boxes(30, 4):
        await cache.get(box)
    assert counted[0] == made
    assert {levels.outline_level.cache_info().currsize} == {len(LEVELS) + 1}


async def test_detail_carries_departements_and_the_world_does_not() -> None:
    cache = OutlineCache()
    detail = json.loads((await cache.get((4.1, 45.2, 5.9, 46.3))).body)
    assert detail["bbox"] == [0.0, 45.0, 10.0, 50.0]
    departements = [f for f in detail["features"] if f["properties"].get("level") == "departement"]
    assert "Rhône" in {f["properties"]["name"] for f in departements}
    assert all(f["id"].startswith("fr-dep:") for f in departements)
    names = {f["properties"]["name"] for f in detail["features"]}
    assert "France" in names and "Brazil" not in names
    world = json.loads((await cache.get(None)).body)
    assert not any(f["properties"].get("level") for f in world["features"])
    assert len(world["features"]) == 250
