"""The shipped French départements (Natural Earth 1:10m admin-1, public domain), loaded once.

``data/departements.json.gz`` is built by ``scripts/build_departements.py`` (format in its
docstring): outlines in thousandths of a degree and a label point per département.
"""

from __future__ import annotations

import gzip
import json
from array import array
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import accumulate
from typing import Any

from PIL import ImagePath

from core.geo.gazetteer import normalize
from core.mapping.outlines import UNITS, Shape, mercator_y

SCALE = 1000  # shipped coordinates are thousandths of a degree


@dataclass(frozen=True, slots=True)
class Departement:
    """A département: its number ("69", "2A", "974"), names, label point and polygons.

    A polygon is a tuple of rings (exterior first); a ring is a flat array
    ``[lon0, lat0, lon1, lat1, ...]`` in thousandths of a degree, not closed.
    """

    code: str
    name: str
    region: str
    latitude: float
    longitude: float
    polygons: tuple[tuple[array[int], ...], ...]

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """West, south, east, north in degrees, of its largest polygon (the mainland)."""
        ring = max((polygon[0] for polygon in self.polygons), key=len)
        xs, ys = ring[0::2], ring[1::2]
        return min(xs) / SCALE, min(ys) / SCALE, max(xs) / SCALE, max(ys) / SCALE

    @property
    def key(self) -> str:
        """The area key of the gazetteer and of counts by area: "fr-dep:69"."""
        return f"fr-dep:{self.code.lower()}"


def _decode(deltas: list[list[int]]) -> array[int]:
    points: array[int] = array("i", bytes(8 * len(deltas[0])))
    points[0::2] = array("i", accumulate(deltas[0]))
    points[1::2] = array("i", accumulate(deltas[1]))
    return points


@cache
def departements() -> tuple[Departement, ...]:
    """Every département, sorted by number (decoded once per process)."""
    raw = resources.files("core.mapping").joinpath("data/departements.json.gz").read_bytes()
    document: dict[str, Any] = json.loads(gzip.decompress(raw))
    if document["scale"] != SCALE:
        raise ValueError("departements.json.gz: unexpected scale")
    return tuple(
        Departement(
            item["code"],
            item["name"],
            item["region"],
            item["label"][1],
            item["label"][0],
            tuple(tuple(_decode(ring) for ring in polygon) for polygon in item["polygons"]),
        )
        for item in document["areas"]
    )


def find_departement(name_or_code: str) -> Departement | None:
    """The département called `name_or_code` ("Rhône", "rhone", "69", "fr-dep:69"), or None."""
    wanted = normalize(name_or_code.removeprefix("fr-dep:"))
    for departement in departements():
        if wanted in (normalize(departement.name), departement.code.lower()):
            return departement
    return None


@cache
def projected_departements() -> tuple[tuple[Departement, tuple[Shape, ...]], ...]:
    """Each département with its exterior rings in Mercator centidegrees (see outlines)."""
    found = []
    for departement in departements():
        shapes = []
        for polygon in departement.polygons:
            ring = polygon[0]
            xs = [x * UNITS / SCALE for x in ring[0::2]]
            ys = [mercator_y(y / SCALE) for y in ring[1::2]]
            flat = [0.0] * (2 * len(xs))
            flat[0::2], flat[1::2] = xs, ys
            shapes.append(Shape(ImagePath.Path(flat), (min(xs), min(ys), max(xs), max(ys))))
        found.append((departement, tuple(shapes)))
    return tuple(found)
