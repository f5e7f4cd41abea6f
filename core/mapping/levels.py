"""The map's outlines simplified once per zoom level and cut to any box by joining precomputed
GeoJSON text: a new box costs no simplification (the web map's detail views)."""

from __future__ import annotations

import json
from array import array
from dataclasses import dataclass
from functools import cache
from typing import Any

from core.mapping.departements import SCALE, departements
from core.mapping.outlines import UNITS, BBox, intersects, load_outlines, ring_coordinates


@dataclass(frozen=True, slots=True)
class LevelPolygon:
    """One polygon simplified for a level: its extent in degrees and its GeoJSON coordinates."""

    extent: BBox
    coordinates: str


@dataclass(frozen=True, slots=True)
class LevelFeature:
    """A country (or département) at one level: the start of its GeoJSON feature, up to its
    coordinates, and its polygons."""

    head: str
    polygons: tuple[LevelPolygon, ...]


def _feature_head(properties: dict[str, Any], feature_id: str | None) -> str:
    head: dict[str, Any] = {"type": "Feature"}
    if feature_id:
        head["id"] = feature_id
    head["properties"] = properties
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
    return text[:-1] + ',"geometry":{"type":"MultiPolygon","coordinates":['


def _level_polygons(polygons: tuple[tuple[array[int], ...], ...], step: int) -> list[LevelPolygon]:
    """Polygons simplified by `step` (tiny ones dropped; a tiny country keeps its largest part
    in full detail)."""
    kept: list[LevelPolygon] = []
    for polygon in polygons:
        rings = [ring_coordinates(ring, step) for ring in polygon]
        if len(rings[0]) >= 4:
            kept.append(_level_polygon(polygon[0], [r for r in rings if len(r) >= 4]))
    if not kept and polygons:
        largest = max(polygons, key=lambda p: len(p[0]))[0]
        kept.append(_level_polygon(largest, [ring_coordinates(largest, 1)]))
    return kept


def _level_polygon(exterior: array[int], rings: list[list[list[float]]]) -> LevelPolygon:
    xs, ys = exterior[0::2], exterior[1::2]
    extent = (min(xs) / UNITS, min(ys) / UNITS, max(xs) / UNITS, max(ys) / UNITS)
    return LevelPolygon(extent, json.dumps(rings, separators=(",", ":")))


@cache
def outline_level(tolerance: float, with_departements: bool = False) -> tuple[LevelFeature, ...]:
    """Every country simplified once at `tolerance` degrees (and, with `with_departements`, the
    French départements after them), ready to be cut to any box by :func:`level_geojson`."""
    step = max(1, round(UNITS * tolerance))
    features: list[LevelFeature] = []
    for country in load_outlines().countries:
        properties = {"name": country.name, "iso_numeric": country.iso_numeric}
        polygons = _level_polygons(country.polygons, step)
        features.append(
            LevelFeature(_feature_head(properties, country.iso_numeric), tuple(polygons))
        )
    if with_departements:
        for departement in departements():
            rescaled = tuple(
                tuple(array("i", (round(v * UNITS / SCALE) for v in ring)) for ring in polygon)
                for polygon in departement.polygons
            )
            properties = {"name": departement.name, "level": "departement"}
            polygons = _level_polygons(rescaled, step)
            features.append(
                LevelFeature(_feature_head(properties, departement.key), tuple(polygons))
            )
    return tuple(features)


def level_geojson(level: tuple[LevelFeature, ...], bbox: BBox | None) -> str:
    """A GeoJSON FeatureCollection of the level's polygons touching `bbox` (every one when
    None; ``east`` may pass 180), with the box as its ``bbox``. Only joins precomputed text."""
    boxes: list[BBox] = []
    if bbox is not None:
        west, south, east, north = bbox
        boxes = [(west + shift, south, east + shift, north) for shift in (-360.0, 0.0, 360.0)]
        boxes = [b for b in boxes if b[2] >= -180 and b[0] <= 180]
    parts: list[str] = []
    for feature in level:
        shown = [
            p.coordinates
            for p in feature.polygons
            if not boxes or any(intersects(p.extent, box) for box in boxes)
        ]
        if shown:
            parts.append(feature.head + ",".join(shown) + "]}}")
    tail = "" if bbox is None else ',"bbox":' + json.dumps(list(bbox))
    return '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]" + tail + "}"
