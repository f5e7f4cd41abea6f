"""/map and the card's Map button: a PNG of the pledgers by area, or a clear text while no area
counts the minimum; in private and in groups."""

from __future__ import annotations

import io
from datetime import date

from PIL import Image as PILImage

from conversations.model import Image, Message
from conversations.testing import ChatHarness, Person, choices
from core.i18n import Translator
from core.identity import ChatRef, Platform
from core.services import Services
from tests.factories import open_challenge
from tests.test_progress_areas import people

FR = Translator("fr")
EN = Translator("en")
GROUP = ChatRef(Platform.TELEGRAM, "-100123", is_group=True, title="Lyon Zéro Déchet")


def the_image(person: Person) -> Image:
    [picture] = [r for r in person.last_replies() if isinstance(r, Image)]
    return picture


def assert_png(picture: Image) -> None:
    assert picture.data.startswith(b"\x89PNG\r\n\x1a\n")
    with PILImage.open(io.BytesIO(picture.data)) as decoded:
        assert decoded.format == "PNG" and decoded.size == (1200, 800)
        decoded.load()  # the whole picture decodes


async def test_map_sends_a_picture_of_the_areas(services: Services) -> None:
    challenge = await open_challenge(services, goal=100)
    await people(services, challenge, ("Lyon", 3), ("Bron", 2), ("Villeurbanne", 1))
    chat = ChatHarness(services)
    await chat.command("/map tri-lyon")
    picture = the_image(chat.alice)
    assert_png(picture)
    assert picture.caption == FR.plural("map.message", 3, title="Challenge tri-lyon")
    assert picture.filename == "tri-lyon-map.png"


def test_the_caption_says_how_many_act_and_when() -> None:
    assert FR.plural("map.caption", 6, date=date(2026, 3, 10)) == (
        "6 personnes agissent · 10 mars 2026"
    )
    assert EN.plural("map.caption", 1, date=date(2026, 3, 10)) == "1 person acts · March 10, 2026"


async def test_no_area_at_the_minimum_gives_a_text_not_an_empty_map(services: Services) -> None:
    challenge = await open_challenge(services, goal=100)
    chat = ChatHarness(services)
    await chat.command("/map tri-lyon")
    assert chat.alice.last_replies() == [
        Message(FR.plural("map.empty", 3, title="Challenge tri-lyon"))
    ]
    await people(services, challenge, ("Lyon", 2))  # under the minimum: still nothing to show
    await chat.command("/map tri-lyon")
    assert chat.last_texts() == [FR.plural("map.empty", 3, title="Challenge tri-lyon")]


async def test_the_card_has_a_map_button(services: Services) -> None:
    challenge = await open_challenge(services, goal=100)
    await people(services, challenge, ("Lyon", 3))
    chat = ChatHarness(services)
    bob = chat.person("telegram:2", name="Bob", lang="en")
    await bob.command("/challenge tri-lyon")
    await bob.press("🗺 Map")
    picture = the_image(bob)
    assert_png(picture)
    assert "Challenge tri-lyon" in picture.caption


async def test_map_without_a_name_asks_which_when_there_are_several(services: Services) -> None:
    first = await open_challenge(services, goal=100)
    velo = await open_challenge(services, slug="velo", goal=100)
    await people(services, first, ("Lyon", 3))
    chat = ChatHarness(services)
    await chat.command("/map")
    assert chat.last_texts() == [FR("map.which")]
    assert [c.label for c in choices(chat.alice.last_replies())] == [
        "Challenge tri-lyon",
        "Challenge velo",
    ]
    await chat.press("Challenge tri-lyon")
    assert_png(the_image(chat.alice))
    await chat.press_id(f"map:show:{velo.id}")  # offered too, but nobody gave a place
    assert chat.last_texts() == [FR.plural("map.empty", 3, title="Challenge velo")]


async def test_map_without_a_name_and_one_challenge_shows_it(services: Services) -> None:
    challenge = await open_challenge(services, goal=100)
    await people(services, challenge, ("Paris", 3))
    chat = ChatHarness(services)
    await chat.command("/map")
    assert_png(the_image(chat.alice))


async def test_map_of_an_unknown_challenge(services: Services) -> None:
    chat = ChatHarness(services)
    await chat.command("/map nope")
    assert chat.last_texts() == [FR("error.challenge_not_found", slug="nope")]
    await chat.command("/map")
    assert chat.last_texts() == [FR("browse.empty")]


async def test_map_in_a_group_shows_the_challenge_it_follows(services: Services) -> None:
    challenge = await open_challenge(services, goal=100)
    await people(services, challenge, ("Lyon", 3))
    chat = ChatHarness(services)
    admin = chat.person("telegram:1", name="Ana", chat=GROUP, admin=True)
    anyone = chat.person("telegram:2", name="Bob", chat=GROUP)
    await anyone.command("/map")
    assert anyone.last_texts() == [FR("group.follows_nothing")]
    await admin.command("/follow tri-lyon")
    await anyone.command("/map")
    assert_png(the_image(anyone))
    await anyone.command("/map tri-lyon")
    assert_png(the_image(anyone))
