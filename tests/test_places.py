"""Coarse places and deep-link payloads."""

from __future__ import annotations

import pytest

from conversations.deeplinks import DeepLink, make_payload, parse_payload
from core.errors import Invalid
from core.places import coarse_point, commune


def test_points_are_rounded_to_about_a_kilometre() -> None:
    place = coarse_point(45.764321, 4.835659)
    assert (place.latitude, place.longitude, place.area_key) == (45.76, 4.84, "cell:45.76,4.84")


@pytest.mark.parametrize("lat,lon", [(91, 0), (-90.5, 0), (0, 180.1), (0, -181)])
def test_points_out_of_range_are_refused(lat: float, lon: float) -> None:
    with pytest.raises(Invalid):
        coarse_point(lat, lon)


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
