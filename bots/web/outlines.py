"""The shipped outlines for the map, as GeoJSON: the world at low detail, and finer detail
(French départements included) for the region in view, snapped to a grid; and the names of
the largest places of a region, as the chat's map picture names them.

Each level is simplified once per process (:func:`core.mapping.levels.outline_level`, warmed
up at start); a new box only joins precomputed text and gzips it, in a thread, and the last
answers are kept, gzipped, with an ETag."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import math
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

from core.mapping.levels import level_geojson, outline_level
from core.mapping.outlines import MAX_LATITUDE
from core.mapping.places import largest_places

BBox = tuple[float, float, float, float]
LEVELS: tuple[tuple[float, float], ...] = ((5.0, 0.01), (20.0, 0.05))
"""(grid size, tolerance) in degrees: a view up to `size` wide gets that detail, for the
grid cells it touches."""
WORLD_TOLERANCE = 0.36
"""The whole world's detail: about 0.5 MB of JSON."""
CACHED = 48
PLACES = 60
"""Place names sent for one view: the page shows those that fit."""
PLACE_BOXES = 256


@dataclass(frozen=True, slots=True)
class Encoded:
    """One GeoJSON document, plain and gzipped, with its ETag."""

    body: bytes
    gzipped: bytes
    etag: str


def snap(bbox: BBox | None) -> tuple[BBox | None, float]:
    """The grid-aligned box and tolerance to serve for a view (None: the whole world)."""
    if bbox is None:
        return None, WORLD_TOLERANCE
    west, south, east, north = bbox
    span = max(east - west, north - south)
    for size, tolerance in LEVELS:
        if span <= size:
            snapped = (
                max(-180.0, math.floor(west / size) * size),
                max(-MAX_LATITUDE, math.floor(south / size) * size),
                min(180.0, math.ceil(east / size) * size),
                min(MAX_LATITUDE, math.ceil(north / size) * size),
            )
            return snapped, tolerance
    return None, WORLD_TOLERANCE


def warm_up() -> None:
    """Simplify every level now (about a second), so no request waits for it."""
    outline_level(WORLD_TOLERANCE)
    for _, tolerance in LEVELS:
        outline_level(tolerance, True)


def parse_bbox(text: str) -> BBox:
    """`west,south,east,north` in degrees; ValueError when it is not one."""
    parts = [float(part) for part in text.split(",")]
    if len(parts) != 4 or not all(math.isfinite(p) for p in parts):
        raise ValueError(text)
    west, south, east, north = parts
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise ValueError(text)
    return west, south, east, north


class OutlineCache:
    """Encoded outlines by snapped box, cut from the precomputed levels off the event loop."""

    def __init__(self, size: int = CACHED) -> None:
        self._size = size
        self._found: OrderedDict[tuple[BBox | None, float], Encoded] = OrderedDict()

    async def get(self, bbox: BBox | None) -> Encoded:
        """The outlines for a view (the world when `bbox` is None or wide)."""
        key = snap(bbox)
        found = self._found.get(key)
        if found is None:
            found = await asyncio.to_thread(_encode, *key)
            self._found[key] = found
            while len(self._found) > self._size:
                self._found.popitem(last=False)
        self._found.move_to_end(key)
        return found


def _encode(bbox: BBox | None, tolerance: float) -> Encoded:
    level = outline_level(tolerance, bbox is not None)
    body = level_geojson(level, bbox).encode()
    etag = '"o' + hashlib.sha256(body).hexdigest()[:16] + '"'
    return Encoded(body, gzip.compress(body, 6), etag)


def places_box(bbox: BBox | None) -> BBox | None:
    """The region whose place names a view gets: the view widened to whole degrees (None,
    the world, beyond the finest outlines' widest level)."""
    if bbox is None:
        return None
    west, south, east, north = bbox
    if max(east - west, north - south) > LEVELS[-1][0]:
        return None
    return (
        float(max(-180, math.floor(west))),
        float(max(-90, math.floor(south))),
        float(min(180, math.ceil(east))),
        float(min(90, math.ceil(north))),
    )


@lru_cache(maxsize=PLACE_BOXES)
def _places(bbox: BBox | None) -> Encoded:
    west, south, east, north = bbox or (-180.0, -MAX_LATITUDE, 180.0, MAX_LATITUDE)
    found = largest_places(west, south, east, north, PLACES)
    body = json.dumps(
        {
            "places": [
                {"name": p.name, "lat": p.latitude, "lon": p.longitude, "population": p.population}
                for p in found
            ]
        },
        ensure_ascii=False,
    ).encode()
    etag = '"p' + hashlib.sha256(body).hexdigest()[:16] + '"'
    return Encoded(body, gzip.compress(body, 6), etag)


async def places(bbox: BBox | None) -> Encoded:
    """The most populous places of the shipped gazetteer in a view widened to whole degrees
    (the world when `bbox` is None or wide), largest first."""
    return await asyncio.to_thread(_places, places_box(bbox))
