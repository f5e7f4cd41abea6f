"""The shipped country and coast outlines (Natural Earth 1:10m, public domain), loaded once.

``data/outlines.json.gz`` is built by ``scripts/build_outlines.py`` (format in its docstring):
country rings plus coast and land-border lines, in integer hundredths of a degree.
"""

from __future__ import annotations

import gzip
import json
import math
from array import array
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import accumulate
from typing import Any

from PIL import ImagePath

UNITS = 100  # shipped coordinates are hundredths of a degree
MAX_LATITUDE = 85.0
BBox = tuple[float, float, float, float]  # west, south, east, north (or x0, y0, x1, y1)


def mercator_y(latitude: float) -> float:
    """Web Mercator y of a latitude, in centidegrees like x = 100 * longitude (clamped to 85°)."""
    lat = math.radians(max(-MAX_LATITUDE, min(MAX_LATITUDE, latitude)))
    return UNITS * math.degrees(math.log(math.tan(math.pi / 4 + lat / 2)))


def latitude_of(y: float) -> float:
    """Inverse of :func:`mercator_y`."""
    return math.degrees(2 * math.atan(math.exp(math.radians(y / UNITS))) - math.pi / 2)


@dataclass(frozen=True, slots=True)
class Country:
    """ISO 3166-1 numeric code (``None`` for a few disputed areas), name and polygons.

    A polygon is a tuple of rings (exterior first, then holes); a ring is a flat array
    ``[lon0, lat0, lon1, lat1, ...]`` in hundredths of a degree, not closed.
    """

    iso_numeric: str | None
    name: str
    polygons: tuple[tuple[array[int], ...], ...]


@dataclass(frozen=True, slots=True)
class Outlines:
    """Countries, and the coast and border lines to stroke (flat arrays, hundredths of °)."""

    countries: tuple[Country, ...]
    coasts: tuple[array[int], ...]
    borders: tuple[array[int], ...]


@dataclass(frozen=True, slots=True)
class Shape:
    """A ring or line in Mercator centidegrees, with its bounding box."""

    path: ImagePath.Path
    bbox: BBox


@dataclass(frozen=True, slots=True)
class Projected:
    """Outlines ready to draw: land rings to fill, coast and border lines to stroke."""

    land: tuple[Shape, ...]
    coasts: tuple[Shape, ...]
    borders: tuple[Shape, ...]


def _document() -> dict[str, Any]:
    raw = resources.files("core.mapping").joinpath("data/outlines.json.gz").read_bytes()
    document: dict[str, Any] = json.loads(gzip.decompress(raw))
    if document["scale"] != UNITS:
        raise ValueError("outlines.json.gz: unexpected scale")
    return document


def _decode(deltas: list[list[int]]) -> array[int]:
    """``[[lon0, dlon1, ...], [lat0, dlat1, ...]]`` -> flat ``[lon0, lat0, lon1, lat1, ...]``."""
    points: array[int] = array("i", bytes(8 * len(deltas[0])))
    points[0::2] = array("i", accumulate(deltas[0]))
    points[1::2] = array("i", accumulate(deltas[1]))
    return points


@cache
def load_outlines() -> Outlines:
    """Decode the shipped file in degrees (cached; the renderer uses :func:`projected_outlines`)."""
    document = _document()
    countries = tuple(
        Country(
            item["id"],
            item["name"],
            tuple(tuple(_decode(ring) for ring in polygon) for polygon in item["polygons"]),
        )
        for item in document["countries"]
    )
    coasts = tuple(_decode(line) for line in document["coasts"])
    borders = tuple(_decode(line) for line in document["borders"])
    return Outlines(countries, coasts, borders)


@cache
def _mercator_table() -> list[float]:
    """Mercator y of every latitude in hundredths of a degree, indexed by that latitude.

    Negative latitudes use Python's negative indexing: ``table[-1]`` is latitude -0.01°.
    """
    north = [mercator_y(i / UNITS) for i in range(90 * UNITS + 1)]
    south = [mercator_y(i / UNITS) for i in range(-90 * UNITS, 0)]
    return north + south


def _shape(deltas: list[list[int]]) -> Shape:
    xs = list(accumulate(deltas[0]))
    ys = list(map(_mercator_table().__getitem__, accumulate(deltas[1])))
    flat = [0.0] * (2 * len(xs))
    flat[0::2] = xs
    flat[1::2] = ys
    return Shape(ImagePath.Path(flat), (min(xs), min(ys), max(xs), max(ys)))


@cache
def projected_outlines() -> Projected:
    """Land exterior rings and stroke lines in Mercator, decoded once per process (~0.3 s)."""
    document = _document()
    land = tuple(
        _shape(polygon[0]) for country in document["countries"] for polygon in country["polygons"]
    )
    coasts = tuple(_shape(line) for line in document["coasts"])
    borders = tuple(_shape(line) for line in document["borders"])
    return Projected(land, coasts, borders)


def intersects(a: BBox, b: BBox) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _touches(ring: array[int], boxes: list[BBox]) -> bool:
    xs, ys = ring[0::2], ring[1::2]
    extent = (min(xs) / UNITS, min(ys) / UNITS, max(xs) / UNITS, max(ys) / UNITS)
    return any(intersects(extent, box) for box in boxes)


def ring_coordinates(points: array[int], tolerance: int) -> list[list[float]]:
    """Closed GeoJSON ring in degrees, dropping vertices within ``tolerance`` of the last kept."""
    coords: list[list[float]] = []
    last_x = last_y = -(10**9)
    for i in range(0, len(points), 2):
        x, y = points[i], points[i + 1]
        if abs(x - last_x) >= tolerance or abs(y - last_y) >= tolerance:
            coords.append([x / UNITS, y / UNITS])
            last_x, last_y = x, y
    coords.append(coords[0])
    return coords


def outlines_geojson(bbox: BBox | None = None, *, tolerance: float | None = None) -> dict[str, Any]:
    """The country outlines as a GeoJSON FeatureCollection of (Multi)Polygon features.

    With ``bbox`` (west, south, east, north in degrees; ``east`` may pass 180 to cross the
    antimeridian) only the polygons touching it are kept. ``tolerance`` (degrees) drops
    vertices closer than that to the previous one: by default a thousandth of the bbox width
    (0.36° for the world, about 0.5 MB of JSON; full 0.01° detail below 10° wide); countries
    smaller than that keep their largest polygon in full detail. Feature ids
    and ``properties.iso_numeric`` are ISO 3166-1 numeric codes; rings wind as in Natural
    Earth/world-atlas (exteriors clockwise, which d3-geo expects; Leaflet ignores winding).
    """
    outlines = load_outlines()
    boxes: list[BBox] = []
    if bbox is not None:
        west, south, east, north = bbox
        boxes = [(west + shift, south, east + shift, north) for shift in (-360.0, 0.0, 360.0)]
        boxes = [b for b in boxes if b[2] >= -180 and b[0] <= 180]
    span = 360.0 if bbox is None else min(360.0, bbox[2] - bbox[0])
    step = max(1, round(UNITS * (span / 1000 if tolerance is None else tolerance)))
    features: list[dict[str, Any]] = []
    for country in outlines.countries:
        shown = [p for p in country.polygons if not boxes or _touches(p[0], boxes)]
        polygons: list[list[list[list[float]]]] = []
        for polygon in shown:
            rings = [ring_coordinates(ring, step) for ring in polygon]
            if len(rings[0]) >= 4:
                polygons.append([ring for ring in rings if len(ring) >= 4])
        if shown and not polygons:  # a tiny country keeps its largest part, in full detail
            polygons.append([ring_coordinates(max(shown, key=lambda p: len(p[0]))[0], 1)])
        if not polygons:
            continue
        geometry: dict[str, Any] = (
            {"type": "Polygon", "coordinates": polygons[0]}
            if len(polygons) == 1
            else {"type": "MultiPolygon", "coordinates": polygons}
        )
        feature: dict[str, Any] = {
            "type": "Feature",
            "properties": {"name": country.name, "iso_numeric": country.iso_numeric},
            "geometry": geometry,
        }
        if country.iso_numeric:
            feature["id"] = country.iso_numeric
        features.append(feature)
    return {"type": "FeatureCollection", "features": features}
