"""Private challenges: open to their organisation's members only (by an invitation code, or
by being in a group the organisation owns), invisible to everyone else on every surface of
the services and the chat, as a challenge that does not exist; SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest

from conversations.testing import ChatHarness, choices
from core.errors import Forbidden, Invalid
from core.i18n import Translator
from core.identity import ChatRef, Platform
from core.models import Group, Visibility
from core.services import Services
from core.services.broadcasts import Audience
from core.services.organisations import Actor, Organisation, OrganisationKind, Role
from tests.factories import member, open_challenge

ADMIN = Actor.administrator()
NOT_FOUND = "Je ne connais aucun défi nommé « {} »."


async def two_organisations(services: Services) -> tuple[Organisation, Organisation]:
    """Lyon (owner Carla) and Acme (owner Bob), each with a private challenge, and one
    public challenge of nobody."""
    carla = await member(services, "carla")
    bob = await member(services, "bob")
    lyon = await services.organisations.create(
        ADMIN, "lyon", "Ville de Lyon", OrganisationKind.CITY, carla.id
    )
    acme = await services.organisations.create(
        ADMIN, "acme", "Acme", OrganisationKind.COMPANY, bob.id
    )
    for organisation, slug in ((lyon, "agents-lyon"), (acme, "staff-acme")):
        challenge = await open_challenge(services, slug=slug)
        await services.organisations.attach_challenge(ADMIN, organisation.id, challenge.id)
        await services.organisations.set_visibility(ADMIN, challenge.id, Visibility.MEMBERS)
    await open_challenge(services, slug="tri-public")
    return lyon, acme


def slugs(found: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(c.slug for c in found)


async def test_lists_search_and_totals_show_private_ones_to_members_only(
    services: Services,
) -> None:
    lyon, acme = await two_organisations(services)
    challenges = services.challenges
    assert slugs(await challenges.list_open(0, 10)) == ["tri-public"]
    assert await challenges.count_open() == 1
    assert slugs(await challenges.search("challenge", 10)) == ["tri-public"]
    assert await services.progress.totals() == (1, 0)

    dora = await member(services, "dora")
    assert await services.membership.organisations_of(dora.id) == frozenset()
    code = await services.organisations.invite(ADMIN, lyon.id, Role.MEMBER)
    organisation, role = await services.organisations.join(dora.id, code)
    assert (organisation.slug, role) == ("lyon", Role.MEMBER)
    mine = await services.membership.organisations_of(dora.id)
    assert mine == frozenset({lyon.id})
    assert slugs(await challenges.list_open(0, 10, mine)) == ["agents-lyon", "tri-public"]
    assert await challenges.count_open(mine) == 2
    assert slugs(await challenges.search("agents", 10, mine)) == ["agents-lyon"]
    assert await challenges.search("staff", 10, mine) == []

    # The members' code is for many; a member is no staff.
    eve = await member(services, "eve")
    await services.organisations.join(eve.id, code)
    assert await services.membership.organisations_of(eve.id) == frozenset({lyon.id})
    assert [s.display_name for s in await services.organisations.staff(ADMIN, lyon.id)] == ["Carla"]
    assert await services.organisations.of_member(dora.id) == []
    assert acme.id not in mine


async def test_joining_as_member_keeps_a_higher_role(services: Services) -> None:
    lyon, _ = await two_organisations(services)
    dan = await member(services, "dan")
    await services.organisations.set_role(ADMIN, lyon.id, dan.id, Role.ORGANISER)
    code = await services.organisations.invite(ADMIN, lyon.id, Role.MEMBER)
    _, role = await services.organisations.join(dan.id, code)
    assert role is Role.ORGANISER
    assert [s.role for s in await services.organisations.staff(ADMIN, lyon.id)] == [
        Role.OWNER,
        Role.ORGANISER,
    ]


async def test_only_its_staff_make_a_challenge_private(services: Services) -> None:
    lyon, acme = await two_organisations(services)
    bob = await member(services, "bob")
    carla = await member(services, "carla")
    public = await services.challenges.by_slug("tri-public")
    with pytest.raises(Invalid):  # no organisation: no members to open it to
        await services.organisations.set_visibility(ADMIN, public.id, Visibility.MEMBERS)
    agents = await services.challenges.by_slug("agents-lyon")
    with pytest.raises(Forbidden):
        await services.organisations.set_visibility(Actor(bob.id), agents.id, Visibility.PUBLIC)
    assert (await services.challenges.get(agents.id)).private
    opened = await services.organisations.set_visibility(
        Actor(carla.id), agents.id, Visibility.PUBLIC
    )
    assert not opened.private
    assert "agents-lyon" in slugs(await services.challenges.list_open(0, 10))
    # A member's code is made by the staff, not by members nor other organisations.
    dora = await member(services, "dora")
    await services.organisations.join(
        dora.id, await services.organisations.invite(ADMIN, lyon.id, Role.MEMBER)
    )
    with pytest.raises(Forbidden):
        await services.organisations.invite(Actor(dora.id), lyon.id, Role.MEMBER)
    with pytest.raises(Forbidden):
        await services.organisations.invite(Actor(bob.id), lyon.id, Role.MEMBER)
    assert acme.id != lyon.id


async def test_people_in_an_owned_group_are_members_as_the_adapter_answers(
    services: Services,
) -> None:
    lyon, acme = await two_organisations(services)
    group = await services.groups.register(ChatRef(Platform.TELEGRAM, "-100", True), "Agents")
    await services.organisations.add_group(ADMIN, lyon.id, group.id)
    inside = await member(services, "11", platform="telegram")
    outside = await member(services, "12", platform="telegram")
    asked: list[tuple[str, str]] = []

    async def in_group(group: Group, external_id: str) -> bool | None:
        asked.append((group.chat_id, external_id))
        return external_id == "11"

    services.membership.register("telegram", in_group)
    assert await services.membership.organisations_of(inside.id) == frozenset({lyon.id})
    assert await services.membership.organisations_of(outside.id) == frozenset()
    assert await services.membership.organisations_of(inside.id) == frozenset({lyon.id})
    assert asked == [("-100", "11"), ("-100", "12")]  # the answers are kept a while
    assert await services.membership.of_group(group.id) == frozenset({lyon.id})
    assert acme.id not in await services.membership.organisations_of(inside.id)


async def test_broadcast_of_a_private_challenge_reaches_its_people_only(
    services: Services,
) -> None:
    lyon, _ = await two_organisations(services)
    agents = await services.challenges.by_slug("agents-lyon")
    dora = await member(services, "dora", platform="telegram")
    await member(services, "zoe", platform="telegram")  # an outsider who accepts news
    await services.organisations.join(
        dora.id, await services.organisations.invite(ADMIN, lyon.id, Role.MEMBER)
    )
    draft = await services.broadcasts.create(
        None, {Audience.MEMBERS}, "Réunion des agents", agents.id
    )
    assert await services.broadcasts.audience_size(draft.id) == {"fr": 1}
    everyone = await services.broadcasts.create(None, {Audience.MEMBERS}, "Bonjour")
    assert await services.broadcasts.audience_size(everyone.id) == {"fr": 2}


async def test_an_outsider_meets_only_not_found_in_the_chat(services: Services) -> None:
    lyon, acme = await two_organisations(services)
    agents = await services.challenges.by_slug("agents-lyon")
    harness = ChatHarness(services)
    zoe = harness.person("console:zoe", name="Zoé")
    await zoe.command("/start")
    await zoe.press("Français")

    await zoe.command("/challenges")
    assert "agents-lyon" not in zoe.all_text() and "staff-acme" not in zoe.all_text()
    for command in ("/start", "/challenge", "/pledge", "/map", "/progress", "/pledgeif"):
        await zoe.command(f"{command} agents-lyon")
        missing = list(zoe.last_texts())
        await zoe.command(f"{command} no-such-thing")
        nothing = [t.replace("no-such-thing", "agents-lyon") for t in zoe.last_texts()]
        assert missing == nothing, command
        assert NOT_FOUND.format("agents-lyon") in missing[0], command
    # Buttons offered while it was public, pressed once it is private: refused as missing.
    await services.organisations.set_visibility(ADMIN, agents.id, Visibility.PUBLIC)
    await zoe.command("/challenge agents-lyon")
    card = zoe.last_replies()
    await zoe.press("Partager")
    share = zoe.last_replies()
    await zoe.command("/challenges")
    listing = zoe.last_replies()
    await services.organisations.set_visibility(ADMIN, agents.id, Visibility.MEMBERS)
    gone = NOT_FOUND.format(agents.id) + " Voyez /challenges pour les défis ouverts."
    for replies, label in (
        (card, "Je m'engage"),
        (card, "Partager"),
        (card, "Carte"),
        (share, "Image"),
        (listing, "Challenge agents-lyon"),
    ):
        [choice] = [c for c in choices(replies) if label in c.label]
        await zoe.press_id(choice.id)
        assert zoe.last_texts() == [gone], label
    assert await services.pledges.get((await member(services, "zoe")).id, agents.id) is None

    # A group that Lyon does not own neither follows nor shows it.
    chat = ChatRef(Platform.CONSOLE, "room", True)
    admin = harness.person("console:zoe", name="Zoé", chat=chat, admin=True)
    await admin.command("/follow agents-lyon")
    assert NOT_FOUND.format("agents-lyon") in admin.last_texts()[0]
    await admin.command("/follow")
    offered = [c.label for c in choices(admin.last_replies())]
    assert offered == ["Challenge tri-public"]
    assert acme.id != lyon.id


async def test_a_member_by_invite_sees_and_pledges(services: Services) -> None:
    lyon, _ = await two_organisations(services)
    agents = await services.challenges.by_slug("agents-lyon")
    harness = ChatHarness(services)
    carla = harness.person("console:carla", name="Carla", lang="en")
    await carla.command("/org")
    await carla.press("Invite members")
    [code] = re.findall(r"/start join_(\w+)", carla.all_text())

    dora = harness.person("console:dora", name="Dora", lang="en")
    await dora.command(f"/start join_{code}")
    await dora.press("English")
    assert "You are now a member of Ville de Lyon" in dora.all_text()
    await dora.press("challenges")
    assert "Challenge agents-lyon" in dora.all_text()
    assert "staff-acme" not in dora.all_text()
    await dora.command("/pledge agents-lyon")
    await dora.press("Yes")
    pledge = await services.pledges.get((await member(services, "dora")).id, agents.id)
    assert pledge is not None and pledge.active

    # A group Lyon owns shows its private challenge to everyone in it.
    group = await services.groups.register(ChatRef(Platform.CONSOLE, "hall", True), "Hall")
    await services.organisations.add_group(ADMIN, lyon.id, group.id)
    hall = harness.person("console:zed", name="Zed", chat=ChatRef(Platform.CONSOLE, "hall", True))
    await hall.command("/progress agents-lyon")
    assert "Challenge agents-lyon" in hall.all_text()
    await hall.command("/progress staff-acme")
    assert NOT_FOUND.format("staff-acme") in hall.last_texts()[0]


async def test_organisers_switch_visibility_on_the_panel(services: Services) -> None:
    await two_organisations(services)
    harness = ChatHarness(services)
    orga = harness.person("console:orga", name="Orga")  # administers the deployment
    agents = await services.challenges.by_slug("agents-lyon")
    await orga.command("/manage")
    await orga.press("Challenge agents-lyon")
    assert "Réservé aux membres de l'organisation" in orga.all_text()
    t = Translator("fr")
    await orga.press("Ouvrir à tous")  # first, what it changes
    assert orga.last_texts() == [
        t("organiser.visibility.confirm_public", title="Challenge agents-lyon", org="Ville de Lyon")
    ]
    await orga.press(t("organiser.visibility.no"))
    assert (await services.challenges.get(agents.id)).private
    await orga.press("Ouvrir à tous")
    await orga.press(t("organiser.visibility.yes_public"))
    assert "Ouvert à tous." in orga.all_text()
    assert not (await services.challenges.get(agents.id)).private
    await orga.press("Réserver aux membres")
    assert "cessent de le suivre" in orga.last_texts()[0]
    assert not (await services.challenges.get(agents.id)).private
    await orga.press(t("organiser.visibility.yes_members"))
    assert (await services.challenges.get(agents.id)).private
