"""A challenge in two languages: imported from YAML with its translations, each person reads
their language (cards, the pledge, reminders), else the original; organisers edit the
original."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from pydantic import ValidationError

from bots.web.app import create_app
from conversations.announcements import announcement_replies
from conversations.model import Message
from conversations.testing import ChatHarness
from core.app import ChallengeEntry, import_challenges
from core.delivery.protocol import Notice
from core.i18n import Translator
from core.models import Challenge, EventKind
from core.services import Services
from core.services.reminders import REMINDER_KIND
from tests.test_web import FAST

EN, FR = Translator("en"), Translator("fr")
ENTRY = """\
slug: tri-lyon
title: Trier mes déchets à Lyon
action: trier mes déchets
goal: 100
frequency: daily
deadline: 2099-01-01
status: open
translations:
  en:
    title: Sort my waste in Lyon
    action: sort my waste
tiers:
  - threshold: 50
    sponsor: Acme
    reward: donne 500 €
    translations: {en: gives €500}
"""


async def imported(services: Services, text: str = ENTRY) -> Challenge:
    data: Any = yaml.safe_load(text)
    entry = ChallengeEntry.model_validate(data, context={"now": services.clock.now()})
    [challenge] = await import_challenges(services, [entry])
    return challenge


async def test_each_person_reads_their_language_else_the_original(services: Services) -> None:
    challenge = await imported(services)
    assert (challenge.title, challenge.action) == ("Trier mes déchets à Lyon", "trier mes déchets")
    chat = ChatHarness(services)
    bob = chat.person("telegram:2", name="Bob", lang="en")
    await bob.command("/pledge tri-lyon")
    assert bob.last_texts()[0] == EN(
        "pledge.confirm", action="sort my waste", title="Sort my waste in Lyon"
    )
    await bob.command("/challenge tri-lyon")
    card = "\n".join(bob.last_texts())
    assert "Sort my waste in Lyon" in card and "gives €500" in card
    assert "Trier" not in card and "donne" not in card
    alice = chat.person("telegram:1", name="Alice", lang="fr")
    await alice.command("/pledge tri-lyon")
    assert alice.last_texts()[0] == FR(
        "pledge.confirm", action="trier mes déchets", title="Trier mes déchets à Lyon"
    )
    orga = chat.person("console:orga", name="Orga", lang="en")
    await orga.command("/manage")
    assert "Trier mes déchets à Lyon" in orga.all_text()  # organisers edit the original
    # outside a conversation, the original
    assert (await services.challenges.get(challenge.id)).title == "Trier mes déchets à Lyon"

    reminders = [Notice(REMINDER_KIND, challenge.id, lang, {}) for lang in ("en", "fr")]
    [[english], [french]] = [await announcement_replies(services, [n]) for n in reminders]
    assert isinstance(english, Message) and isinstance(french, Message)
    assert english.text == EN(
        "reminder.text_daily", title="Sort my waste in Lyon", action="sort my waste"
    )
    assert french.text == FR(
        "reminder.text_daily", title="Trier mes déchets à Lyon", action="trier mes déchets"
    )
    [tier] = challenge.tiers
    payload = {"tier_id": tier.id, "sponsor": "Acme", "reward": tier.reward, "threshold": 50}
    unlocked = Notice(EventKind.TIER_UNLOCKED.value, challenge.id, "en", payload)
    [announced] = await announcement_replies(services, [unlocked])
    assert isinstance(announced, Message)
    assert announced.text == EN(
        "announce.tier_unlocked", sponsor="Acme", reward="gives €500", title="Sort my waste in Lyon"
    )


async def test_an_unknown_language_in_translations_is_refused(services: Services) -> None:
    with pytest.raises(ValidationError, match="unknown language 'de'"):
        await imported(services, ENTRY.replace("  en:\n", "  de:\n", 1))


async def test_one_search_folds_accents_and_case_in_both_languages(services: Services) -> None:
    challenge = await imported(services)
    for typed in ("DÉCHETS lyon", "dechets", "sort WASTE", "tri-lyon", ""):
        assert [c.id for c in await services.challenges.search(typed, 10)] == [challenge.id]
    assert await services.challenges.search("vélo", 10) == []


async def test_an_organiser_gives_the_english_texts_in_the_chat(services: Services) -> None:
    challenge = await imported(services, ENTRY.split("translations:")[0] + "tiers: []\n")
    chat = ChatHarness(services)
    orga = chat.person("console:orga", name="Orga", lang="fr")
    await orga.command("/manage tri-lyon")
    await orga.press(FR("people.button_translate", language="English"))
    await orga.text("Sort my waste in Lyon")
    await orga.text("sort my waste")
    await orga.press(FR("engine.form_skip"))  # no description: the original's
    assert FR("people.translate.saved", language="English") in orga.last_texts()
    assert "Trier mes déchets à Lyon" in "\n".join(orga.last_texts())  # the original panel

    bob = chat.person("telegram:2", name="Bob", lang="en")
    await bob.command("/pledge tri-lyon")
    assert bob.last_texts()[0] == EN(
        "pledge.confirm", action="sort my waste", title="Sort my waste in Lyon"
    )
    stored = await services.challenges.get(challenge.id)
    assert stored.translations == {
        "en": {"title": "Sort my waste in Lyon", "action": "sort my waste"}
    }


async def test_the_web_page_reads_in_the_visitors_language(services: Services) -> None:
    await imported(services)
    async with TestClient(TestServer(create_app(services, FAST))) as client:
        english = await (await client.get("/c/tri-lyon?lang=en")).text()
        french = await (await client.get("/c/tri-lyon?lang=fr")).text()
    assert "<h1>Sort my waste in Lyon</h1>" in english and "gives €500" in english
    assert "<h1>Trier mes déchets à Lyon</h1>" in french and "donne 500 €" in french
