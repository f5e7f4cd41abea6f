"""The /map picture reads at city, country and world scale: départements outlined, places
named, the challenge's own area marked. Pictures are kept in artifacts/ to be looked at."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from core.mapping import MapPoint, draw_map, marked_area, view_for
from core.mapping.departements import departements, find_departement
from core.mapping.render import AREA_EDGE, AREA_FILL, DEPARTEMENT_LINE, LAND, Layout
from core.models import AreaKind

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
LYON = [
    MapPoint(45.764, 4.836, 120, "Lyon"),
    MapPoint(45.77, 4.88, 40, "Villeurbanne"),
    MapPoint(45.70, 4.89, 14, "Vénissieux"),
]
FRANCE = [
    MapPoint(48.857, 2.352, 900, "Paris"),
    MapPoint(45.764, 4.836, 600, "Lyon"),
    MapPoint(43.296, 5.370, 250, "Marseille"),
    MapPoint(48.390, -4.486, 30, "Brest"),
]
WORLD = [
    MapPoint(48.857, 2.352, 300, "Paris"),
    MapPoint(40.71, -74.0, 80, "New York"),
    MapPoint(-33.87, 151.2, 40, "Sydney"),
]


def near(rgb: tuple[int, ...], colour: tuple[int, ...], tolerance: int = 10) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(rgb[:3], colour[:3], strict=False))


def count_pixels(image: Image.Image, colour: tuple[int, ...], tolerance: int = 10) -> int:
    """Pixels of `colour` inside the map frame (between the title and caption bands)."""
    layout = Layout(*image.size)
    inner = image.crop((0, layout.header + 2, image.width, image.height - layout.footer - 2))
    colours = inner.getcolors(maxcolors=inner.width * inner.height) or []
    return sum(n for n, rgb in colours if near(rgb, colour, tolerance))


def save(image: Image.Image, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    image.save(ARTIFACTS / name)


def test_the_shipped_departements_cover_france() -> None:
    found = departements()
    assert len(found) == 101  # 96 metropolitan and 5 overseas
    rhone = find_departement("Rhône")
    assert rhone is not None and rhone.code == "69" and rhone.key == "fr-dep:69"
    assert find_departement("seine et marne") is not None  # the source's typo is fixed
    assert find_departement("2A") is not None and find_departement("Atlantis") is None
    west, south, east, north = rhone.bbox
    assert west < 4.83 < east and south < 45.76 < north


def test_city_scale_outlines_departements_names_places_and_marks_the_area() -> None:
    area = marked_area("Lyon", AreaKind.COMMUNE)
    assert area is not None and area.departement is None
    image, names = draw_map(LYON, title="Trier mes déchets à Lyon ♻️", caption="174", area=area)
    save(image, "map-city.png")
    assert count_pixels(image, DEPARTEMENT_LINE, 6) > 300  # the Rhône's outline crosses
    assert count_pixels(image, AREA_EDGE, 25) > 100  # Lyon's marker is ringed
    for name in ("Lyon", "Villeurbanne", "Bron", "RHÔNE"):
        assert any(label.startswith(name) for label in names), (name, names)
    west, _, east, _ = view_for(LYON, area=area).bbox
    assert east - west < 1.0  # about 30 km across, not the whole country


def test_country_scale_shows_every_departement_and_the_largest_cities() -> None:
    image, names = draw_map(FRANCE, title="Trier", caption="", area=None)
    save(image, "map-country.png")
    assert count_pixels(image, DEPARTEMENT_LINE, 6) > 5000
    assert {"Paris", "Lyon"} <= {label.split(" · ")[0] for label in names}
    assert any(label.startswith("Marseille") for label in names)
    assert len(names) > len(FRANCE)  # places without pledgers are named too


def test_a_departement_challenge_is_tinted_and_in_view() -> None:
    area = marked_area("Rhône", AreaKind.REGION)
    assert area is not None and area.departement is not None
    image, names = draw_map(LYON[:1], title="Rhône", caption="", area=area)
    save(image, "map-departement.png")
    alpha = AREA_FILL[3] / 255
    tint = tuple(
        round(land + (fill - land) * alpha) for land, fill in zip(LAND, AREA_FILL[:3], strict=True)
    )
    assert count_pixels(image, tint, 4) > 50_000  # the tint over the land
    assert "Rhône" in names
    assert AREA_FILL[3] < 255  # a tint, the land and markers stay visible


def test_world_scale_skips_departements_and_names_big_cities() -> None:
    image, names = draw_map(WORLD, title="Monde", caption="420", area=None)
    save(image, "map-world.png")
    assert count_pixels(image, DEPARTEMENT_LINE, 3) < 200  # no départements at this scale
    assert count_pixels(image, LAND, 4) > 50_000
    assert {"Paris", "New York"} <= {label.split(" · ")[0] for label in names}
    assert len(names) > len(WORLD)
