"""Offline gazetteer: typed names and postcodes to coarse places, GPS points snapped to places.

The shipped ``data/places.tsv.gz`` (built by ``scripts/build_gazetteer.py``, sources in
``data/SOURCES.md``) holds every French commune, overseas ones included, and the world's cities
of 15,000 inhabitants or more. It is UTF-8 text, one record a line, tab-separated:

- ``A key name``: a larger area (``fr-dep:69``, ``fr-reg:84``, ``CA-adm1:10``, ``FR``);
- ``P key name country parents latitude longitude population postcodes aliases``: a place, whose
  ``parents`` are area keys (smaller first, comma-separated), ``postcodes`` are space-separated
  and ``aliases`` (other names that lead to it: former communes, arrondissements, names in other
  languages) are ``|``-separated search keys, already passed through :func:`normalize`.

Nothing is downloaded at run time; the file is read once, on first use.
"""

from __future__ import annotations

import gzip
import math
import re
import unicodedata
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from threading import Lock
from typing import TypeVar

DATA_FILE = "places.tsv.gz"
MAX_SNAP_KM = 30.0  # nearest(): farther than this from every known place centre -> None
CELL_CENTIDEGREES = 25  # grid cell of the nearest() index: 0.25 degree
EARTH_RADIUS_KM = 6371.0088
_KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180.0

_FOLD = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "đ": "d", "ł": "l", "ı": "i", "ħ": "h"})
_WORD = re.compile(r"[^\W_]+")
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
_POSTCODE = re.compile(r"\d{5}")
_DEPARTEMENT = re.compile(r"(?:\d{1,3}|2[ab])")  # "93", "974", "2a"; "1" means "01"
_PARENTHESISED = re.compile(r"^(.*\S)\s*\(([^()]*)\)\s*$")
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_K = TypeVar("_K")


def normalize(text: str) -> str:
    """A search key: lower case, no accents, words split on spaces, hyphens and apostrophes.

    "St-Étienne" and "saint etienne" give "saint etienne"; "L'Haÿ-les-Roses" "l hay les roses".
    """
    if text.isascii():
        words = _WORD.findall(text.lower())
    else:
        folded = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
        words = _WORD.findall(_COMBINING.sub("", folded))
    if _ABBREVIATIONS.keys().isdisjoint(words):
        return " ".join(words)
    return " ".join([_ABBREVIATIONS.get(word, word) for word in words])


@dataclass(frozen=True, slots=True)
class Place:
    """A commune or city: what is stored for a person, never a finer point."""

    key: str  # "fr:69123" (INSEE code) or "gn:6077243" (GeoNames id)
    name: str
    country: str  # ISO 3166-1 alpha-2; "FR" for every French commune, overseas ones too
    region: str  # tells homonyms apart: "Rhône (69)", "La Réunion (974)", "Quebec"
    latitude: float  # centre, rounded to 0.01 degree
    longitude: float
    population: int
    parents: tuple[tuple[str, str], ...]  # (key, name) of larger areas, smaller first

    @property
    def label(self) -> str:
        """Name and region, enough to tell it from its homonyms: "Saint-Denis, La Réunion (974)"."""
        return f"{self.name}, {self.region}"


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


_CELL_DEGREES = CELL_CENTIDEGREES / 100
_LON_CELLS = 36000 // CELL_CENTIDEGREES

# Index entries: one place index, or a tuple of them (most names and postcodes are unique).
_Hits = int | tuple[int, ...]


def _add(index: dict[_K, _Hits], key: _K, value: int) -> None:
    found = index.get(key)
    if found is None:
        index[key] = value
    elif isinstance(found, int):
        index[key] = (found, value)
    else:
        index[key] = (*found, value)


def _hits(found: _Hits | None) -> tuple[int, ...]:
    if found is None:
        return ()
    return (found,) if isinstance(found, int) else found


class Gazetteer:
    """Places by key, by (normalised) name, by French postcode and by position.

    Places are kept in columns and made into :class:`Place` objects only when asked for.
    """

    _default: Gazetteer | None = None
    _default_lock = Lock()

    def __init__(self, lines: Iterable[str]) -> None:
        areas: dict[str, str] = {}
        combos: dict[str, int] = {}  # "fr-dep:69,fr-reg:84,FR" -> index in self._parents
        self._parents: list[tuple[tuple[str, str], ...]] = []
        self._regions: list[str] = []
        self._keys: list[str] = []
        self._names: list[str] = []
        self._countries: list[str] = []
        self._combo = array("H")
        self._lat = array("i")  # centidegrees
        self._lon = array("i")
        self._population = array("q")
        self._by_key: dict[str, int] = {}
        self._by_name: dict[str, _Hits] = {}
        self._by_alias: dict[str, _Hits] = {}
        self._by_postcode: dict[str, _Hits] = {}
        self._grid: dict[tuple[int, int], _Hits] = {}
        countries: dict[str, str] = {}
        for line in lines:
            if line.startswith("P\t"):
                _, key, name, country, parent_keys, lat, lon, population, codes, aliases = (
                    line.rstrip("\n").split("\t")
                )
                combo = combos.get(parent_keys)
                if combo is None:
                    combo = combos[parent_keys] = len(self._parents)
                    parents = tuple((k, areas[k]) for k in parent_keys.split(","))
                    self._parents.append(parents)
                    self._regions.append(_region_of(parents))
                index = len(self._keys)
                self._keys.append(key)
                self._names.append(name)
                self._countries.append(countries.setdefault(country, country))
                self._combo.append(combo)
                centi_lat, centi_lon = int(lat.replace(".", "")), int(lon.replace(".", ""))
                self._lat.append(centi_lat)
                self._lon.append(centi_lon)
                self._population.append(int(population))
                self._by_key[key] = index
                _add(self._by_name, normalize(name), index)
                for code in codes.split():
                    _add(self._by_postcode, code, index)
                for alias in aliases.split("|") if aliases else ():
                    _add(self._by_alias, alias, index)  # stored normalised
                cell = (centi_lat // CELL_CENTIDEGREES, centi_lon // CELL_CENTIDEGREES)
                _add(self._grid, cell, index)
            elif line.startswith("A\t"):
                _, key, name = line.rstrip("\n").split("\t")
                areas[key] = name
        self._sorted_names = sorted(self._by_name)

    @classmethod
    def from_path(cls, path: Path) -> Gazetteer:
        """Load a data file in the shipped format."""
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            return cls(lines)

    @classmethod
    def default(cls) -> Gazetteer:
        """The shipped gazetteer, loaded on first use and then shared."""
        if cls._default is None:
            with cls._default_lock:
                if cls._default is None:
                    data = resources.files("core.geo").joinpath("data", DATA_FILE)
                    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
                        cls._default = cls(lines)
        return cls._default

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[Place]:
        return (self._place(index) for index in range(len(self._keys)))

    def get(self, key: str) -> Place | None:
        """The place with this key ("fr:69123", "gn:6077243"), or None."""
        index = self._by_key.get(key)
        return None if index is None else self._place(index)

    def search(self, text: str, limit: int = 8) -> list[Place]:
        """Places a typed postcode or name may mean, most likely first; [] when unknown.

        A 5-digit French postcode gives the communes it serves. A name matches whatever its
        accents, case, hyphens or apostrophes ("saint denis" finds "Saint-Denis"); exact names
        come first, then other known names (former communes, arrondissements, names in other
        languages), each by population. "Saint-Denis (974)", "Saint-Denis 93" or "Paris, Texas"
        keep only the places in that area. With no exact match, names that start with the text.
        """
        if limit <= 0:
            return []
        compact = "".join(text.split())
        if _POSTCODE.fullmatch(compact):
            return self._ranked([_hits(self._by_postcode.get(compact))], limit)
        key = normalize(text)
        if not key:
            return []
        primary, other = self._exact(key)
        if primary or other:
            return self._ranked([primary, other], limit)
        split = _split_qualifier(text)
        if split is not None:
            name, qualifier = split
            tiers = [
                tuple(i for i in tier if self._within(i, qualifier))
                for tier in self._exact(normalize(name))
            ]
            if any(tiers):
                return self._ranked(tiers, limit)
        if len(key) < 3:
            return []
        names = self._sorted_names
        prefixed: list[int] = []
        for position in range(bisect_left(names, key), len(names)):
            if not names[position].startswith(key):
                break
            prefixed.extend(_hits(self._by_name[names[position]]))
        return self._ranked([tuple(prefixed)], limit)

    def nearest(self, latitude: float, longitude: float) -> Place | None:
        """The place whose centre is nearest, or None when none is within ~30 km.

        Raises ValueError for a latitude outside [-90, 90] or a longitude outside [-180, 180].
        """
        if not (-90.0 <= latitude <= 90.0) or not (-180.0 <= longitude <= 180.0):
            raise ValueError(f"coordinates out of range: {latitude}, {longitude}")
        row = math.floor(latitude / _CELL_DEGREES)
        col = math.floor(longitude / _CELL_DEGREES)
        lat_span = math.ceil(MAX_SNAP_KM / _KM_PER_DEGREE / _CELL_DEGREES)
        widest = min(abs(latitude) + lat_span * _CELL_DEGREES, 90.0)
        cos_lat = math.cos(math.radians(widest))
        if cos_lat < 1e-6:
            lon_span = _LON_CELLS // 2
        else:
            lon_span = min(
                math.ceil(MAX_SNAP_KM / (_KM_PER_DEGREE * cos_lat) / _CELL_DEGREES),
                _LON_CELLS // 2,
            )
        best: int | None = None
        best_km = MAX_SNAP_KM
        for r in range(row - lat_span, row + lat_span + 1):
            for c in range(col - lon_span, col + lon_span + 1):
                wrapped = (c + _LON_CELLS // 2) % _LON_CELLS - _LON_CELLS // 2
                for index in _hits(self._grid.get((r, wrapped))):
                    lat, lon = self._lat[index] / 100, self._lon[index] / 100
                    km = distance_km(latitude, longitude, lat, lon)
                    if km <= best_km:
                        best, best_km = index, km
        return None if best is None else self._place(best)

    def _place(self, index: int) -> Place:
        combo = self._combo[index]
        return Place(
            self._keys[index],
            self._names[index],
            self._countries[index],
            self._regions[combo],
            self._lat[index] / 100,
            self._lon[index] / 100,
            self._population[index],
            self._parents[combo],
        )

    def _exact(self, key: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Indexes of places named ``key``, and of places that ``key`` is another name of."""
        return _hits(self._by_name.get(key)), _hits(self._by_alias.get(key))

    def _ranked(self, tiers: list[tuple[int, ...]], limit: int) -> list[Place]:
        """Places tier after tier, each tier by decreasing population, without duplicates."""
        seen: set[int] = set()
        ranked: list[Place] = []
        for tier in tiers:
            for index in sorted(tier, key=lambda i: -self._population[i]):
                if index not in seen:
                    seen.add(index)
                    ranked.append(self._place(index))
                    if len(ranked) == limit:
                        return ranked
        return ranked

    def _within(self, index: int, qualifier: str) -> bool:
        """Whether the place lies in the area a user added after its name ("93", "Texas")."""
        parents = self._parents[self._combo[index]]
        wanted = normalize(qualifier)
        if not wanted:
            return False
        if _DEPARTEMENT.fullmatch(wanted):
            code = wanted.upper().zfill(2)
            return any(key == f"fr-dep:{code}" for key, _ in parents)
        if wanted == self._countries[index].casefold():
            return True
        padded = f" {wanted} "
        return any(padded in f" {normalize(name)} " for _, name in parents)


def _region_of(parents: tuple[tuple[str, str], ...]) -> str:
    """The label that tells homonyms apart: "Rhône (69)" or the first larger area's name."""
    key, name = parents[0]
    if key.startswith("fr-dep:"):
        return f"{name} ({key.removeprefix('fr-dep:')})"
    return name


def _split_qualifier(text: str) -> tuple[str, str] | None:
    """("Saint-Denis", "974") from "Saint-Denis (974)", "Saint-Denis, 974" or "Saint-Denis 974"."""
    stripped = text.strip()
    match = _PARENTHESISED.match(stripped)
    if match:
        return match.group(1), match.group(2)
    if "," in stripped:
        name, _, qualifier = stripped.rpartition(",")
        if name.strip() and qualifier.strip():
            return name, qualifier
    head, _, tail = stripped.rpartition(" ")
    if head.strip() and _DEPARTEMENT.fullmatch(tail.casefold()):
        return head, tail
    return None
