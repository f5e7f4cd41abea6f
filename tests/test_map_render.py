"""The offline map: zoom, markers, outlines and the GeoJSON for the web page."""

from __future__ import annotations

import io
import json
import random
import time

import pytest
from PIL import Image

from core.mapping import MapPoint, outlines_geojson, render_map, view_for
from core.mapping.render import LAND, SEA

LYON = [
    MapPoint(45.764, 4.836, 120, "Lyon"),
    MapPoint(45.77, 4.88, 40, "Villeurbanne"),
    MapPoint(45.70, 4.89, 14, "Vénissieux"),
    MapPoint(45.83, 4.82, 8, "Caluire-et-Cuire"),
]
FRANCE = [
    MapPoint(48.857, 2.352, 900, "Paris"),
    MapPoint(45.764, 4.836, 600, "Lyon"),
    MapPoint(43.296, 5.370, 250, "Marseille"),
    MapPoint(48.390, -4.486, 30, "Brest"),
    MapPoint(50.629, 3.057, 140, "Lille"),
    MapPoint(48.573, 7.752, 110, "Strasbourg"),
    MapPoint(43.604, 1.444, 180, "Toulouse"),
]
WORLD = [
    MapPoint(48.857, 2.352, 300, "Paris"),
    MapPoint(40.71, -74.0, 80, "New York"),
    MapPoint(-33.87, 151.2, 40, "Sydney"),
    MapPoint(35.68, 139.7, 25, "Tokyo"),
    MapPoint(-23.55, -46.63, 30, "São Paulo"),
    MapPoint(37.77, -122.42, 35, "San Francisco"),
]


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image.convert("RGB")


def at(image: Image.Image, x: float, y: float) -> tuple[int, ...]:
    """The RGB value at a (rounded) pixel."""
    value = image.getpixel((round(x), round(y)))
    assert isinstance(value, tuple)
    return value


def is_marker(rgb: tuple[int, ...]) -> bool:
    """Semi-transparent green over land or sea."""
    r, g, b = rgb[:3]
    return g - r > 40 and g - b > 15


def near(rgb: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(rgb[:3], colour, strict=True))


def test_png_has_the_requested_size() -> None:
    for width, height in ((1200, 800), (640, 480)):
        image = decode(
            render_map(
                FRANCE, title="Trier", caption="2 210 · 26 novembre", width=width, height=height
            )
        )
        assert image.size == (width, height)


def test_one_city_zooms_in_and_draws_its_markers() -> None:
    view = view_for(LYON)
    west, south, east, north = view.bbox
    assert east - west < 1.0 and north - south < 1.0
    assert west < 4.83 < east and south < 45.77 < north
    image = decode(render_map(LYON, title="Vélo au boulot", caption="182 personnes"))
    for point in LYON:
        x, y = view.pixel(point.latitude, point.longitude)
        assert 0 <= x < 1200 and 0 <= y < 800
        # just beside the centre, where a count may be written
        assert is_marker(at(image, x, y + 2 + (point.count > 20) * 12))
    assert near(at(image, 30, 400), LAND)  # far from any marker, inland


def test_single_point_still_shows_about_thirty_kilometres() -> None:
    west, south, east, north = view_for([MapPoint(45.764, 4.836, 1, "Lyon")]).bbox
    assert 0.2 < north - south < 1.0
    assert 0.3 < east - west < 1.0


def test_points_across_france_show_france() -> None:
    west, south, east, north = view_for(FRANCE).bbox
    assert -13 < west < -4.5 and 7.8 < east < 16
    assert 38 < south < 43.2 and 51 < north < 54
    image = decode(render_map(FRANCE, title="Trier", caption=""))
    view = view_for(FRANCE)
    x, y = view.pixel(46.0, -5.0)  # Bay of Biscay
    assert near(at(image, x, y), SEA)


def test_points_spread_worldwide_show_the_whole_world() -> None:
    view = view_for(WORLD)
    west, south, east, north = view.bbox
    assert west == pytest.approx(-180) and east == pytest.approx(180)
    assert south < -50 and north > 70
    image = decode(render_map(WORLD, title="Monde", caption="510 people"))
    x, y = view.pixel(-33.87, 151.2)
    assert is_marker(at(image, x, y + 3))
    x, y = view.pixel(30.0, -40.0)  # mid-Atlantic
    assert near(at(image, x, y), SEA)


def test_points_across_the_antimeridian_get_a_pacific_view() -> None:
    pacific = [
        MapPoint(-36.85, 174.76, 10, "Auckland"),
        MapPoint(-18.14, 178.44, 6, "Suva"),
        MapPoint(-13.83, -171.76, 4, "Apia"),
    ]
    view = view_for(pacific)
    west, _, east, _ = view.bbox
    assert west < 174 and east > 188 and east - west < 60
    image = decode(render_map(pacific, title="Pacific", caption=""))
    x, y = view.pixel(-13.83, -171.76)
    assert 0 <= x < 1200
    assert is_marker(at(image, x, y + 3))


def test_marker_areas_follow_the_counts() -> None:
    points = [MapPoint(47.0, 0.0, 100, ""), MapPoint(47.0, 6.0, 25, "")]
    view = view_for(points)
    image = decode(render_map(points, title="", caption=""))

    def area(point: MapPoint) -> int:
        cx, cy = (round(v) for v in view.pixel(point.latitude, point.longitude))
        return sum(
            is_marker(at(image, x, y))
            for x in range(max(0, cx - 60), min(1200, cx + 61))
            for y in range(max(0, cy - 60), min(800, cy + 61))
        )

    assert 3.0 < area(points[0]) / area(points[1]) < 5.0


def test_no_points_gives_a_plain_map_of_france() -> None:
    west, south, east, north = view_for([]).bbox
    assert west < -4.5 and east > 8 and south < 42.5 and north > 51
    image = decode(render_map([], title="", caption=""))
    assert image.size == (1200, 800)
    colours = image.getcolors(maxcolors=1 << 18) or []
    assert colours
    assert not any(isinstance(c, tuple) and is_marker(c) for n, c in colours if n > 20)
    x, y = view_for([]).pixel(46.5, 2.5)  # the middle of France
    assert near(at(image, x, y), LAND)


def test_odd_input_is_tolerated() -> None:
    points = [
        MapPoint(89.9, 179.99, 3, ""),
        MapPoint(-89.9, -180, 0, "nobody"),
        MapPoint(float("nan"), 2.0, 5, "nowhere"),
        *LYON,
    ]
    png = render_map(points, title="A very long title " * 20, caption="Caption " * 40)
    assert decode(png).size == (1200, 800)


def test_five_thousand_areas_render_quickly() -> None:
    rng = random.Random(5)
    points = [
        MapPoint(rng.uniform(42.5, 50.8), rng.uniform(-4.5, 7.8), rng.randint(1, 40), f"A{i}")
        for i in range(5000)
    ]
    render_map(points[:10], title="warm-up", caption="")  # loads the outlines once
    start = time.perf_counter()
    png = render_map(points, title="Benchmark", caption="100 000")
    elapsed = time.perf_counter() - start
    assert decode(png).size == (1200, 800)
    assert elapsed < 3.0  # about 0.25 s here; generous for slow CI machines


def test_outlines_geojson_is_a_feature_collection_with_france() -> None:
    collection = outlines_geojson()
    assert collection["type"] == "FeatureCollection"
    features = collection["features"]
    assert isinstance(features, list) and len(features) == 250  # tiny states included
    by_id = {f.get("id"): f for f in features}
    france = by_id["250"]
    assert france["properties"]["name"] == "France"
    assert france["geometry"]["type"] == "MultiPolygon"  # mainland, Corsica, overseas
    for feature in features:
        geometry = feature["geometry"]
        assert geometry["type"] in ("Polygon", "MultiPolygon")
        polygons = geometry["coordinates"]
        polygons = [polygons] if geometry["type"] == "Polygon" else polygons
        for ring in (ring for polygon in polygons for ring in polygon):
            assert len(ring) >= 4 and ring[0] == ring[-1]
            assert all(-180 <= lon <= 180 and -90 <= lat <= 90 for lon, lat in ring)
    assert len(json.dumps(collection)) < 1_500_000


def test_outlines_geojson_filters_by_bbox() -> None:
    europe = outlines_geojson((-5.0, 42.0, 8.0, 51.0))
    names = {f["properties"]["name"] for f in europe["features"]}
    assert {"France", "Spain", "Belgium", "Switzerland"} <= names
    assert "Australia" not in names and "Japan" not in names
    pacific = outlines_geojson((170.0, -45.0, 190.0, -10.0))  # across the antimeridian
    names = {f["properties"]["name"] for f in pacific["features"]}
    assert {"Fiji", "New Zealand", "Samoa"} <= names
    assert "France" not in names  # French Polynesia is listed on its own
