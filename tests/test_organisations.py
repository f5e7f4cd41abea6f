"""Organisations: two of them in one deployment cannot see or manage each other's challenges,
audiences, groups or staff; owners manage their organisers; administrators do everything."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from core.db.tables import challenges
from core.errors import Conflict, Forbidden, Invalid
from core.identity import ChatRef, Platform
from core.services import Services
from core.services.organisations import Actor, Organisation, OrganisationKind, Role
from tests.factories import member, open_challenge

ADMIN = Actor.administrator()


async def two_organisations(services: Services) -> tuple[Organisation, Organisation]:
    """A city owned by Carla and a company owned by Bob."""
    carla = await member(services, "carla")
    bob = await member(services, "bob")
    city = await services.organisations.create(
        ADMIN, "lyon", "Ville de Lyon", OrganisationKind.CITY, carla.id, colour="#0055aa"
    )
    company = await services.organisations.create(
        ADMIN, "acme", "Acme", OrganisationKind.COMPANY, bob.id
    )
    return city, company


async def test_only_administrators_create_organisations(services: Services) -> None:
    carla = await member(services, "carla")
    with pytest.raises(Forbidden):
        await services.organisations.create(
            Actor(carla.id), "lyon", "Lyon", OrganisationKind.CITY, carla.id
        )
    await services.organisations.create(ADMIN, "lyon", "Lyon", OrganisationKind.CITY, carla.id)
    with pytest.raises(Conflict):
        await services.organisations.create(ADMIN, "lyon", "Other", OrganisationKind.CITY, carla.id)
    with pytest.raises(Invalid):
        await services.organisations.create(
            ADMIN, "x y", "Bad slug", OrganisationKind.CITY, carla.id
        )
    with pytest.raises(Invalid):
        await services.organisations.create(
            ADMIN, "paris", "Paris", OrganisationKind.CITY, carla.id, colour="blue"
        )
    assert [o.slug for o, role in await services.organisations.of_member(carla.id)] == ["lyon"]


async def test_owners_manage_organisers_and_keep_one_owner(services: Services) -> None:
    city, _ = await two_organisations(services)
    carla_id = (await member(services, "carla")).id
    carla = Actor(carla_id)
    dan = await member(services, "dan")
    await services.organisations.set_role(carla, city.id, dan.id, Role.ORGANISER)
    staff = await services.organisations.staff(carla, city.id)
    assert [(s.display_name, s.role) for s in staff] == [
        ("Carla", Role.OWNER),
        ("Dan", Role.ORGANISER),
    ]
    # An organiser is staff but does not manage people.
    with pytest.raises(Forbidden):
        await services.organisations.set_role(Actor(dan.id), city.id, dan.id, Role.OWNER)
    with pytest.raises(Forbidden):
        await services.organisations.remove(Actor(dan.id), city.id, carla_id)
    # The last owner stays.
    with pytest.raises(Conflict):
        await services.organisations.remove(carla, city.id, carla_id)
    with pytest.raises(Conflict):
        await services.organisations.set_role(carla, city.id, carla_id, Role.ORGANISER)
    await services.organisations.remove(carla, city.id, dan.id)
    assert [s.display_name for s in await services.organisations.staff(carla, city.id)] == ["Carla"]
    header = await services.organisations.set_header(
        carla, city.id, contact="mairie@lyon.fr", privacy_url="https://lyon.fr/privacy"
    )
    assert header.contact == "mairie@lyon.fr" and header.colour == "#0055aa"


async def test_two_organisations_cannot_reach_each_other(services: Services) -> None:
    city, company = await two_organisations(services)
    carla = Actor((await member(services, "carla")).id)
    bob_member = await member(services, "bob")
    bob = Actor(bob_member.id)
    lyon = await open_challenge(services, slug="tri-lyon")
    staff_challenge = await open_challenge(services, slug="velo-acme")
    await services.organisations.attach_challenge(ADMIN, city.id, lyon.id)
    await services.organisations.attach_challenge(ADMIN, company.id, staff_challenge.id)

    assert [c.slug for c in await services.organisations.challenges(carla, city.id)] == ["tri-lyon"]
    assert await services.organisations.may_manage(carla, lyon.id)
    assert not await services.organisations.may_manage(carla, staff_challenge.id)
    assert await services.organisations.may_manage(bob, staff_challenge.id)
    assert not await services.organisations.may_manage(bob, lyon.id)
    assert await services.organisations.may_manage(ADMIN, lyon.id)

    # Challenges, staff, groups and audiences of the other organisation are out of reach.
    with pytest.raises(Forbidden):
        await services.organisations.challenges(bob, city.id)
    with pytest.raises(Forbidden):
        await services.organisations.staff(bob, city.id)
    with pytest.raises(Forbidden):
        await services.organisations.set_role(bob, city.id, bob_member.id, Role.OWNER)
    with pytest.raises(Forbidden):
        await services.organisations.attach_challenge(bob, company.id, lyon.id)
    with pytest.raises(Forbidden):
        await services.organisations.check_broadcast(bob, lyon.id)
    await services.organisations.check_broadcast(bob, staff_challenge.id)
    # Every member is the deployment's audience: administrators alone.
    with pytest.raises(Forbidden):
        await services.organisations.check_broadcast(bob, None)
    await services.organisations.check_broadcast(ADMIN, None)

    group = await services.groups.register(ChatRef(Platform.TELEGRAM, "-100", True), "Acme staff")
    await services.organisations.add_group(bob, company.id, group.id)
    assert [g.title for g in await services.organisations.groups(bob, company.id)] == ["Acme staff"]
    with pytest.raises(Forbidden):
        await services.organisations.groups(carla, company.id)
    with pytest.raises(Conflict):
        await services.organisations.add_group(carla, city.id, group.id)
    # A challenge of the deployment (no organisation) is for administrators only.
    public = await open_challenge(services, slug="public")
    assert not await services.organisations.may_manage(bob, public.id)


async def test_staff_attach_only_the_challenges_they_created(services: Services) -> None:
    city, _ = await two_organisations(services)
    carla = await member(services, "carla")
    mine = await open_challenge(services, slug="mine")
    other = await open_challenge(services, slug="other")
    await services.db.transaction(
        lambda conn: conn.execute(
            update(challenges).where(challenges.c.id == mine.id).values(created_by=carla.id)
        )
    )
    await services.organisations.attach_challenge(Actor(carla.id), city.id, mine.id)
    with pytest.raises(Forbidden):
        await services.organisations.attach_challenge(Actor(carla.id), city.id, other.id)
    assert [c.slug for c in await services.organisations.challenges(ADMIN, city.id)] == ["mine"]
