"""`/org` through the real engine: an owner invites an organiser with a one-time code, sees and
manages the staff; another organisation's owner reaches none of it; French and English."""

from __future__ import annotations

import re

from conversations.buttons import pack
from conversations.flows.actions import OrgStaff
from conversations.testing import ChatHarness
from core.services import Services
from core.services.organisations import Actor, OrganisationKind
from tests.factories import member, open_challenge


async def test_owner_invites_manages_and_others_see_nothing(services: Services) -> None:
    carla = await member(services, "carla")
    bob = await member(services, "bob")
    admin = Actor.administrator()
    city = await services.organisations.create(
        admin, "lyon", "Ville de Lyon", OrganisationKind.CITY, carla.id
    )
    await services.organisations.create(admin, "acme", "Acme", OrganisationKind.COMPANY, bob.id)
    challenge = await open_challenge(services, slug="tri-lyon")
    await services.organisations.attach_challenge(admin, city.id, challenge.id)

    harness = ChatHarness(services)
    owner = harness.person("console:carla", name="Carla", lang="en")
    await owner.command("/org")
    assert "Ville de Lyon: you are owner." in owner.last_texts()
    await owner.press("Invite an organiser")
    [code] = re.findall(r"/org join (\w+)", owner.all_text())

    dan = harness.person("console:dan", name="Dan", lang="fr")
    await dan.command(f"/org join {code}")
    assert "Bienvenue dans l'équipe de Ville de Lyon : vous êtes organisateur." in dan.all_text()
    await dan.command(f"/org join {code}")  # spent
    assert "déjà utilisé ou expiré" in dan.last_texts()[0]
    await dan.command("/org")
    assert "Ville de Lyon : vous êtes organisateur." in dan.last_texts()
    assert "Inviter un organisateur" not in str(dan.last_replies())
    await dan.press("Défis")
    assert "Challenge tri-lyon : 0 / 8" in dan.last_texts()

    await owner.command("/org")
    await owner.press("Staff")
    assert owner.last_texts() == ["Carla: owner", "Dan: organiser"]
    await owner.press("Take off the staff")
    assert "no longer on the staff" in owner.last_texts()[0]

    # The other organisation's owner: only Acme, and a forged button into Lyon reveals nothing.
    other = harness.person("console:bob", name="Bob", lang="en")
    await other.command("/org")
    assert other.last_texts() == ["Acme: you are owner."]
    await other.press_id(pack(OrgStaff(city.id)))
    assert "Carla" not in other.all_text()
    assert [s.display_name for s in await services.organisations.staff(admin, city.id)] == ["Carla"]
