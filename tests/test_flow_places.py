"""A place given while pledging: typed names and postcodes looked up offline, homonyms offered,
unknown names and bad coordinates refused with nothing stored, shared points snapped to their
commune; and the social norm after pledging and on the card, only from counts at the minimum."""

from __future__ import annotations

from conversations.model import AskLocation
from conversations.testing import ChatHarness, Person, choices
from core.i18n import Translator
from core.identity import AccountRef
from core.models import Location, Member
from core.services import Services
from tests.factories import open_challenge
from tests.test_progress_areas import people, set_area_goal

FR = Translator("fr")
EN = Translator("en")
LYON = Location("Lyon", 45.75, 4.85, "fr:69123")


async def member_of(services: Services, person: Person) -> Member:
    found = await services.members.find(AccountRef.parse(person.account))
    assert found is not None
    return found


async def up_to_the_place(person: Person, slug: str = "tri-lyon") -> None:
    """Start, French, /pledge, yes, give a place: the place is now awaited."""
    await person.command("/start")
    await person.press("Français")
    await person.command(f"/pledge {slug}")
    await person.press("Oui, je m'engage")
    await person.press("Indiquer ma commune")


def asks_the_place_again(person: Person) -> bool:
    """The last replies ask for a place again, with the Skip button."""
    asks = [r for r in person.last_replies() if isinstance(r, AskLocation)]
    return len(asks) == 1 and asks[0].skip is not None and asks[0].skip.label == "Passer"


async def test_a_typed_commune_is_stored_with_its_key(services: Services) -> None:
    challenge = await open_challenge(services)
    chat = ChatHarness(services)
    await up_to_the_place(chat.alice)
    await chat.text("lyon")
    assert chat.last_texts() == [FR("pledge.place_saved", place="Lyon"), FR("pledge.ask_reminder")]
    alice = await member_of(services, chat.alice)
    assert alice.location == LYON
    await chat.press("Pas de rappel")
    pledge = await services.pledges.get(alice.id, challenge.id)
    assert pledge is not None and pledge.area_key == "fr:69123"


async def test_a_postcode_gives_its_commune(services: Services) -> None:
    await open_challenge(services)
    chat = ChatHarness(services)
    await up_to_the_place(chat.alice)
    await chat.text("69001")
    assert chat.last_texts()[0] == FR("pledge.place_saved", place="Lyon")
    assert (await member_of(services, chat.alice)).location == LYON


async def test_a_name_of_several_places_offers_a_choice(services: Services) -> None:
    challenge = await open_challenge(services)
    chat = ChatHarness(services)
    await up_to_the_place(chat.alice)
    await chat.text("Saint-Denis")
    assert chat.last_texts()[0] == FR("place.which", text="Saint-Denis")
    labels = [c.label for c in choices(chat.alice.last_replies())]
    assert labels[:2] == ["Saint-Denis, La Réunion (974)", "Saint-Denis, Seine-Saint-Denis (93)"]
    assert labels[-1] == "Passer" and len(labels) <= 7
    assert all(len(c.id.encode()) <= 64 for c in choices(chat.alice.last_replies()))
    assert asks_the_place_again(chat.alice)  # or type a more precise name
    assert (await member_of(services, chat.alice)).location is None  # nothing yet
    await chat.press("Saint-Denis, La Réunion (974)")
    assert chat.last_texts()[0] == FR("pledge.place_saved", place="Saint-Denis")
    alice = await member_of(services, chat.alice)
    assert alice.location == Location("Saint-Denis", -20.88, 55.45, "fr:97411")
    await chat.press("Pas de rappel")
    pledge = await services.pledges.get(alice.id, challenge.id)
    assert pledge is not None and pledge.area_key == "fr:97411"


async def test_a_more_precise_name_after_the_choice_is_taken(services: Services) -> None:
    await open_challenge(services)
    chat = ChatHarness(services)
    await up_to_the_place(chat.alice)
    await chat.text("Saint-Denis")
    await chat.text("Saint-Denis 93")
    assert chat.last_texts()[0] == FR("pledge.place_saved", place="Saint-Denis")
    location = (await member_of(services, chat.alice)).location
    assert location is not None and location.key == "fr:93066"


async def test_a_forged_place_button_is_refused(services: Services) -> None:
    challenge = await open_challenge(services)
    chat = ChatHarness(services)
    await up_to_the_place(chat.alice)
    await chat.text("Saint-Denis")
    await chat.press_id(f"pledge:place:{challenge.id}:fr.75056")  # Paris: never offered
    assert chat.last_texts() == [FR("engine.stale_choice")]
    assert (await member_of(services, chat.alice)).location is None


async def test_an_unknown_name_is_refused_asked_again_and_nothing_stored(
    services: Services,
) -> None:
    await open_challenge(services)
    chat = ChatHarness(services)
    await up_to_the_place(chat.alice)
    await chat.text("Xyzzyville")
    assert chat.last_texts() == [FR("place.unknown_typed", text="Xyzzyville")]
    assert asks_the_place_again(chat.alice)
    assert (await member_of(services, chat.alice)).location is None
    await chat.text("Lyon")  # the question still stands
    assert (await member_of(services, chat.alice)).location == LYON


async def test_a_shared_location_is_snapped_to_its_commune(services: Services) -> None:
    await open_challenge(services)
    chat = ChatHarness(services)
    bob = chat.person("telegram:2", name="Bob", lang="en")
    await bob.command("/start")
    await bob.press("English")
    await bob.command("/pledge tri-lyon")
    await bob.press("Yes, I commit")
    await bob.press("Give my town or location")
    await bob.location(45.7712, 4.8823)  # a street in Villeurbanne
    assert bob.last_texts()[0] == EN("pledge.place_saved", place="Villeurbanne")
    location = (await member_of(services, bob)).location
    # the commune's public centre: nothing of the shared point is kept
    assert location == Location("Villeurbanne", 45.77, 4.88, "fr:69266")


async def test_a_location_far_from_every_place_keeps_a_1_km_cell(services: Services) -> None:
    await open_challenge(services)
    chat = ChatHarness(services)
    await up_to_the_place(chat.alice)
    await chat.location(40.00123, -40.00456)  # mid-Atlantic
    assert chat.last_texts()[0] == FR("pledge.area_saved")
    location = (await member_of(services, chat.alice)).location
    assert location == Location(None, 40.0, -40.0)


async def test_typed_coordinates_are_snapped_too(services: Services) -> None:
    await open_challenge(services)
    chat = ChatHarness(services)
    await up_to_the_place(chat.alice)
    await chat.text("45.764, 4.8357")
    assert chat.last_texts()[0] == FR("pledge.place_saved", place="Lyon")
    assert (await member_of(services, chat.alice)).location == LYON


async def test_coordinates_out_of_range_are_refused_and_nothing_stored(
    services: Services,
) -> None:
    await open_challenge(services)
    chat = ChatHarness(services)
    await up_to_the_place(chat.alice)
    await chat.location(123.0, 4.0)
    assert chat.last_texts() == [FR("error.bad_coordinates")]
    await chat.text("91.5, 200.25")
    assert chat.last_texts() == [FR("error.bad_coordinates")]
    assert (await member_of(services, chat.alice)).location is None
    await chat.text("69001")  # still awaited
    assert (await member_of(services, chat.alice)).location == LYON


async def test_a_location_outside_a_flow_is_answered_and_not_kept(services: Services) -> None:
    chat = ChatHarness(services)
    await chat.location(45.764, 4.8357)
    assert chat.last_texts() == [FR("engine.location_outside_flow")]
    assert (await member_of(services, chat.alice)).location is None


# --- the social norm --------------------------------------------------------------------


async def pledge_typing(person: Person, place: str) -> str:
    """Pledge to tri-lyon from a typed place, without reminder; the thanks."""
    await up_to_the_place(person)
    await person.text(place)
    await person.press("Pas de rappel")
    return person.last_texts()[0]


async def test_after_pledging_the_people_near_are_named_from_the_minimum(
    services: Services,
) -> None:
    challenge = await open_challenge(services, goal=100)
    await people(services, challenge, ("Lyon", 2), ("Bron", 3))
    chat = ChatHarness(services)
    thanks = await pledge_typing(chat.alice, "Lyon")  # the third in Lyon
    assert "Vous êtes 6 à vous engager.\n" in thanks
    assert "👥 3 personnes agissent déjà à Lyon · 6 aux alentours (Rhône)" in thanks


async def test_after_pledging_nobody_near_is_named_under_the_minimum(
    services: Services,
) -> None:
    challenge = await open_challenge(services, goal=100)
    await people(services, challenge, ("Lyon", 1))
    chat = ChatHarness(services)
    thanks = await pledge_typing(chat.alice, "Lyon")  # 2 in Lyon, 2 in all
    assert "Vous êtes 2 à vous engager." in thanks
    assert "👥" not in thanks  # 2 in Lyon, 2 in the Rhône, 2 in France: all under 3


async def test_the_card_names_the_own_area_then_the_wider_one(services: Services) -> None:
    challenge = await open_challenge(services, goal=100)
    await people(services, challenge, ("Lyon", 3), ("Bron", 3), ("Villeurbanne", 2))
    chat = ChatHarness(services)
    bob = chat.person("telegram:2", name="Bob", lang="en")
    await services.members.set_location((await member_of_new(services, bob)).id, LYON)
    await bob.command("/challenge tri-lyon")
    # the Rhône adds up the places the map shows: Villeurbanne's 2 are in neither
    assert "👥 3 people already act in Lyon · 6 in Rhône" in bob.last_texts()[0]
    # someone in Villeurbanne (2, under the minimum) reads the Rhône alone
    await services.members.set_location(
        (await member_of(services, bob)).id, Location("Villeurbanne", 45.77, 4.88, "fr:69266")
    )
    await bob.command("/challenge tri-lyon")
    card = bob.last_texts()[0]
    assert "👥 6 people already act near you (Rhône)" in card and "Villeurbanne" not in card


async def test_the_card_shows_the_own_area_against_the_goal_per_area(
    services: Services,
) -> None:
    challenge = await open_challenge(services, goal=100)
    await people(services, challenge, ("Lyon", 3))
    await set_area_goal(services, challenge, 1000)
    chat = ChatHarness(services)
    await chat.command("/start")
    await chat.press("Français")
    await services.members.set_location((await member_of(services, chat.alice)).id, LYON)
    await chat.command("/challenge tri-lyon")
    assert "📍 Lyon : 3 / 1\u202f000" in chat.last_texts()[0]


async def member_of_new(services: Services, person: Person) -> Member:
    """The member behind `person`, who says hello first."""
    await person.command("/help")
    return await member_of(services, person)
