"""Coarse places: a known place's public centre, a typed commune name or a ~1 km cell is all that
is ever stored, never an exact point."""

from __future__ import annotations

import asyncio
import re

from core.errors import Invalid
from core.geo import Gazetteer, Place
from core.models import Location

CELL_DECIMALS = 2  # 0.01 degree: about 1.1 km north-south
MAX_MATCHES = 6  # homonyms offered for one typed name, most populated first
MAX_NAME = 120  # a longer typed place is no place: refused before any parsing
_NAME = re.compile(r"^[^\W\d_][\w' .()-]{0,118}[\w.)]?$", re.UNICODE)


async def load_places() -> Gazetteer:
    """The shipped gazetteer, read in a worker thread the first time (about 2 s) so that the
    event loop keeps serving everyone else meanwhile; then the shared, loaded one."""
    return await asyncio.to_thread(Gazetteer.default)


def resolve_place(text: str, limit: int = MAX_MATCHES) -> list[Place]:
    """The places a typed commune name or postcode may mean, most likely first; [] when
    unknown ("Saint-Denis" gives La Réunion's and Seine-Saint-Denis's, "69001" Lyon)."""
    typed = " ".join(text.split())
    return [] if len(typed) > MAX_NAME else Gazetteer.default().search(typed, limit=limit)


def place_location(place: Place) -> Location:
    """What is stored for a known place: its name, key and public centre (never the point a
    person shared)."""
    return Location(place.name, place.latitude, place.longitude, place.key)


def snap(latitude: float, longitude: float) -> Location:
    """A shared point as the place it lies in (the nearest known place within about 30 km),
    else as its ~1 km cell; out-of-range coordinates are refused."""
    cell = coarse_point(latitude, longitude)
    place = Gazetteer.default().nearest(latitude, longitude)
    return cell if place is None else place_location(place)


def coarse_point(latitude: float, longitude: float) -> Location:
    """A shared point rounded to about 1 km; out-of-range coordinates are refused."""
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        raise Invalid("error.bad_coordinates")
    return Location(None, round(latitude, CELL_DECIMALS), round(longitude, CELL_DECIMALS))


def commune(name: str) -> Location:
    """A typed commune name, tidied ("  saint-étienne " -> "Saint-Étienne"), not looked up
    (a challenge's area as its organiser writes it)."""
    cleaned = " ".join(name.split())
    if not 2 <= len(cleaned) <= MAX_NAME or not _NAME.match(cleaned):
        raise Invalid("error.bad_place_name")
    if cleaned != cleaned.lower():
        return Location(cleaned, None, None)  # the person chose the capitals
    tidy = "-".join(part[:1].upper() + part[1:] for part in cleaned.split("-"))
    tidy = " ".join(word[:1].upper() + word[1:] for word in tidy.split(" "))
    return Location(tidy, None, None)


def stored_location(
    name: str | None, latitude: float | None, longitude: float | None, area_key: str | None
) -> Location | None:
    """The Location kept in a row; its area key names a known place only when it is one
    ("fr:69123"), not a derived name or cell key."""
    if name is None and latitude is None:
        return None
    known = area_key if area_key and ":" in area_key and not area_key.startswith("cell:") else None
    return Location(name, latitude, longitude, known)
