"""No count under the minimum can be worked out by comparing the published counts by area
before and after a change (the public CSV and GeoJSON), over random pledge and withdraw
sequences.

The attacker here is stronger than a real one: they know the places under every area, and
which place the change was in (+1 or -1); they take a larger area's total to be made of the
places under it not shown on their own (as merging into larger areas did). With two
consecutive publications they solve the linear equations these give; a place's count is
derived when its unit vector lies in the span of the equations. The only count allowed to be
derived is the changed place's own when it was shown just before (its previous count and
the change tell it, on any threshold scheme).
"""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from core.areas import locate, visible_areas
from core.geo import Gazetteer

GAZETTEER = Gazetteer.default()
MIN = 3
PLACES = (
    ("fr:69123", "Lyon"),
    ("fr:69266", "Villeurbanne"),
    ("fr:69029", "Bron"),
    ("fr:74010", "Annecy"),
    ("fr:38185", "Grenoble"),
    ("fr:01053", "Bourg-en-Bresse"),
    ("fr:75056", "Paris"),
    ("fr:78646", "Versailles"),
    ("fr:92012", "Boulogne-Billancourt"),
    ("cell:45.76,4.84", "45.76, 4.84"),  # a shared point in Lyon
)
KEYS = [key for key, _ in PLACES]


ANCESTORS = {
    key: {parent for parent, _ in located.parents}
    for key, label in PLACES
    if (located := locate(key, label, GAZETTEER)) is not None
}


def _publish(counts: dict[str, int]) -> dict[str, tuple[int, frozenset[str]]]:
    """What the open data shows: each area's count, and the places it is made of."""
    rows = [(key, label, counts[key]) for key, label in PLACES]
    shown = visible_areas(rows, MIN, GAZETTEER)
    alone = {area.key for area in shown}
    return {
        area.key: (
            area.count,
            frozenset({area.key})
            if area.key in ANCESTORS
            else frozenset(k for k in KEYS if area.key in ANCESTORS[k] and k not in alone),
        )
        for area in shown
    }


def _in_span(rows: list[list[Fraction]], target: list[Fraction]) -> bool:
    """Whether `target` is a linear combination of `rows` (Gaussian elimination)."""

    def rank(matrix: list[list[Fraction]]) -> int:
        m = [row[:] for row in matrix]
        found = 0
        for col in range(len(target)):
            pivot = next((r for r in range(found, len(m)) if m[r][col] != 0), None)
            if pivot is None:
                continue
            m[found], m[pivot] = m[pivot], m[found]
            for r in range(len(m)):
                if r != found and m[r][col] != 0:
                    factor = m[r][col] / m[found][col]
                    m[r] = [a - factor * b for a, b in zip(m[r], m[found], strict=True)]
            found += 1
        return found

    return rank(rows) == rank([*rows, target])


def derived_counts(
    before: dict[str, tuple[int, frozenset[str]]],
    after: dict[str, tuple[int, frozenset[str]]],
) -> set[str]:
    """The places whose count after the change the attacker can work out (the equations
    are in the counts before the change; the change itself is known)."""
    equations = [
        [Fraction(int(key in members)) for key in KEYS]
        for publication in (before, after)
        for _, members in publication.values()
    ]
    return {
        key
        for index, key in enumerate(KEYS)
        if _in_span(equations, [Fraction(int(i == index)) for i in range(len(KEYS))])
    }


@pytest.mark.parametrize("seed", range(12))
def test_no_hidden_count_can_be_derived_from_two_publications(seed: int) -> None:
    rng = random.Random(seed)
    counts = dict.fromkeys(KEYS, 0)
    before = _publish(counts)
    for step in range(150):
        place = rng.choice(KEYS)
        change = -1 if counts[place] > 0 and rng.random() < 0.4 else 1
        counts[place] += change
        after = _publish(counts)
        assert all(count >= MIN for count, _ in after.values())
        for key in derived_counts(before, after):
            if 0 < counts[key] < MIN:
                inherent = key == place and key in before and before[key][1] == {key}
                assert inherent, (seed, step, key, counts, before, after)
        before = after
