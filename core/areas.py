"""Counts by place that never show fewer than the minimum, nor let one be worked out: places
under `min_count` pledgers are left out of every map, open-data file and digest.

Pure functions over the gazetteer: every view that shows a count by place (the map picture, the
card's "people near you", the web page, the open data) goes through `visible_areas` or
`near_counts`, so none can show a smaller group.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.geo import Gazetteer, Place

CELL_PREFIX = "cell:"


@dataclass(frozen=True, slots=True)
class AreaTotal:
    """Pledgers counted in one area as shown: a place, or a larger area that took in the
    smaller places around it."""

    key: str
    label: str
    count: int
    latitude: float
    longitude: float
    level: int
    """0 for a place (commune, city, ~1 km cell); 1, 2, 3... for ever larger areas."""


@dataclass(frozen=True, slots=True)
class _Located:
    key: str
    label: str
    latitude: float
    longitude: float
    parents: tuple[tuple[str, str], ...]


def locate(key: str, label: str, gazetteer: Gazetteer) -> _Located | None:
    """Where an area counted under `key` lies, and the larger areas it belongs to; None for
    a key the gazetteer cannot place (a typed name of an unknown place)."""
    place: Place | None
    if key.startswith(CELL_PREFIX):
        try:
            latitude, longitude = (float(v) for v in key[len(CELL_PREFIX) :].split(","))
        except ValueError:
            return None
        place = gazetteer.nearest(latitude, longitude)
        parents = () if place is None else ((place.key, place.name), *place.parents)
        return _Located(key, label, latitude, longitude, parents)
    place = gazetteer.get(key)
    if place is None:  # an old free-text place: its best match, if any
        found = gazetteer.search(label, limit=1)
        place = found[0] if found else None
    if place is None:
        return None
    return _Located(key, label, place.latitude, place.longitude, place.parents)


def visible_areas(
    counts: Iterable[tuple[str, str, int]], min_count: int, gazetteer: Gazetteer
) -> list[AreaTotal]:
    """The places (and ~1 km cells) with at least `min_count` pledgers, largest first; every
    other one is left out, counted in no larger area.

    A larger area made of the places under the minimum had to change its members as places
    crossed the minimum, and comparing its totals before and after a change told the count
    of a place under the minimum (tests/test_area_differencing.py tries every such merge).
    A place's own count changes only by the pledges made or withdrawn there.
    """
    shown = []
    for key, label, count in counts:
        located = locate(key, label, gazetteer) if count >= min_count else None
        if located is not None:
            shown.append(AreaTotal(key, label, count, located.latitude, located.longitude, 0))
    shown.sort(key=lambda a: (-a.count, a.label))
    return shown


def near_counts(
    key: str,
    label: str,
    counts: Iterable[tuple[str, str, int]],
    min_count: int,
    gazetteer: Gazetteer,
) -> list[tuple[str, int]]:
    """ "People near you": (label, pledgers) for the member's own area, then the next larger
    area holding at least `min_count` pledgers in all; only counts of `min_count` or more.

    A larger area's total adds up only the places shown on the map (those of `min_count` or
    more): with the places under the minimum in it, the total less the map's places would
    tell their count."""
    own = locate(key, label, gazetteer)
    rows = list(counts)
    found: list[tuple[str, int]] = []
    here = sum(count for k, _, count in rows if k == key)
    if here >= min_count:
        found.append((label, here))
    if own is None:
        return found
    located = [(locate(k, lbl, gazetteer), count) for k, lbl, count in rows if count >= min_count]
    for parent_key, parent_name in own.parents:
        total = sum(
            count
            for where, count in located
            if where is not None and parent_key in {p for p, _ in where.parents}
        )
        if total >= min_count and total > here:
            found.append((parent_name, total))
            break
    return found
