"""Coarse places (looked up offline, snapped, rounded) and deep-link payloads."""

from __future__ import annotations

import pytest

from conversations.deeplinks import DeepLink, make_payload, parse_payload
from core.errors import Invalid
from core.models import Location
from core.places import coarse_point, commune, place_location, resolve_place, snap


def test_points_are_rounded_to_about_a_kilometre() -> None:
    place = coarse_point(45.764321, 4.835659)
    assert (place.latitude, place.longitude, place.area_key) == (45.76, 4.84, "cell:45.76,4.84")


@pytest.mark.parametrize("lat,lon", [(91, 0), (-90.5, 0), (0, 180.1), (0, -181)])
def test_points_out_of_range_are_refused(lat: float, lon: float) -> None:
    with pytest.raises(Invalid):
        coarse_point(lat, lon)


def test_names_and_postcodes_resolve_to_places() -> None:
    assert [p.key for p in resolve_place("  Lyon ")] == ["fr:69123"]
    assert [p.key for p in resolve_place("69001")] == ["fr:69123"]
    homonyms = resolve_place("Saint-Denis")
    assert [p.label for p in homonyms[:2]] == [
        "Saint-Denis, La Réunion (974)",
        "Saint-Denis, Seine-Saint-Denis (93)",
    ]
    assert len(resolve_place("Springfield")) == 6  # at most a few buttons
    assert resolve_place("Xyzzyville") == resolve_place("12345") == []


def test_a_place_is_stored_as_its_public_centre() -> None:
    [lyon] = resolve_place("Lyon")
    location = place_location(lyon)
    assert location == Location("Lyon", 45.75, 4.85, "fr:69123")
    assert location.area_key == "fr:69123" and location.label == "Lyon"


def test_shared_points_snap_to_the_nearest_place_else_a_cell() -> None:
    assert snap(45.764321, 4.835659) == Location("Lyon", 45.75, 4.85, "fr:69123")
    assert snap(-20.8823, 55.4504).key == "fr:97411"  # Saint-Denis, La Réunion
    assert snap(40.00123, -40.00456) == Location(None, 40.0, -40.0)  # no place within 30 km


@pytest.mark.parametrize("lat,lon", [(91, 0), (0, 181), (float("nan"), 0), (0, float("inf"))])
def test_snapping_refuses_points_out_of_range(lat: float, lon: float) -> None:
    with pytest.raises(Invalid):
        snap(lat, lon)


def test_commune_names_are_tidied_and_checked() -> None:
    assert commune("  saint-étienne ").name == "Saint-Étienne"
    assert commune("L'Isle-d'Abeau").name == "L'Isle-d'Abeau"
    assert commune("lyon").area_key == "lyon"
    for bad in ("", "x", "12345", "<script>", "a" * 200):
        with pytest.raises(Invalid):
            commune(bad)


def test_payloads_round_trip_and_fit_telegram() -> None:
    payload = make_payload("trier-mes-dechets-a-lyon", 1_000_000)
    assert parse_payload(payload) == DeepLink("trier-mes-dechets-a-lyon", 1_000_000)
    assert parse_payload("tri-lyon") == DeepLink("tri-lyon")
    assert len(make_payload("a" * 40, 10**15)) <= 64
    for bad in ("", "UPPER", "tri lyon", "tri_lyon_x_y", "a" * 41):
        assert parse_payload(bad) is None
