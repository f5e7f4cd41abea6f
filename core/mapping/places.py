"""Names drawn on the map beside the pledgers: the largest places in view (from the shipped
gazetteer) and the challenge's own area."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from core.geo.gazetteer import Gazetteer
from core.mapping.departements import Departement, find_departement
from core.models import AreaKind


@dataclass(frozen=True, slots=True)
class PlaceName:
    """A place to name on the map: where it is, its name and its population."""

    latitude: float
    longitude: float
    name: str
    population: int


@dataclass(frozen=True, slots=True)
class MarkedArea:
    """The challenge's own area: a point (its centre) and, for a département, its outline."""

    name: str
    latitude: float
    longitude: float
    departement: Departement | None = None


@cache
def _by_population() -> tuple[PlaceName, ...]:
    """Every place of the gazetteer, most populous first (made once per process)."""
    places = sorted(Gazetteer.default(), key=lambda place: -place.population)
    return tuple(PlaceName(p.latitude, p.longitude, p.name, p.population) for p in places)


def largest_places(
    west: float, south: float, east: float, north: float, limit: int
) -> list[PlaceName]:
    """Up to `limit` places inside the box, most populous first (`east` may pass 180)."""
    found: list[PlaceName] = []
    for place in _by_population():
        longitude = place.longitude if place.longitude >= west else place.longitude + 360
        if south <= place.latitude <= north and longitude <= east:
            found.append(place)
            if len(found) >= limit:
                break
    return found


def marked_area(name: str | None, kind: AreaKind | None) -> MarkedArea | None:
    """The area a challenge names, found offline: a département by name or number, else the
    best commune or city of that name; None for a country-wide or unknown area."""
    if not name or not name.strip() or kind == AreaKind.COUNTRY:
        return None
    departement = find_departement(name) if kind != AreaKind.COMMUNE else None
    if departement is not None:
        return MarkedArea(
            departement.name, departement.latitude, departement.longitude, departement
        )
    found = Gazetteer.default().search(name, limit=1)
    if not found:
        departement = find_departement(name)
        if departement is None:
            return None
        return MarkedArea(
            departement.name, departement.latitude, departement.longitude, departement
        )
    place = found[0]
    return MarkedArea(place.name, place.latitude, place.longitude)
