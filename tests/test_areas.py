"""Counts by place never show an area under the minimum: small places merge into larger areas."""

from __future__ import annotations

from core.areas import near_counts, visible_areas
from core.geo import Gazetteer

GAZETTEER = Gazetteer.default()
LYON, VILLEURBANNE, BRON = "fr:69123", "fr:69266", "fr:69029"
PARIS, ANNECY = "fr:75056", "fr:74010"


def test_places_under_the_minimum_merge_into_their_departement() -> None:
    counts = [
        (LYON, "Lyon", 12),
        (VILLEURBANNE, "Villeurbanne", 2),
        (BRON, "Bron", 1),
        (PARIS, "Paris", 3),
        (ANNECY, "Annecy", 1),  # alone in Haute-Savoie, and its région has no one else small
    ]
    shown = visible_areas(counts, 3, GAZETTEER)
    assert [(a.label, a.count, a.level) for a in shown] == [
        ("Lyon", 12, 0),
        ("Paris", 3, 0),
        ("Rhône", 3, 1),
    ]
    assert all(a.count >= 3 for a in shown)
    rhone = shown[2]
    assert 45.6 < rhone.latitude < 45.9 and 4.8 < rhone.longitude < 5.0  # between the two


def test_merging_climbs_to_the_region_then_the_country_or_leaves_out() -> None:
    counts = [(VILLEURBANNE, "Villeurbanne", 1), (ANNECY, "Annecy", 1), (PARIS, "Paris", 1)]
    assert [(a.label, a.count) for a in visible_areas(counts, 2, GAZETTEER)] == [
        ("Auvergne-Rhône-Alpes", 2)
    ]
    assert [(a.label, a.count) for a in visible_areas(counts, 3, GAZETTEER)] == [("France", 3)]
    assert visible_areas(counts, 4, GAZETTEER) == []


def test_cells_and_unknown_names() -> None:
    counts = [("cell:45.76,4.84", "45.76, 4.84", 2), ("nowhere", "Xyzzyville", 5)]
    shown = visible_areas([*counts, (LYON, "Lyon", 1)], 3, GAZETTEER)
    # The cell lies in Lyon; the unknown name cannot be placed and is left out.
    assert [(a.key, a.label, a.count) for a in shown] == [(LYON, "Lyon", 3)]


def test_people_near_you_is_the_own_area_then_a_wider_one() -> None:
    counts = [(LYON, "Lyon", 23), (VILLEURBANNE, "Villeurbanne", 2), (BRON, "Bron", 9)]
    assert near_counts(LYON, "Lyon", counts, 3, GAZETTEER) == [("Lyon", 23), ("Rhône", 34)]
    assert near_counts(VILLEURBANNE, "Villeurbanne", counts, 3, GAZETTEER) == [("Rhône", 34)]
    assert near_counts(PARIS, "Paris", counts, 3, GAZETTEER) == [("France", 34)]
