"""Offline PNG map of where a challenge's pledgers are, drawn with Pillow.

Web Mercator, in the centidegree units of :mod:`core.mapping.outlines` (x = 100 * longitude).
The outlines are drawn at twice the size and reduced for anti-aliasing; text is drawn after,
at the final size. Views may extend past the antimeridian (``east`` > 180): outlines are drawn
again shifted by 360 degrees and points are unwrapped into the view.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageDraw, ImageFont, ImagePath

from core import fonts
from core.mapping.departements import projected_departements
from core.mapping.outlines import (
    UNITS,
    BBox,
    Shape,
    latitude_of,
    mercator_y,
    outlines_geojson,
    projected_outlines,
)
from core.mapping.places import MarkedArea, largest_places

__all__ = [
    "MapPoint",
    "MarkedArea",
    "Viewport",
    "draw_map",
    "outlines_geojson",
    "render_map",
    "view_for",
]

SUPERSAMPLE = 2
WORLD = 360 * UNITS
SEA = (211, 230, 243)
LAND = (250, 248, 242)
COAST = (128, 162, 190)
BORDER = (196, 186, 176)
MARKER_FILL = (46, 160, 90, 150)
MARKER_EDGE = (20, 105, 55, 235)
INK = (33, 43, 54)
COUNT_INK = (10, 58, 30)
SOFT_INK = (84, 96, 110)
HALO = (255, 255, 255)
BAND = (255, 255, 255, 222)
DEPARTEMENT_LINE = (222, 212, 200)
AREA_FILL = (255, 214, 120, 110)
AREA_EDGE = (214, 120, 0)
PLACE_INK = (96, 104, 112)

MIN_SPAN_KM = 30.0  # a single city still shows about this much around it
KM_PER_UNIT = 40_075.0 / WORLD  # at the equator
DEFAULT_VIEW: BBox = (-5.3, 41.2, 9.7, 51.3)  # France with Corsica, when there is nobody yet
WORLD_VIEW: BBox = (-180.0, -56.0, 180.0, 80.0)  # world views show these latitudes if they can
MAX_LABELS = 12  # on a 1200 x 800 image; fewer on smaller ones
DEPARTEMENTS_BELOW = 25.0  # degrees of longitude in view: French départements are outlined
DEPARTEMENT_NAMES_BELOW = 6.0  # ... and named

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class MapPoint:
    """People in one area: its (coarse) position, how many, and its name."""

    latitude: float
    longitude: float
    count: int
    label: str


@dataclass(frozen=True, slots=True)
class Layout:
    """Pixel sizes derived from the image size."""

    width: int
    height: int

    @property
    def unit(self) -> float:
        return min(self.width, self.height) / 100

    @property
    def header(self) -> int:
        return round(self.unit * 8.5)

    @property
    def footer(self) -> int:
        return round(self.unit * 6)

    @property
    def max_radius(self) -> float:
        return self.unit * 5.5

    @property
    def margin(self) -> float:
        return self.max_radius + self.unit

    @property
    def max_labels(self) -> int:
        return max(3, round(MAX_LABELS * math.sqrt(self.width * self.height / (1200 * 800))))


@dataclass(frozen=True, slots=True)
class Viewport:
    """What the image shows: ``scale`` pixels per Mercator unit, top-left corner at x0, y0."""

    width: int
    height: int
    scale: float
    x0: float
    y0: float

    @property
    def bbox(self) -> BBox:
        """West, south, east, north in degrees (east may pass 180 across the antimeridian)."""
        x1, y1 = self.x0 + self.width / self.scale, self.y0 - self.height / self.scale
        return (self.x0 / UNITS, latitude_of(y1), x1 / UNITS, latitude_of(self.y0))

    def x_of(self, longitude: float) -> float:
        """Mercator x of a longitude, wrapped by 360 degrees to land in (or nearest) the view."""
        x = longitude * UNITS
        return x + WORLD * math.floor((self.x0 + self.width / self.scale / 2 - x) / WORLD + 0.5)

    def pixel(self, latitude: float, longitude: float) -> tuple[float, float]:
        """Where a point is drawn, in pixels from the top-left corner."""
        return (
            (self.x_of(longitude) - self.x0) * self.scale,
            (self.y0 - mercator_y(latitude)) * self.scale,
        )


def _people(points: Iterable[MapPoint]) -> list[MapPoint]:
    """The points worth drawing: someone there, and a real position."""
    return [
        p
        for p in points
        if p.count > 0 and math.isfinite(p.latitude) and math.isfinite(p.longitude)
    ]


def _longitude_range(longitudes: Iterable[float]) -> tuple[float, float]:
    """The narrowest west-east range holding every longitude (east may pass 180)."""
    lons = sorted({((lon + 180) % 360) - 180 for lon in longitudes})
    gaps = [(lons[0] + 360 - lons[-1], len(lons) - 1)]
    gaps += [(b - a, i) for i, (a, b) in enumerate(itertools.pairwise(lons))]
    _, i = max(gaps)
    if i == len(lons) - 1:
        return lons[0], lons[-1]
    return lons[i + 1], lons[i] + 360


def _min_span(latitude: float) -> float:
    """MIN_SPAN_KM in Mercator units at a latitude."""
    return MIN_SPAN_KM / KM_PER_UNIT / max(0.05, math.cos(math.radians(latitude)))


def view_for(
    points: Sequence[MapPoint],
    width: int = 1200,
    height: int = 800,
    area: MarkedArea | None = None,
) -> Viewport:
    """Zoom onto the points and the challenge's area (padded, at least MIN_SPAN_KM, at most
    the whole world).

    With neither: France and its neighbours. Points spread over more than half of the world's
    longitudes get the whole world, centred on Greenwich.
    """
    layout = Layout(width, height)
    people = _people(points)
    if area is not None:
        people.append(MapPoint(area.latitude, area.longitude, 1, area.name))
        if area.departement is not None:
            west, south, east, north = area.departement.bbox
            people += [MapPoint(south, west, 1, ""), MapPoint(north, east, 1, "")]
    if people:
        west, east = _longitude_range(p.longitude for p in people)
        south = min(p.latitude for p in people)
        north = max(p.latitude for p in people)
    else:
        west, south, east, north = DEFAULT_VIEW
    x_lo, x_hi = west * UNITS, east * UNITS
    y_lo, y_hi = mercator_y(south), mercator_y(north)
    worldwide = x_hi - x_lo > WORLD / 2
    if worldwide:
        x_lo, x_hi = -180.0 * UNITS, 180.0 * UNITS
        y_lo, y_hi = min(y_lo, mercator_y(WORLD_VIEW[1])), max(y_hi, mercator_y(WORLD_VIEW[3]))
    minimum = _min_span((south + north) / 2)
    span_x, span_y = max(x_hi - x_lo, minimum), max(y_hi - y_lo, minimum)
    top, bottom = layout.header, height - layout.footer
    margin = layout.margin if people and not worldwide else 0.0
    inner_w, inner_h = width - 2 * margin, (bottom - top) - 2 * margin
    scale = min(inner_w / span_x, inner_h / span_y)
    scale = max(scale, width / WORLD)  # never repeat the world side by side
    cx, cy = (x_lo + x_hi) / 2, (y_lo + y_hi) / 2
    x0 = cx - width / 2 / scale
    y0 = cy + ((top + bottom) / 2) / scale
    # Keep inside the Mercator square vertically when the view is small enough to allow it.
    y_max, y_min = mercator_y(85), mercator_y(-85)
    if height / scale < y_max - y_min:
        y0 = min(y0, y_max)
        y0 = max(y0, y_min + height / scale)
    return Viewport(width, height, scale, x0, y0)


@dataclass(slots=True)
class Cluster:
    """Points drawn as one marker: anchored on the largest, named after it."""

    x: float
    y: float
    count: int
    label: str
    radius: float = 0.0


def _clusters(points: Sequence[MapPoint], view: Viewport, layout: Layout) -> list[Cluster]:
    """Merge each point into a bigger marker covering it, if any (its centre within 70 %)."""
    people = sorted(_people(points), key=lambda p: -p.count)
    if not people:
        return []
    unit = _radius_unit(people[0].count, layout)
    smallest = layout.unit * 1.2  # points closer than this always merge
    cell = max(smallest, 0.7 * layout.max_radius)  # no merge reaches beyond one cell
    grid: dict[tuple[int, int], list[tuple[Cluster, list[float]]]] = {}
    clusters: list[Cluster] = []
    for point in people:
        x, y = view.pixel(point.latitude, point.longitude)
        gx, gy = int(x // cell), int(y // cell)
        best: tuple[Cluster, list[float]] | None = None
        best_distance = math.inf
        for i in (gx - 1, gx, gx + 1):
            for j in (gy - 1, gy, gy + 1):
                for entry in grid.get((i, j), ()):
                    other = entry[0]
                    distance = (other.x - x) ** 2 + (other.y - y) ** 2
                    if distance <= entry[1][0] and distance < best_distance:
                        best, best_distance = entry, distance
        if best is None:
            cluster = Cluster(x, y, point.count, point.label)
            clusters.append(cluster)
            reach = min(cell, max(smallest, 0.7 * _radius(point.count, unit, layout)))
            grid.setdefault((gx, gy), []).append((cluster, [reach * reach]))
        else:
            best[0].count += point.count
            reach = max(smallest, 0.7 * _radius(best[0].count, unit, layout))
            best[1][0] = min(cell, reach) ** 2
    unit = _radius_unit(max(c.count for c in clusters), layout)
    for cluster in clusters:
        cluster.radius = _radius(cluster.count, unit, layout)
    clusters.sort(key=lambda c: -c.count)
    return clusters


def _radius_unit(largest: int, layout: Layout) -> float:
    """Radius of a one-person marker: area is proportional to the count, largest capped."""
    return min(layout.unit * 0.9, layout.max_radius / math.sqrt(largest))


def _radius(count: int, unit: float, layout: Layout) -> float:
    return max(layout.unit * 0.4, unit * math.sqrt(count))


def _draw_outlines(image: Image.Image, view: Viewport, area: MarkedArea | None) -> None:
    """Land, (when close enough) French départements and the challenge's own one, borders and
    coasts inside the view, in supersampled pixels."""
    draw = ImageDraw.Draw(image, "RGBA")
    projected = projected_outlines()
    scale = view.scale * SUPERSAMPLE
    x1, y1 = view.x0 + view.width / view.scale, view.y0 - view.height / view.scale
    tiny = 1 / scale  # shapes below a supersampled pixel are skipped
    line = max(1, round(SUPERSAMPLE * 0.9))
    layers: list[tuple[tuple[Shape, ...], str, tuple[int, ...], int]] = [
        (projected.land, "fill", LAND, 0),
        (projected.borders, "line", BORDER, line),
        (projected.coasts, "line", COAST, line),
    ]
    west, _, east, _ = view.bbox
    if east - west < DEPARTEMENTS_BELOW:
        departements = projected_departements()
        mine = area.departement if area is not None else None
        outlined = tuple(shape for _, shapes in departements for shape in shapes)
        tinted = tuple(shape for dep, shapes in departements if dep == mine for shape in shapes)
        layers[1:1] = [(tinted, "fill", AREA_FILL, 0), (outlined, "ring", DEPARTEMENT_LINE, line)]
        layers.append((tinted, "ring", AREA_EDGE, 2 * line))
    half = WORLD / 2
    shifts = [s for s in (-WORLD, 0, WORLD) if view.x0 < half + s and x1 > s - half]
    for shapes, how, colour, width in layers:
        for shift in shifts:
            left, right = view.x0 - shift, x1 - shift
            matrix = (scale, 0.0, (shift - view.x0) * scale, 0.0, -scale, view.y0 * scale)
            for shape in shapes:
                bx0, by0, bx1, by1 = shape.bbox
                if bx0 > right or bx1 < left or by0 > view.y0 or by1 < y1:
                    continue
                if bx1 - bx0 < tiny and by1 - by0 < tiny:
                    continue
                path = ImagePath.Path(shape.path)
                path.transform(matrix)
                path.compact(1)
                if len(path) < 2:
                    continue
                if how == "fill":
                    draw.polygon(path, fill=colour)
                elif how == "ring":
                    draw.polygon(path, outline=colour, width=width)
                else:
                    draw.line(path, fill=colour, width=width)


def _draw_markers(image: Image.Image, clusters: Sequence[Cluster], layout: Layout) -> None:
    draw = ImageDraw.Draw(image, "RGBA")
    edge = max(1, round(SUPERSAMPLE * layout.unit * 0.15))
    for cluster in clusters:  # largest first: small markers stay visible on top
        x, y, r = (v * SUPERSAMPLE for v in (cluster.x, cluster.y, cluster.radius))
        draw.ellipse(
            (x - r, y - r, x + r, y + r), fill=MARKER_FILL, outline=MARKER_EDGE, width=edge
        )


def _font(size: int, bold: bool) -> Font:
    """The shipped DejaVu Sans (core/fonts)."""
    return fonts.font(size, bold)


def format_count(count: int, font: Font | None = None) -> str:
    """Digits grouped by narrow spaces, readable in every language (SI style).

    A plain space when ``font`` has no narrow no-break space (Pillow's own font).
    """
    space = "\u202f" if font is None or _has_narrow_space(font) else " "
    return f"{count:,}".replace(",", space)


@cache
def _has_narrow_space(font: Font) -> bool:
    return font.getmask("\u202f").getbbox() is None  # blank, not the missing-glyph box


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _hits_disc(box: Box, x: float, y: float, r: float) -> bool:
    nearest_x, nearest_y = min(max(x, box[0]), box[2]), min(max(y, box[1]), box[3])
    return (nearest_x - x) ** 2 + (nearest_y - y) ** 2 < r * r


Disc = tuple[float, float, float, int]


def _draw_labels(
    image: Image.Image, clusters: Sequence[Cluster], layout: Layout
) -> tuple[list[Box], list[Disc], list[str]]:
    """Counts inside big markers; names (and counts when not inside) of the largest areas.

    A name goes right, left, above or below its marker, wherever it hits neither the bands,
    another label or count, nor another sizeable marker; else it is left out. Returns the boxes
    taken, the sizeable markers and the names drawn.
    """
    draw = ImageDraw.Draw(image)
    names: list[str] = []
    halo = max(1, round(layout.unit * 0.3))
    inside_font = _font(max(9, round(layout.unit * 1.7)), True)
    name_font = _font(max(9, round(layout.unit * 1.8)), True)
    taken: list[Box] = [
        (0, 0, layout.width, layout.header),
        (0, layout.height - layout.footer, layout.width, layout.height),
    ]
    counted: set[int] = set()
    for index, cluster in enumerate(clusters):
        if cluster.radius < layout.unit * 1.2:
            break  # sorted by size: no count fits in the rest
        text = format_count(cluster.count, inside_font)
        if draw.textlength(text, font=inside_font) + layout.unit <= 1.6 * cluster.radius:
            xy = (cluster.x, cluster.y)
            taken.append(draw.textbbox(xy, text, font=inside_font, anchor="mm"))
            draw.text(xy, text, font=inside_font, anchor="mm", fill=COUNT_INK)
            counted.add(index)
    discs = [(c.x, c.y, c.radius, i) for i, c in enumerate(clusters) if c.radius > layout.unit]
    placed = 0
    for index, cluster in enumerate(clusters):
        if placed >= layout.max_labels:
            break
        name = " ".join(cluster.label.split())
        if index not in counted:
            name = f"{name} · {format_count(cluster.count, name_font)}" if name else ""
        if not name:
            continue
        gap = cluster.radius + layout.unit * 0.5
        candidates = [
            ((cluster.x + gap, cluster.y), "lm"),
            ((cluster.x - gap, cluster.y), "rm"),
            ((cluster.x, cluster.y - gap), "md"),
            ((cluster.x, cluster.y + gap), "ma"),
        ]
        for xy, anchor in candidates:
            x0, y0, x1, y1 = draw.textbbox(xy, name, font=name_font, anchor=anchor)
            if anchor[0] == "m":  # centred above or below: slide back inside the image
                shift = max(0.0, halo - x0) - max(0.0, x1 + halo - layout.width)
                xy, x0, x1 = (xy[0] + shift, xy[1]), x0 + shift, x1 + shift
            space = halo + layout.unit * 0.3
            box = (x0 - space, y0 - space, x1 + space, y1 + space)
            if (
                box[0] < 0
                or box[2] > layout.width
                or any(_overlaps(box, t) for t in taken)
                or any(_hits_disc(box, x, y, r) for x, y, r, i in discs if i != index)
            ):
                continue
            draw.text(
                xy,
                name,
                font=name_font,
                anchor=anchor,
                fill=INK,
                stroke_width=halo,
                stroke_fill=HALO,
            )
            taken.append(box)
            names.append(name)
            placed += 1
            break
    return taken, discs, names


def _free(box: Box, layout: Layout, taken: list[Box], discs: list[Disc]) -> bool:
    return (
        box[0] >= 0
        and box[2] <= layout.width
        and not any(_overlaps(box, t) for t in taken)
        and not any(_hits_disc(box, x, y, r) for x, y, r, _ in discs)
    )


def _draw_names(
    image: Image.Image,
    view: Viewport,
    layout: Layout,
    area: MarkedArea | None,
    labels: tuple[list[Box], list[Disc], list[str]],
) -> list[str]:
    """The challenge's own area (a pin and its name), then the largest places in view (a dot
    and a name) and, close up, the départements' names, wherever they fit; `labels` are the
    markers' (see :func:`_draw_labels`). Returns the names drawn."""
    taken, discs, names = labels
    draw = ImageDraw.Draw(image, "RGBA")
    halo = max(1, round(layout.unit * 0.3))
    drawn: list[str] = []
    west, _, east, _ = view.bbox
    top = latitude_of(view.y0 - layout.header / view.scale)
    bottom = latitude_of(view.y0 - (layout.height - layout.footer) / view.scale)

    def put(x: float, y: float, text: str, font: Font, ink: tuple[int, ...], gap: float) -> bool:
        for xy, anchor in (((x + gap, y), "lm"), ((x - gap, y), "rm"), ((x, y - gap), "md")):
            x0, y0, x1, y1 = draw.textbbox(xy, text, font=font, anchor=anchor)
            space = halo + layout.unit * 0.3
            box = (x0 - space, y0 - space, x1 + space, y1 + space)
            if _free(box, layout, taken, discs):
                draw.text(
                    xy,
                    text,
                    font=font,
                    anchor=anchor,
                    fill=ink,
                    stroke_width=halo,
                    stroke_fill=HALO,
                )
                taken.append(box)
                drawn.append(text)
                return True
        return False

    named = {name.split(" · ")[0] for name in names}
    if area is not None:
        x, y = view.pixel(area.latitude, area.longitude)
        covering = [d for d in discs if (d[0] - x) ** 2 + (d[1] - y) ** 2 < d[2] ** 2]
        if area.departement is not None:
            pass  # tinted with its outline
        elif covering:  # ring the marker holding the area
            cx, cy, r, _ = min(covering, key=lambda d: d[2])
            r += 2
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=AREA_EDGE, width=3)
        else:
            r = layout.unit * 0.9
            draw.ellipse((x - r, y - r, x + r, y + r), fill=HALO, outline=AREA_EDGE, width=3)
            draw.ellipse((x - r / 2.5, y - r / 2.5, x + r / 2.5, y + r / 2.5), fill=AREA_EDGE)
        if area.name not in named:
            font = _font(max(10, round(layout.unit * 2.1)), True)
            put(x, y, area.name, font, AREA_EDGE, layout.unit * 1.3)
        named.add(area.name)
    place_font = _font(max(9, round(layout.unit * 1.6)), False)
    dot = max(1.5, layout.unit * 0.35)
    limit = max(3, layout.max_labels // 2)
    shown = 0
    for place in largest_places(west, bottom, east, top, limit * 3):
        if shown >= limit:
            break
        if place.name in named:
            continue
        x, y = view.pixel(place.latitude, place.longitude)
        if put(x, y, place.name, place_font, PLACE_INK, dot * 2.5):
            draw.ellipse((x - dot, y - dot, x + dot, y + dot), fill=PLACE_INK)
            shown += 1
    if east - west < DEPARTEMENT_NAMES_BELOW:
        dep_font = _font(max(9, round(layout.unit * 1.5)), False)
        for departement, _ in projected_departements():
            if not (bottom < departement.latitude < top and west < departement.longitude < east):
                continue
            x, y = view.pixel(departement.latitude, departement.longitude)
            if departement.name not in named:
                put(x, y, departement.name.upper(), dep_font, (*PLACE_INK, 170), 0)
    return drawn


def fit(text: str, size: int, bold: bool, room: float) -> tuple[str, int]:
    """The text and a font size so it fits ``room`` pixels (emoji included): smaller font
    first, then an ellipsis."""
    text = " ".join(text.split())
    for candidate in (size, round(size * 0.85), round(size * 0.72)):
        if fonts.text_width(text, candidate, bold) <= room:
            return text, candidate
    while text and fonts.text_width(text + "…", candidate, bold) > room:
        text = text[:-1]
    return text.rstrip() + "…", candidate


def _scale_bar(view: Viewport) -> tuple[float, str] | None:
    """Length in pixels and text of a round distance about a sixth of the width, if meaningful."""
    west, south, east, north = view.bbox
    if east - west > 60:
        return None  # Mercator distances vary too much across a continent-wide view
    km_per_pixel = KM_PER_UNIT * math.cos(math.radians((south + north) / 2)) / view.scale
    target = view.width / 6 * km_per_pixel
    magnitude = 10 ** math.floor(math.log10(target))
    km = max(step * magnitude for step in (1, 2, 5) if step * magnitude <= target)
    text = f"{km:g} km" if km >= 1 else f"{km * 1000:g} m"
    return km / km_per_pixel, text


def _draw_frame(
    image: Image.Image, view: Viewport, layout: Layout, title: str, caption: str
) -> None:
    """Title band at the top, caption band (with a scale bar) at the bottom."""
    draw = ImageDraw.Draw(image, "RGBA")
    pad = layout.unit * 2
    draw.rectangle((0, 0, layout.width, layout.header), fill=BAND)
    draw.line((0, layout.header, layout.width, layout.header), fill=(*COAST, 120), width=1)
    bottom = layout.height - layout.footer
    draw.rectangle((0, bottom, layout.width, layout.height), fill=BAND)
    draw.line((0, bottom, layout.width, bottom), fill=(*COAST, 120), width=1)
    bar = _scale_bar(view)
    bar_room = layout.width * 0.22 if bar else 0
    if title:
        text, size = fit(title, round(layout.unit * 3.6), True, layout.width - 2 * pad)
        fonts.draw_text(
            draw, (pad, layout.header / 2), text, size, bold=True, fill=INK, anchor="lm"
        )
    if caption:
        room = layout.width - 2 * pad - bar_room
        text, size = fit(caption, round(layout.unit * 2.4), False, room)
        xy = (pad, bottom + layout.footer / 2)
        fonts.draw_text(draw, xy, text, size, fill=SOFT_INK, anchor="lm")
    if bar:
        length, label = bar
        font = _font(max(9, round(layout.unit * 1.6)), False)
        x1 = layout.width - pad
        x0 = x1 - length
        y = bottom + layout.footer * 0.62
        tick = layout.unit * 0.6
        draw.line((x0, y, x1, y), fill=SOFT_INK, width=2)
        draw.line((x0, y - tick, x0, y), fill=SOFT_INK, width=2)
        draw.line((x1, y - tick, x1, y), fill=SOFT_INK, width=2)
        draw.text(((x0 + x1) / 2, y - tick), label, font=font, fill=SOFT_INK, anchor="md")


def render_map(
    points: Sequence[MapPoint],
    *,
    title: str,
    caption: str,
    width: int = 1200,
    height: int = 800,
    area: MarkedArea | None = None,
) -> bytes:
    """A PNG of the points on the shipped outlines, zoomed onto them (see :func:`view_for`).

    One marker per area (merged when they would overlap at this zoom), its area proportional
    to the count; counts inside big markers; the largest areas named. ``title`` goes top left,
    ``caption`` (already translated, e.g. "1 234 people act · 26 November 2026") at the bottom.
    ``area``, the challenge's own, is marked (its département tinted) and kept in view. Close
    up, French départements are outlined; the largest places in view are named.
    """
    image, _ = draw_map(points, title=title, caption=caption, size=(width, height), area=area)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def draw_map(
    points: Sequence[MapPoint],
    *,
    title: str,
    caption: str,
    size: tuple[int, int] = (1200, 800),
    area: MarkedArea | None = None,
) -> tuple[Image.Image, list[str]]:
    """The picture of :func:`render_map`, and every name written on it."""
    width, height = size
    layout = Layout(width, height)
    view = view_for(points, width, height, area)
    clusters = _clusters(points, view, layout)
    image = Image.new("RGB", (width * SUPERSAMPLE, height * SUPERSAMPLE), SEA)
    _draw_outlines(image, view, area)
    _draw_markers(image, clusters, layout)
    image = image.resize((width, height), Image.Resampling.LANCZOS)
    _draw_frame(image, view, layout, title, caption)
    labels = _draw_labels(image, clusters, layout)
    return image, labels[2] + _draw_names(image, view, layout, area, labels)
