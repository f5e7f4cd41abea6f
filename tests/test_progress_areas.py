"""Counts by place from the progress service: the map's areas, the people near a member, the
organiser's top areas and the goal per area never show an area under KOOM_MAP_MIN_COUNT."""

from __future__ import annotations

import random

from sqlalchemy import update

from core.area_counts import CountedAreas
from core.areas import AreaTotal, near_counts
from core.db.tables import challenges
from core.geo import Gazetteer
from core.models import AreaProgress, Challenge, Location, Member, NearCount
from core.places import place_location, resolve_place, snap
from core.services import Services
from tests.factories import member, open_challenge

LYON, BRON, VILLEURBANNE = "fr:69123", "fr:69029", "fr:69266"


def place(name: str) -> Location:
    """The stored location of the most likely place called `name` ("Lyon", "69500")."""
    return place_location(resolve_place(name)[0])


async def pledge_from(
    services: Services, name: str, challenge: Challenge, where: str | Location
) -> Member:
    """Someone pledges through the services from a place (a name, or a Location)."""
    person = await member(services, name)
    location = place(where) if isinstance(where, str) else where
    person = await services.members.set_location(person.id, location)
    await services.pledges.pledge(person.id, challenge.id)
    return person


async def people(
    services: Services, challenge: Challenge, *places: tuple[str, int]
) -> dict[str, Member]:
    """`count` pledgers from each (place, count), named after their place; the first of each."""
    first: dict[str, Member] = {}
    for name, count in places:
        for i in range(count):
            person = await pledge_from(services, f"{name}-{i}", challenge, name)
            first.setdefault(name, person)
    return first


def shown(areas: list[AreaTotal]) -> list[tuple[str, str, int, int]]:
    return [(a.key, a.label, a.count, a.level) for a in areas]


async def test_areas_under_the_minimum_are_left_out(services: Services) -> None:
    challenge = await open_challenge(services, goal=100)
    await people(services, challenge, ("Lyon", 3), ("Bron", 2), ("Villeurbanne", 1))
    # Bron and Villeurbanne make 3 in the Rhône, but never as a total of their own.
    assert shown(await services.progress.areas(challenge.id)) == [(LYON, "Lyon", 3, 0)]


async def test_a_withdrawal_takes_an_area_off_the_map(services: Services) -> None:
    challenge = await open_challenge(services, goal=100)
    first = await people(services, challenge, ("Lyon", 3))
    assert [a.count for a in await services.progress.areas(challenge.id)] == [3]
    await services.pledges.withdraw(first["Lyon"].id, challenge.id)
    assert await services.progress.areas(challenge.id) == []


async def test_no_pledger_with_a_place_means_no_area(services: Services) -> None:
    challenge = await open_challenge(services, goal=100)
    nobody = await member(services, "nowhere")
    await services.pledges.pledge(nobody.id, challenge.id)
    assert await services.progress.areas(challenge.id) == []


async def test_people_near_a_member_are_their_place_then_a_wider_area(
    services: Services,
) -> None:
    challenge = await open_challenge(services, goal=100)
    first = await people(services, challenge, ("Lyon", 3), ("Bron", 3), ("Villeurbanne", 1))
    in_lyon = await services.progress.of(challenge.id, first["Lyon"])
    # The Rhône adds up the places the map shows: Villeurbanne's 1 is in neither.
    assert in_lyon.near == (NearCount("Lyon", 3, own=True), NearCount("Rhône", 6, own=False))
    # Villeurbanne's 1 is too few to be named: the Rhône alone, and it is not its own count
    in_villeurbanne = await services.progress.of(challenge.id, first["Villeurbanne"])
    assert in_villeurbanne.near == (NearCount("Rhône", 6, own=False),)
    assert (await services.progress.of(challenge.id)).near == ()


async def test_nobody_near_is_shown_under_the_minimum(services: Services) -> None:
    challenge = await open_challenge(services, goal=100)
    first = await people(services, challenge, ("Lyon", 2))
    assert (await services.progress.of(challenge.id, first["Lyon"])).near == ()


async def test_a_cell_far_from_every_place_is_near_without_a_name(services: Services) -> None:
    challenge = await open_challenge(services, goal=100)
    at_sea = snap(40.0, -40.0)  # no place within 30 km: a ~1 km cell
    assert at_sea.key is None and at_sea.area_key == "cell:40.00,-40.00"
    sailors = [await pledge_from(services, f"sailor{i}", challenge, at_sea) for i in range(3)]
    progress = await services.progress.of(challenge.id, sailors[0])
    assert progress.near == (NearCount("", 3, own=True),)
    assert progress.area is None


async def test_organiser_top_areas_never_show_a_count_under_the_minimum(
    services: Services,
) -> None:
    challenge = await open_challenge(services, goal=100)
    await people(services, challenge, ("Lyon", 3), ("Paris", 1), ("Bron", 2), ("Villeurbanne", 1))
    stats = await services.progress.stats(challenge.id)
    assert [(a.label, a.count) for a in stats.top_areas] == [("Lyon", 3)]
    assert all(a.count >= services.settings.map_min_count for a in stats.top_areas)


async def set_area_goal(services: Services, challenge: Challenge, goal: int | None) -> None:
    async with services.db.write() as conn:
        await conn.execute(
            update(challenges).where(challenges.c.id == challenge.id).values(area_goal=goal)
        )


async def test_the_goal_per_area_counts_each_commune_on_its_own(services: Services) -> None:
    challenge = await open_challenge(services, goal=100)
    first = await people(services, challenge, ("Lyon", 3), ("Bron", 2))
    assert (await services.progress.of(challenge.id, first["Lyon"])).area is None  # no goal
    await set_area_goal(services, challenge, 10)
    in_lyon = await services.progress.of(challenge.id, first["Lyon"])
    assert in_lyon.area == AreaProgress("Lyon", 3, 10)
    # Bron's 2: under the minimum, so its progress is not shown (nor merged: it is Bron's)
    assert (await services.progress.of(challenge.id, first["Bron"])).area is None


def test_counted_areas_kept_up_to_date_give_the_same_people_near_as_all_rows() -> None:
    """The sums by larger area, built once then changed row by row (rows crossing the
    minimum both ways, old versions read again late), answer as `near_counts` over the rows
    as they end."""
    gazetteer = Gazetteer.default()
    rng = random.Random(7)
    places = rng.sample([p for p in gazetteer if p.country in ("FR", "BE", "CA")], 400)
    rows = [(p.key, p.name, rng.choice([1, 1, 2, 3, 8])) for p in places]
    rows += [
        ("cell:45.76,4.84", "45.76, 4.84", 2),  # a cell in Lyon
        ("cell:40.00,-40.00", "40.00, -40.00", 3),  # at sea: no place
        ("lyon", "Lyon", 2),  # an old typed name
        ("nowhere", "Xyzzyville", 4),  # unknown
    ]
    members = [*rows[:60], *rows[-4:], ("fr:69123", "Lyon", 0)]
    for min_count in (1, 3, 10):
        counted = CountedAreas(min_count)
        for key, label, count in rows:
            counted.apply(key, label, count, 1)
        final = list(rows)
        for version in range(2, 40):  # the sums exist from the first `near` on
            index = rng.randrange(len(final))
            key, label, count = final[index]
            final[index] = (key, label, max(0, count + rng.choice([-3, -1, 1, 2, 9])))
            counted.apply(*final[index], version)
            counted.apply(key, label, count, version - 1)  # a late read of an older version
            for key, label, _ in members if version % 10 == 0 else ():
                label = "" if key.startswith("cell:") else label
                shown = [row for row in final if row[2] > 0]
                assert counted.near(key, label, gazetteer) == (
                    near_counts(key, label, shown, min_count, gazetteer)
                ), (key, min_count, version)
        assert sorted(counted.rows()) == sorted(row for row in final if row[2] > 0)
        assert counted.seen == 39
