"""Offline places: typed commune names and postcodes, GPS points snapped to the nearest place."""

from core.geo.gazetteer import Gazetteer, Place, normalize

__all__ = ["Gazetteer", "Place", "normalize"]
