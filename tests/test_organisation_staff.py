"""An organisation's staff in the organiser surfaces (/new, /manage, /broadcast), through the
services and the real engine: each reaches its own organisation's challenges, broadcasts and
audiences only, also with forged buttons; administrators still reach everything; someone
without any right gets the same refusal as before."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from conversations.buttons import Button, pack
from conversations.flow import CommandSpec, Flow, Turn
from conversations.flows.broadcast import BroadcastFlow
from conversations.flows.organiser import OrganiserFlow
from conversations.model import Capabilities, Choice
from conversations.testing import ChatHarness, Person, choices
from core.drafts import ChallengeDraft
from core.errors import Forbidden
from core.i18n import Translator
from core.models import Challenge, ChallengeStatus, Member
from core.services import Services
from core.services.broadcasts import Audience
from core.services.organisations import Actor, Organisation, OrganisationKind, Role
from tests.factories import all_broadcasts, member, open_challenge

T = {lang: Translator(lang) for lang in ("fr", "en")}
FORMS = Capabilities(forms=True)


@dataclass
class World:
    carla: Member  # owner of Lyon
    bob: Member  # owner of Acme
    lyon: Organisation
    acme: Organisation
    city: Challenge  # Lyon's
    staff: Challenge  # Acme's
    public: Challenge  # the deployment's


async def world(services: Services) -> World:
    admin = Actor.administrator()
    carla = await member(services, "carla")
    bob = await member(services, "bob")
    lyon = await services.organisations.create(
        admin, "lyon", "Ville de Lyon", OrganisationKind.CITY, carla.id
    )
    acme = await services.organisations.create(
        admin, "acme", "Acme", OrganisationKind.COMPANY, bob.id
    )
    city = await open_challenge(services, slug="tri-lyon")
    staff = await open_challenge(services, slug="velo-acme")
    public = await open_challenge(services, slug="public")
    await services.organisations.attach_challenge(admin, lyon.id, city.id)
    await services.organisations.attach_challenge(admin, acme.id, staff.id)
    return World(carla, bob, lyon, acme, city, staff, public)


def draft(services: Services, slug: str) -> ChallengeDraft:
    challenge = ChallengeDraft(
        slug=slug,
        title=slug,
        action="cycle",
        goal=10,
        deadline=services.clock.now().replace(year=services.clock.now().year + 1),
    )
    return challenge


class Bait(Flow):
    """Offers any button of another flow (a test-only way past the offered list)."""

    name = "bait"
    commands = (CommandSpec("bait"),)

    def __init__(self, flow: str, ids: list[str]) -> None:
        self.flow = flow
        self.ids = ids

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        # the ids as they are, even malformed: typed buttons could not say them
        turn.send("bait", [[Choice(f"{self.flow}:{c}", c)] for c in self.ids])


async def pressed_bait(person: Person, label: str) -> list[str]:
    await person.command("/bait")
    await person.press(label)
    return person.last_texts()


def every_button_naming(challenge_id: int) -> list[Button]:
    """One button of each type the organiser's flow handles that names a challenge, naming
    `challenge_id` (its other values valid): forged, they must all be refused alike."""
    other_values = {"field": "title", "locale": "en", "tier_id": 1, "visibility": "members"}
    buttons = []
    for kind in OrganiserFlow.handlers:
        names = [arg.name for arg in kind._args]
        if "challenge_id" in names:
            values = {n: challenge_id if n == "challenge_id" else other_values[n] for n in names}
            buttons.append(kind(**values))
    return buttons


def labels(person: Person) -> list[str]:
    return [c.label for c in choices(person.last_replies())]


# --- Services -----------------------------------------------------------------------------


async def test_staff_manage_only_their_organisations_challenges(services: Services) -> None:
    w = await world(services)
    organisations = services.organisations
    carla, bob = Actor(w.carla.id), Actor(w.bob.id)
    nobody = await member(services, "dan")
    assert [c.slug for c in await organisations.manageable(carla)] == ["tri-lyon"]
    assert [c.slug for c in await organisations.manageable(bob)] == ["velo-acme"]
    assert {c.slug for c in await organisations.manageable(Actor.administrator())} == {
        "tri-lyon",
        "velo-acme",
        "public",
    }
    assert await organisations.manageable(Actor(nobody.id)) == []
    assert await organisations.may_organise(carla)
    assert not await organisations.may_organise(Actor(nobody.id))
    assert await organisations.may_organise(Actor(nobody.id, is_admin=True))

    made = await organisations.create_challenge(carla, w.lyon.id, draft(services, "compost"))
    assert {c.slug for c in await organisations.challenges(carla, w.lyon.id)} == {
        "tri-lyon",
        "compost",
    }
    assert made.created_by == w.carla.id
    for organisation_id, slug in ((w.acme.id, "intrus"), (None, "sans-org")):
        with pytest.raises(Forbidden):
            await organisations.create_challenge(carla, organisation_id, draft(services, slug))
    assert {c.slug for c in await services.challenges.list_all()} == {
        "tri-lyon",
        "velo-acme",
        "public",
        "compost",
    }
    for challenge in (w.staff, w.public):
        with pytest.raises(Forbidden):
            await organisations.check_challenge(carla, challenge.id)
        with pytest.raises(Forbidden):
            await organisations.check_broadcast(carla, challenge.id)
    with pytest.raises(Forbidden):
        await organisations.check_broadcast(carla, None)  # every member: administrators only
    await organisations.check_broadcast(carla, w.city.id)


async def test_recent_broadcasts_can_be_limited_to_challenges(services: Services) -> None:
    w = await world(services)
    broadcasts = services.broadcasts
    for challenge in (w.city, w.staff):
        made = await broadcasts.create(None, {Audience.PLEDGERS}, "Hello", challenge.id)
        await broadcasts.confirm(made.id)
    await broadcasts.confirm((await broadcasts.create(None, {Audience.MEMBERS}, "Hi")).id)
    assert [b.challenge_id for b in await broadcasts.recent(10, [w.city.id])] == [w.city.id]
    assert len(await broadcasts.recent(10)) == 3


# --- /new and /manage ---------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_staff_create_for_their_organisation_and_manage_only_its_challenges(
    services: Services, lang: str
) -> None:
    t = T[lang]
    w = await world(services)
    chat = ChatHarness(services, [OrganiserFlow()], FORMS)
    carla = chat.person("console:carla", name="Carla", lang=lang)

    await carla.command("/new")  # one organisation: no question
    await carla.form(
        title="Compost", action="composter", description="", goal="50", deadline="2027-01-01"
    )
    await carla.press(t("engine.form_skip"))
    await carla.press(t("organiser.frequency.once"))
    await carla.press(t("organiser.new.tiers_done"))
    await carla.press(t("engine.form_skip"))
    assert carla.last_texts() == [t("organiser.new.visibility", org="Ville de Lyon")]
    assert labels(carla) == [t("organiser.action.public"), t("organiser.action.private")]
    await carla.press(t("organiser.action.private"))
    assert carla.last_texts()[:2] == [t("organiser.new.preview"), t("org.visibility.members")]
    ours = await services.organisations.challenges(Actor(w.carla.id), w.lyon.id)
    assert {c.title: c.private for c in ours} == {"Challenge tri-lyon": False, "Compost": True}
    await carla.press(t("organiser.action.publish"))
    assert carla.last_texts()[0] == t(
        "organiser.published_private", title="Compost", org="Ville de Lyon", link="/start compost"
    )

    await carla.command("/manage")
    listed = labels(carla)
    assert "Compost" in listed and "Challenge tri-lyon" in listed
    assert not any("velo-acme" in label or "public" in label for label in listed)
    await carla.press("Challenge tri-lyon")
    assert t("organiser.action.stats") in labels(carla)

    refused = t("error.org.not_allowed")
    for slug in ("velo-acme", "public"):
        await carla.command(f"/manage {slug}")
        assert carla.last_texts() == [refused], slug
    forged = [pack(button).removeprefix("orga:") for button in every_button_naming(w.staff.id)]
    assert len(forged) >= 15  # every /manage action, not a sample
    forged.append(f"org:{w.acme.id}")
    chat = ChatHarness(services, [OrganiserFlow(), Bait("orga", forged)], FORMS)
    carla = chat.person("console:carla", name="Carla", lang=lang)
    for choice_id in forged:
        assert await pressed_bait(carla, choice_id) == [refused], choice_id
    staff = await services.challenges.get(w.staff.id)
    assert staff.status is ChallengeStatus.OPEN and staff.title == "Challenge velo-acme"


async def test_staff_of_two_organisations_are_asked_which(services: Services) -> None:
    t = T["en"]
    w = await world(services)
    await services.organisations.set_role(
        Actor.administrator(), w.acme.id, w.carla.id, Role.ORGANISER
    )
    chat = ChatHarness(services, [OrganiserFlow()], FORMS)
    carla = chat.person("console:carla", name="Carla", lang="en")
    await carla.command("/new")
    assert carla.last_texts() == [t("organiser.new.which_org")]
    assert labels(carla) == ["Acme", "Ville de Lyon"]  # no "deployment" for staff
    await carla.press("Acme")
    await carla.form(title="Bike", action="cycle", description="", goal="20", deadline="2027-01-01")
    for label in ("engine.form_skip", "organiser.frequency.once", "organiser.new.tiers_done"):
        await carla.press(t(label))
    await carla.press(t("engine.form_skip"))
    assert carla.last_texts() == [t("organiser.new.visibility", org="Acme")]
    await carla.press(t("organiser.action.public"))
    acme = await services.organisations.challenges(Actor(w.bob.id), w.acme.id)
    assert {c.title: c.private for c in acme} == {"Challenge velo-acme": False, "Bike": False}

    orga = chat.person("console:orga", name="Orga", lang="en")  # an administrator, no staff
    await orga.command("/new")
    assert [r.__class__.__name__ for r in orga.last_replies()] == ["AskForm"]
    await orga.form(title="Trees", action="plant", description="", goal="20", deadline="2027-01-01")
    for label in ("engine.form_skip", "organiser.frequency.once", "organiser.new.tiers_done"):
        await orga.press(t(label))
    await orga.press(t("engine.form_skip"))  # a deployment-wide challenge: no question
    assert orga.last_texts()[0] == t("organiser.new.preview")
    [trees] = [c for c in await services.challenges.list_all() if c.title == "Trees"]
    assert trees.organisation_id is None and not trees.private


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_people_without_rights_get_the_same_refusal(services: Services, lang: str) -> None:
    await world(services)
    chat = ChatHarness(services, [OrganiserFlow(), BroadcastFlow()], FORMS)
    dan = chat.person("console:dan", name="Dan", lang=lang)
    for command in ("/new", "/manage", "/manage tri-lyon", "/broadcast"):
        await dan.command(command)
        assert dan.last_texts() == [T[lang]("error.not_organiser")], command


# --- /broadcast ---------------------------------------------------------------------------


async def test_staff_broadcast_to_their_challenges_audiences_only(services: Services) -> None:
    t = T["en"]
    w = await world(services)
    pledger = await member(services, "1", "telegram")
    outsider = await member(services, "2", "telegram")
    await services.pledges.pledge(pledger.id, w.city.id)
    await services.pledges.pledge(outsider.id, w.staff.id)
    theirs = await services.broadcasts.create(None, {Audience.PLEDGERS}, "Acme news", w.staff.id)
    await services.broadcasts.confirm(theirs.id)

    chat = ChatHarness(services, [BroadcastFlow()])
    carla = chat.person("console:carla", name="Carla", lang="en")
    await carla.command("/broadcast")
    assert t("broadcast.audience.members") not in labels(carla)
    assert not any("#" + str(theirs.id) in text for text in carla.last_texts())
    await carla.press(t("broadcast.audience.pledgers"))
    assert "Challenge tri-lyon" in labels(carla)
    assert not any("velo-acme" in label or "public" in label for label in labels(carla))
    await carla.press("Challenge tri-lyon")
    await carla.press(t("broadcast.button_next"))
    await carla.text("See you Saturday")
    await carla.press(t("broadcast.button_now"))
    mine = (await all_broadcasts(services))[0]
    assert (mine.challenge_id, mine.recipients) == (w.city.id, 1)

    refused = t("error.org.not_allowed")
    await carla.command("/broadcast velo-acme")
    assert carla.last_texts() == [refused]
    forged = [f"pick:1:{w.staff.id}", f"next:1:{w.public.id}", "next:2:0", "pick:2:0"]
    forged += [f"{action}:{theirs.id}" for action in ("prog", "stop", "kill")]
    chat = ChatHarness(services, [BroadcastFlow(), Bait("bcast", forged)])
    carla = chat.person("console:carla", name="Carla", lang="en")
    for choice_id in forged:
        replies = await pressed_bait(carla, choice_id)
        assert replies == [t("error.org.not_allowed")] or replies == [t("error.org.admin_only")], (
            choice_id,
            replies,
        )
    assert (await services.broadcasts.get(theirs.id)).status.value != "cancelled"
    assert len(await all_broadcasts(services)) == 2
