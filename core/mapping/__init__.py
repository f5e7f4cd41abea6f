"""Offline maps: shipped Natural Earth outlines and PNG rendering of pledgers by area."""

from core.mapping.outlines import outlines_geojson
from core.mapping.places import MarkedArea, marked_area
from core.mapping.render import MapPoint, Viewport, draw_map, render_map, view_for

__all__ = [
    "MapPoint",
    "MarkedArea",
    "Viewport",
    "draw_map",
    "marked_area",
    "outlines_geojson",
    "render_map",
    "view_for",
]
