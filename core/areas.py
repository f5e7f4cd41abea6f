"""Counts by place that never show fewer than the minimum: areas under `min_count` pledgers are
merged into the next larger area (commune -> département -> région -> country) or left out.

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
    """The areas to show for (key, label, pledgers) rows, largest first: each place with at
    least `min_count`, then the larger areas made of the places under it, level by level;
    what is still under `min_count` at the country level is left out."""
    shown: list[AreaTotal] = []
    pending: list[tuple[_Located, int]] = []
    for key, label, count in _cells_into_places(counts, min_count, gazetteer):
        located = locate(key, label, gazetteer)
        if located is None:
            continue
        if count >= min_count:
            shown.append(AreaTotal(key, label, count, located.latitude, located.longitude, level=0))
        else:
            pending.append((located, count))
    level = 0
    while pending:
        level += 1
        groups: dict[str, list[tuple[_Located, int]]] = {}
        names: dict[str, str] = {}
        for located, count in pending:
            if len(located.parents) >= level:
                parent_key, parent_name = located.parents[level - 1]
                groups.setdefault(parent_key, []).append((located, count))
                names[parent_key] = parent_name
        pending = []
        for parent_key, members in groups.items():
            total = sum(count for _, count in members)
            if total >= min_count:
                latitude = sum(p.latitude * c for p, c in members) / total
                longitude = sum(p.longitude * c for p, c in members) / total
                shown.append(
                    AreaTotal(
                        parent_key,
                        names[parent_key],
                        total,
                        round(latitude, 2),
                        round(longitude, 2),
                        level,
                    )
                )
            else:
                pending.extend(members)
    shown.sort(key=lambda a: (-a.count, a.label))
    return shown


def _cells_into_places(
    counts: Iterable[tuple[str, str, int]], min_count: int, gazetteer: Gazetteer
) -> list[tuple[str, str, int]]:
    """The rows with each ~1 km cell under `min_count` counted in the place it lies in."""
    merged: dict[str, tuple[str, int]] = {}
    for key, label, count in counts:
        if count <= 0:
            continue
        if key.startswith(CELL_PREFIX) and count < min_count:
            located = locate(key, label, gazetteer)
            if located is not None and located.parents:
                key, label = located.parents[0]
        known_label, known = merged.get(key, (label, 0))
        merged[key] = (known_label, known + count)
    return [(key, label, count) for key, (label, count) in merged.items()]


def near_counts(
    key: str,
    label: str,
    counts: Iterable[tuple[str, str, int]],
    min_count: int,
    gazetteer: Gazetteer,
) -> list[tuple[str, int]]:
    """ "People near you": (label, pledgers) for the member's own area, then the next larger
    area holding at least `min_count` pledgers in all; only counts of `min_count` or more."""
    own = locate(key, label, gazetteer)
    rows = list(counts)
    found: list[tuple[str, int]] = []
    here = sum(count for k, _, count in rows if k == key)
    if here >= min_count:
        found.append((label, here))
    if own is None:
        return found
    located = [(locate(k, lbl, gazetteer), count) for k, lbl, count in rows]
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
