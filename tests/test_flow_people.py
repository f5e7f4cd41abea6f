"""Conversations side by side through the real engine: a button of another conversation does
not end the one waiting for an answer."""

from __future__ import annotations

from conversations.flows.broadcast import BroadcastFlow
from conversations.flows.organiser import OrganiserFlow
from conversations.model import AskText
from conversations.testing import ChatHarness, Person, choices
from core.i18n import Translator
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
