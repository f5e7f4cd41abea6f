"""Offline maps: shipped Natural Earth outlines and PNG rendering of pledgers by area."""

from core.mapping.outlines import outlines_geojson
from core.mapping.render import MapPoint, Viewport, render_map, view_for

__all__ = ["MapPoint", "Viewport", "outlines_geojson", "render_map", "view_for"]
