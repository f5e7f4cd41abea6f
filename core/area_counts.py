"""A challenge's counts by area as one process keeps them: its `area_counts` rows, each with
the version of its last change, and the pledgers of the shown rows summed by larger area, both
brought up to date row by row. "People near you" then costs a few lookups instead of placing
every area of the challenge on every card, and answers as `core.areas.near_counts` does over
the same rows.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

from core.areas import locate
from core.geo import Gazetteer

LOCATED_CACHE = 50_000  # area keys whose larger areas are remembered (they never change)

AreaRow = tuple[str, str, int]
"""(area key, label, pledgers): one `area_counts` row."""


@lru_cache(maxsize=LOCATED_CACHE)
def larger_areas(key: str, label: str) -> frozenset[str]:
    """The keys of the larger areas an area counted under `key` lies in; empty when it cannot
    be placed. Needs the gazetteer loaded (`core.places.load_places`)."""
    located = locate(key, label, Gazetteer.default())
    return frozenset() if located is None else frozenset(parent for parent, _ in located.parents)


class CountedAreas:
    """One challenge's area counts at the highest version read (`seen`).

    `apply` takes rows changed since, in any order and more than once: a row older than the
    one kept is ignored. The sums by larger area are built on the first `near` (the map and
    the organiser's view need only the rows) and kept up to date from then on.
    """

    def __init__(self, min_count: int) -> None:
        self.min_count = min_count
        self.seen = -1
        self._rows: dict[str, tuple[str, int, int]] = {}  # key -> (label, pledgers, version)
        self._totals: Counter[str] | None = None  # shown pledgers per larger area
        self._counted: dict[str, frozenset[str]] = {}  # where each shown row is summed

    def apply(self, key: str, label: str, pledgers: int, version: int) -> None:
        """Take one row as read at `version`."""
        kept = self._rows.get(key)
        if kept is not None and kept[2] >= version:
            return
        self._rows[key] = (label, pledgers, version)
        self.seen = max(self.seen, version)
        if self._totals is not None:
            if kept is not None:
                self._take_away(key, kept[1])
            self._add(key, label, pledgers)

    def rows(self) -> list[AreaRow]:
        """Every area with at least one pledger."""
        return [(key, label, n) for key, (label, n, _) in self._rows.items() if n > 0]

    def pledgers(self, key: str) -> int:
        """The pledgers counted under `key`."""
        kept = self._rows.get(key)
        return 0 if kept is None else max(kept[1], 0)

    def near(self, key: str, label: str, gazetteer: Gazetteer) -> list[tuple[str, int]]:
        """`near_counts` over the rows kept: (label, pledgers) for the member's own area, then
        the next larger area holding at least `min_count` pledgers in the places shown."""
        if self._totals is None:
            self._totals = Counter()
            for row_key, (row_label, count, _) in self._rows.items():
                self._add(row_key, row_label, count)
        here = self.pledgers(key)
        found = [(label, here)] if here >= self.min_count else []
        own = locate(key, label, gazetteer)
        for parent_key, parent_name in () if own is None else own.parents:
            total = self._totals[parent_key]
            if total >= self.min_count and total > here:
                found.append((parent_name, total))
                break
        return found

    def _add(self, key: str, label: str, count: int) -> None:
        """Sum a row's pledgers into the larger areas it lies in, if the map shows it."""
        assert self._totals is not None
        if count >= self.min_count:
            self._counted[key] = areas = larger_areas(key, label)
            for area in areas:
                self._totals[area] += count

    def _take_away(self, key: str, count: int) -> None:
        """Undo `_add` of a row that counted `count` pledgers."""
        assert self._totals is not None
        for area in self._counted.pop(key, ()):
            self._totals[area] -= count
