"""Conversations side by side through the real engine: a button of another conversation does
not end the one waiting for an answer."""

from __future__ import annotations

from conversations.deeplinks import make_payload
from conversations.flows.broadcast import BroadcastFlow
from conversations.flows.organiser import OrganiserFlow
from conversations.model import AskText
from conversations.testing import ChatHarness, Person, choices
from core.i18n import Translator
from core.identity import AccountRef
from core.services import Services
from tests.factories import open_challenge
from tests.test_flow_broadcast import up_to_preview
from tests.test_flow_organiser import finish_without_extras

FR = Translator("fr")


def prompts(person: Person) -> list[str]:
    return [r.prompt for r in person.last_replies() if isinstance(r, AskText)]


async def test_new_survives_a_refresh_of_a_broadcast_panel(services: Services) -> None:
    challenge = await open_challenge(services, goal=100)
    chat = ChatHarness(services, [OrganiserFlow(), BroadcastFlow()])
    orga = chat.person("console:orga", name="Orga", lang="fr")
    await up_to_preview(orga, FR, challenge)
    await orga.press(FR("broadcast.button_now"))
    panel = orga.last_replies()
    [refresh] = [c for c in choices(panel) if c.label == FR("broadcast.button_refresh")]

    await orga.command("/new")
    await orga.text("Lyon trie ses déchets")
    assert prompts(orga) == [FR("organiser.label.action")]
    await orga.press_id(refresh.id)
    assert FR("broadcast.button_refresh") in [c.label for c in choices(orga.last_replies())]
    await orga.text("trier mes déchets")  # still the answer /new waits for
    assert prompts(orga) == [FR("organiser.label.description")]
    await orga.press(FR("engine.form_skip"))
    await orga.text("1000")
    await orga.text("30/06/2030")
    await finish_without_extras(orga, FR)
    assert "Lyon trie ses déchets" in "\n".join(orga.last_texts())  # typed before the refresh


async def test_where_the_platform_has_no_link_the_share_line_is_the_web_page(
    services: Services,
) -> None:
    """Discord has no link into the bot's private messages: with KOOM_PUBLIC_URL set, the
    share line after a pledge is the challenge's web page, which credits the sharer."""
    await open_challenge(services, goal=100)
    settings = services.settings.model_copy(update={"public_url": "https://koom.example.org"})
    web = Services(db=services.db, settings=settings, clock=services.clock)
    chat = ChatHarness(web)
    alice = chat.person("discord:42", name="Alice", lang="fr")
    await alice.command("/pledge tri-lyon")
    await alice.press(FR("pledge.button_yes"))
    await alice.press(FR("pledge.button_skip"))
    await alice.press(FR("pledge.reminder_none"))
    member = await services.members.find(AccountRef.parse("discord:42"))
    assert member is not None
    link = f"https://koom.example.org/c/tri-lyon?start={make_payload('tri-lyon', member.id)}"
    assert FR("pledge.share", link=link) in alice.last_texts()[0]
