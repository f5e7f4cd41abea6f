"""The offline gazetteer, on the shipped data file."""

from __future__ import annotations

import random

import pytest

from core.geo import Gazetteer, Place, normalize
from core.geo.gazetteer import MAX_SNAP_KM, distance_km


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.default()


def keys(places: list[Place]) -> list[str]:
    return [place.key for place in places]


def test_default_is_loaded_once(gazetteer: Gazetteer) -> None:
    assert Gazetteer.default() is gazetteer
    assert len(gazetteer) > 60_000  # about 35,000 communes and 33,000 world cities


def test_normalize_ignores_accents_case_hyphens_and_apostrophes() -> None:
    assert normalize("Saint-Denis") == normalize("saint denis") == "saint denis"
    assert normalize("  L'Haÿ-les-Roses ") == "l hay les roses"
    assert normalize("St-Étienne") == normalize("ST ETIENNE") == "saint etienne"
    assert normalize("Œuilly") == "oeuilly"
    assert normalize("東京") == "東京"  # other scripts are kept, not dropped
    assert normalize(" - ' ") == ""


def test_lyon_by_name(gazetteer: Gazetteer) -> None:
    found = gazetteer.search("Lyon")
    assert found[0].key == "fr:69123"
    lyon = found[0]
    assert (lyon.name, lyon.country, lyon.region) == ("Lyon", "FR", "Rhône (69)")
    assert lyon.population > 500_000
    assert lyon.latitude == pytest.approx(45.76, abs=0.03)
    assert lyon.longitude == pytest.approx(4.84, abs=0.03)
    assert round(lyon.latitude, 2) == lyon.latitude  # only ever a coarse centre


def test_lyon_parents_roll_up_to_departement_region_and_france(gazetteer: Gazetteer) -> None:
    lyon = gazetteer.get("fr:69123")
    assert lyon is not None
    assert lyon.parents == (
        ("fr-dep:69", "Rhône"),
        ("fr-reg:84", "Auvergne-Rhône-Alpes"),
        ("FR", "France"),
    )


@pytest.mark.parametrize("postcode", ["69001", "69009", " 69 001 "])
def test_lyon_by_postcode(gazetteer: Gazetteer, postcode: str) -> None:
    assert keys(gazetteer.search(postcode)) == ["fr:69123"]


def test_paris_by_arrondissement_postcode(gazetteer: Gazetteer) -> None:
    assert keys(gazetteer.search("75011")) == ["fr:75056"]


def test_a_postcode_serving_several_communes_gives_them_all(gazetteer: Gazetteer) -> None:
    found = gazetteer.search("01400", limit=50)
    assert len(found) > 5
    assert all(place.key.startswith("fr:01") for place in found)
    assert [p.population for p in found] == sorted((p.population for p in found), reverse=True)


def test_unknown_postcode_and_name(gazetteer: Gazetteer) -> None:
    assert gazetteer.search("00000") == []
    assert gazetteer.search("Xyzzyville") == []
    assert gazetteer.search("") == []
    assert gazetteer.search(" -' ") == []


@pytest.mark.parametrize("typed", ["Saint-Denis", "saint denis", "SAINT DENIS", "St-Denis"])
def test_saint_denis_is_ambiguous_and_regions_tell_them_apart(
    gazetteer: Gazetteer, typed: str
) -> None:
    found = gazetteer.search(typed)
    assert {"fr:93066", "fr:97411"} <= set(keys(found))
    assert all(place.name == "Saint-Denis" for place in found)
    regions = {place.key: place.region for place in found}
    assert regions["fr:93066"] == "Seine-Saint-Denis (93)"
    assert regions["fr:97411"] == "La Réunion (974)"
    assert len(set(regions.values())) == len(found)  # every choice can be told apart
    assert [p.population for p in found] == sorted((p.population for p in found), reverse=True)


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Saint-Denis (974)", "fr:97411"),
        ("Saint-Denis 93", "fr:93066"),
        ("saint denis, 93", "fr:93066"),
        ("Saint-Denis (La Réunion)", "fr:97411"),
        ("Saint-Denis (reunion)", "fr:97411"),
        ("Paris, Texas", "gn:4717560"),
        ("Paris (US)", "gn:4717560"),
    ],
)
def test_an_area_typed_after_the_name_picks_the_homonym(
    gazetteer: Gazetteer, typed: str, key: str
) -> None:
    assert keys(gazetteer.search(typed)) == [key]


def test_an_area_that_matches_nothing_gives_nothing(gazetteer: Gazetteer) -> None:
    assert gazetteer.search("Saint-Denis (75)") == []


def test_saint_etienne_abbreviated(gazetteer: Gazetteer) -> None:
    for typed in ("Saint-Étienne", "St-Étienne", "st etienne", "ST ETIENNE"):
        assert gazetteer.search(typed)[0].key == "fr:42218"


def test_paris_in_france_comes_before_paris_texas(gazetteer: Gazetteer) -> None:
    found = gazetteer.search("Paris")
    assert found[0].key == "fr:75056"
    assert found[0].region == "Paris (75)"
    assert "gn:4717560" in keys(found)  # Paris, Texas: a world city of 15,000+
    assert keys(found).count("fr:75056") == 1


@pytest.mark.parametrize("typed", ["Montréal", "montreal", "MONTREAL"])
def test_world_city_montreal(gazetteer: Gazetteer, typed: str) -> None:
    montreal = gazetteer.search(typed)[0]
    assert (montreal.name, montreal.country, montreal.region) == ("Montréal", "CA", "Quebec")
    assert montreal.key.startswith("gn:")
    assert montreal.parents[-1] == ("CA", "Canada")
    assert montreal.parents[0][0] == "CA-adm1:10"


def test_world_city_tokyo(gazetteer: Gazetteer) -> None:
    tokyo = gazetteer.search("Tokyo")[0]
    assert (tokyo.name, tokyo.country) == ("Tokyo", "JP")
    assert tokyo.parents[-1] == ("JP", "Japan")


def test_french_cities_appear_once_as_communes(gazetteer: Gazetteer) -> None:
    for name in ("Lyon", "Marseille", "Toulouse", "Nice", "Nantes", "Strasbourg"):
        found = [p for p in gazetteer.search(name, limit=50) if p.name == name]
        assert [p.key[:3] for p in found].count("fr:") >= 1
        assert not [p for p in found if p.key.startswith("gn:") and p.country == "FR"], name


def test_overseas_communes_are_french(gazetteer: Gazetteer) -> None:
    bora = gazetteer.search("Bora Bora")[0]
    assert (bora.key, bora.country, bora.region) == ("fr:98714", "FR", "Polynésie française (987)")
    assert bora.parents == (("fr-dep:987", "Polynésie française"), ("FR", "France"))
    noumea = gazetteer.search("noumea")[0]
    assert (noumea.key, noumea.country) == ("fr:98818", "FR")
    assert gazetteer.search("97400")[0].key == "fr:97411"


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Lyon 3e Arrondissement", "fr:69123"),  # arrondissements lead to their commune
        ("Paris 11", "fr:75056"),
        ("Marseille 13", "fr:13055"),
        ("Cherbourg-Octeville", "fr:50129"),  # a former commune leads to the new one
        ("Juan-les-Pins", "fr:06004"),  # a GeoNames city that is part of a commune
        ("Londres", "gn:2643743"),  # other languages, for big world cities
        ("Lyons", "fr:69123"),
    ],
)
def test_other_names(gazetteer: Gazetteer, typed: str, key: str) -> None:
    assert gazetteer.search(typed)[0].key == key


def test_exact_names_come_before_other_names() -> None:
    small = Gazetteer(
        [
            "A\tFR\tFrance\n",
            "A\tfr-dep:01\tAin\n",
            "P\tfr:01001\tBig\tFR\tfr-dep:01,FR\t46.00\t5.00\t90000\t01000\tsmall\n",
            "P\tfr:01002\tSmall\tFR\tfr-dep:01,FR\t46.10\t5.10\t10\t01000\t\n",
        ]
    )
    assert keys(small.search("small")) == ["fr:01002", "fr:01001"]
    assert keys(small.search("01000")) == ["fr:01001", "fr:01002"]  # by population
    assert small.search("Small")[0].region == "Ain (01)"


def test_prefix_when_no_exact_name(gazetteer: Gazetteer) -> None:
    found = gazetteer.search("Marseil")
    assert found[0].key == "fr:13055"
    assert all(normalize(p.name).startswith("marseil") for p in found)
    assert gazetteer.search("Ma") == []  # too short to guess


def test_limit(gazetteer: Gazetteer) -> None:
    assert len(gazetteer.search("Saint-Martin", limit=3)) == 3
    assert gazetteer.search("Lyon", limit=0) == []


def test_get(gazetteer: Gazetteer) -> None:
    paris = gazetteer.get("fr:75056")
    assert paris is not None and paris.name == "Paris"
    assert gazetteer.get("gn:6077243") == gazetteer.search("Montréal")[0]
    assert gazetteer.get("fr:00000") is None


def test_nearest_snaps_to_the_commune(gazetteer: Gazetteer) -> None:
    lyon = gazetteer.nearest(45.76, 4.83)
    assert lyon is not None and lyon.key == "fr:69123"
    paris = gazetteer.nearest(48.8566, 2.3522)
    assert paris is not None and paris.key == "fr:75056"
    reunion = gazetteer.nearest(-20.88, 55.45)
    assert reunion is not None and reunion.key == "fr:97411"


def test_nearest_world_city(gazetteer: Gazetteer) -> None:
    tokyo = gazetteer.nearest(35.69, 139.69)
    assert tokyo is not None and tokyo.country == "JP"


def test_nearest_in_the_ocean_is_none(gazetteer: Gazetteer) -> None:
    assert gazetteer.nearest(0.0, -30.0) is None  # middle of the Atlantic
    assert gazetteer.nearest(-45.0, -120.0) is None  # South Pacific
    assert gazetteer.nearest(90.0, 0.0) is None
    assert gazetteer.nearest(0.0, 180.0) is None


@pytest.mark.parametrize(
    ("latitude", "longitude"), [(90.01, 0.0), (-91.0, 0.0), (0.0, 180.5), (0.0, -181.0)]
)
def test_nearest_out_of_range(gazetteer: Gazetteer, latitude: float, longitude: float) -> None:
    with pytest.raises(ValueError):
        gazetteer.nearest(latitude, longitude)


def test_nearest_matches_a_full_scan(gazetteer: Gazetteer) -> None:
    """The grid finds what a scan of every place would, across the antimeridian too."""
    places = list(gazetteer)
    rng = random.Random(7)
    points = [(rng.uniform(41, 51), rng.uniform(-5, 9)) for _ in range(15)]  # France
    points += [(rng.uniform(-60, 70), rng.uniform(-180, 180)) for _ in range(15)]
    points += [(-16.5, 179.9), (-16.5, -179.9), (64.8, -147.7)]  # Fiji both sides, Alaska
    for lat, lon in points:
        best = min(places, key=lambda p: distance_km(lat, lon, p.latitude, p.longitude))
        km = distance_km(lat, lon, best.latitude, best.longitude)
        found = gazetteer.nearest(lat, lon)
        if km > MAX_SNAP_KM:
            assert found is None, (lat, lon)
        else:
            assert found is not None, (lat, lon)
            assert distance_km(lat, lon, found.latitude, found.longitude) == pytest.approx(km)


def test_every_place_is_coarse_and_well_formed(gazetteer: Gazetteer) -> None:
    communes = 0
    for place in gazetteer:
        assert gazetteer.get(place.key) == place
        assert round(place.latitude, 2) == place.latitude
        assert -90 <= place.latitude <= 90 and -180 <= place.longitude <= 180
        assert len(place.country) == 2 and place.country.isupper()
        assert place.parents[-1][0] == place.country
        assert place.region
        if place.key.startswith("fr:"):
            communes += 1
            assert place.country == "FR"
            assert place.parents[0][0].startswith("fr-dep:")
    assert communes > 34_900
