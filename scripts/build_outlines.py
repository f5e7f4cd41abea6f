"""Build core/mapping/data/outlines.json.gz from Natural Earth (public domain) TopoJSON.

The source is the npm package ``world-atlas`` 2.0.2: Natural Earth 4.1.0 admin-0 countries at
1:10m, as TopoJSON. Exact commands, from the repository root::

    (cd /tmp && npm pack world-atlas@2.0.2 && mkdir -p world-atlas \\
        && tar xzf world-atlas-2.0.2.tgz -C world-atlas)
    .venv/bin/python scripts/build_outlines.py /tmp/world-atlas/package/countries-10m.json

Output (gzipped JSON, about 1 MB)::

    {"scale": 100,
     "countries": [{"id": "250", "name": "France", "polygons": [[exterior, hole, ...], ...]}],
     "coasts": [line, ...], "borders": [line, ...]}

``id`` is the ISO 3166-1 numeric code (``null`` for a few disputed areas). Every ring or line
is two lists of integers in hundredths of a degree (about 1 km), delta-encoded:
``[[lon0, dlon1, dlon2, ...], [lat0, dlat1, dlat2, ...]]``. Rings are not closed (the last point
is not repeated) and wind as in world-atlas (exteriors clockwise). Topology gives the stroke
lines: an arc used by one country is coast, by two a land border; the artificial cuts along
the antimeridian and under Antarctica are dropped. The source writes some points of the +180
meridian as -180: they are moved to the side of their neighbours, so nothing jumps across the
map. Only the standard library is used.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
from pathlib import Path
from typing import Any

SCALE = 100  # units per degree: coordinates are rounded to 0.01°
EDGE = 180 * SCALE
OUTPUT = Path(__file__).resolve().parent.parent / "core" / "mapping" / "data" / "outlines.json.gz"

Point = tuple[int, int]


def decode_arcs(topology: dict[str, Any]) -> list[list[Point]]:
    """The topology's arcs as absolute points rounded to 1/SCALE degree (repeats removed)."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs: list[list[Point]] = []
    for arc in topology["arcs"]:
        qx = qy = 0
        points: list[Point] = []
        for dx, dy in arc:
            qx, qy = qx + dx, qy + dy
            point = (round((qx * sx + tx) * SCALE), round((qy * sy + ty) * SCALE))
            if not points or points[-1] != point:
                points.append(point)
        arcs.append(points)
    return arcs


def fix_meridian(points: list[Point], closed: bool) -> list[Point]:
    """Put points on the +-180 meridian on the same side as their nearest other neighbour."""
    n = len(points)
    if all(abs(x) != EDGE for x, _ in points) or all(abs(x) == EDGE for x, _ in points):
        return points
    fixed = list(points)
    for i, (x, y) in enumerate(points):
        if abs(x) != EDGE:
            continue
        for distance in range(1, n):
            around = [i - distance, i + distance]
            if closed:
                around = [j % n for j in around]
            sides = [points[j][0] for j in around if 0 <= j < n and abs(points[j][0]) != EDGE]
            if sides:
                fixed[i] = (EDGE if sides[0] > 0 else -EDGE, y)
                break
    return fixed


def is_cut(a: Point, b: Point) -> bool:
    """Whether segment a-b is an artificial edge (antimeridian or Antarctica's southern cut)."""
    return (abs(a[0]) == EDGE and a[0] == b[0]) or (a[1] <= -84 * SCALE and b[1] <= -84 * SCALE)


def outline_runs(points: list[Point]) -> list[list[Point]]:
    """The parts of an arc that are real outline (artificial cuts removed)."""
    runs: list[list[Point]] = []
    previous_cut = True
    for a, b in itertools.pairwise(points):
        if is_cut(a, b):
            previous_cut = True
        elif previous_cut:
            runs.append([a, b])
            previous_cut = False
        else:
            runs[-1].append(b)
    return runs


def encode(points: list[Point]) -> list[list[int]]:
    """Delta-encode points as ``[[lon0, dlon1, ...], [lat0, dlat1, ...]]``."""
    return [
        [b - a for a, b in itertools.pairwise([0, *(p[axis] for p in points)])] for axis in (0, 1)
    ]


def ring_points(refs: list[int], arcs: list[list[Point]]) -> list[Point]:
    """A ring's points from arc references (``~i``: arc ``i`` reversed), not closed."""
    points: list[Point] = []
    for ref in refs:
        arc = arcs[ref] if ref >= 0 else arcs[~ref][::-1]
        points.extend(arc[1:] if points else arc)
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    return fix_meridian(points, closed=True)


def build(topology: dict[str, Any]) -> dict[str, Any]:
    """The compact outline document for the ``countries`` object of ``topology``."""
    arcs = decode_arcs(topology)
    uses = [0] * len(arcs)
    countries = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        kept = []
        for polygon in polygons:
            for ring in polygon:
                for ref in ring:
                    uses[ref if ref >= 0 else ~ref] += 1
            rings = [ring_points(ring, arcs) for ring in polygon]
            if len(set(rings[0])) >= 3:  # islands smaller than about 1 km vanish
                kept.append([encode(ring) for ring in rings if len(set(ring)) >= 3])
        if kept:
            name = geometry.get("properties", {}).get("name", "")
            countries.append({"id": geometry.get("id"), "name": name, "polygons": kept})
    lines: dict[str, list[list[list[int]]]] = {"coasts": [], "borders": []}
    for points, count in zip(arcs, uses, strict=True):
        for run in outline_runs(fix_meridian(points, closed=False)):
            lines["borders" if count > 1 else "coasts"].append(encode(run))
    return {"scale": SCALE, "countries": countries, **lines}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topojson", type=Path, help="world-atlas countries-10m.json")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    document = build(json.loads(args.topojson.read_text(encoding="utf-8")))
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
    rings = sum(len(p) for c in document["countries"] for p in c["polygons"])
    print(
        f"{args.output}: {len(document['countries'])} countries, {rings} rings, "
        f"{len(document['coasts'])} coast and {len(document['borders'])} border lines, "
        f"{args.output.stat().st_size} bytes"
    )


if __name__ == "__main__":
    main()
