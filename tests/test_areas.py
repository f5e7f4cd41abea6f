"""Counts by place never show an area under the minimum: small places merge into larger areas."""

from __future__ import annotations

from core.areas import near_counts, visible_areas
from core.geo import Gazetteer

GAZETTEER = Gazetteer.default()
LYON, VILLEURBANNE, BRON = "fr:69123", "fr:69266", "fr:69029"
PARIS, ANNECY = "fr:75056", "fr:74010"


def test_places_under_the_minimum_are_left_out_not_merged() -> None:
    counts = [
        (LYON, "Lyon", 12),
        (VILLEURBANNE, "Villeurbanne", 2),
        (BRON, "Bron", 1),
        (PARIS, "Paris", 3),
        (ANNECY, "Annecy", 1),
    ]
    shown = visible_areas(counts, 3, GAZETTEER)
    # The Rhône's 3 (Villeurbanne and Bron) would change its members as they cross the
    # minimum, and its totals before and after would tell a count under it.
    assert [(a.label, a.count, a.level) for a in shown] == [("Lyon", 12, 0), ("Paris", 3, 0)]
    lyon = shown[0]
    assert 45.7 < lyon.latitude < 45.8 and 4.8 < lyon.longitude < 4.9  # the place's centre
    few = [(VILLEURBANNE, "Villeurbanne", 1), (ANNECY, "Annecy", 1), (PARIS, "Paris", 1)]
    assert visible_areas(few, 1, GAZETTEER) != [] and visible_areas(few, 2, GAZETTEER) == []


def test_cells_and_unknown_names() -> None:
    counts = [("cell:45.76,4.84", "45.76, 4.84", 3), ("nowhere", "Xyzzyville", 5)]
    shown = visible_areas([*counts, (LYON, "Lyon", 1)], 3, GAZETTEER)
    # The cell is shown as itself; the unknown name cannot be placed and is left out.
    assert [(a.key, a.label, a.count) for a in shown] == [("cell:45.76,4.84", "45.76, 4.84", 3)]


def test_people_near_you_is_the_own_area_then_a_wider_one() -> None:
    counts = [(LYON, "Lyon", 23), (VILLEURBANNE, "Villeurbanne", 2), (BRON, "Bron", 9)]
    # The Rhône adds up the places the map shows: with Villeurbanne's 2 in it, the Rhône
    # less Lyon and Bron would tell Villeurbanne's count, which the map leaves out.
    assert near_counts(LYON, "Lyon", counts, 3, GAZETTEER) == [("Lyon", 23), ("Rhône", 32)]
    assert near_counts(VILLEURBANNE, "Villeurbanne", counts, 3, GAZETTEER) == [("Rhône", 32)]
    assert near_counts(PARIS, "Paris", counts, 3, GAZETTEER) == [("France", 32)]


def test_people_near_you_tell_nothing_the_map_does_not() -> None:
    before = [(LYON, "Lyon", 23), (VILLEURBANNE, "Villeurbanne", 2), (BRON, "Bron", 9)]
    after = [(LYON, "Lyon", 23), (VILLEURBANNE, "Villeurbanne", 1), (BRON, "Bron", 9)]
    for counts in (before, after):
        shown = sum(area.count for area in visible_areas(counts, 3, GAZETTEER))
        assert near_counts(LYON, "Lyon", counts, 3, GAZETTEER)[-1] == ("Rhône", shown)
    # A withdrawal in Villeurbanne, under the minimum, changes nothing anyone can read.
    assert near_counts(LYON, "Lyon", before, 3, GAZETTEER) == near_counts(
        LYON, "Lyon", after, 3, GAZETTEER
    )
