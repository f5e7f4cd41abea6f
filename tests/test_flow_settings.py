"""The settings flow through the real engine, in French and in English: each setting changes
what it should and nothing else; bad answers change nothing."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from sqlalchemy import select

from conversations.flows.settings import SettingsFlow, parse_hour, timezone_name
from conversations.model import AskLocation, AskText, Capabilities, End, Message
from conversations.testing import ChatHarness, Person, choices
from core.db.tables import conversations
from core.errors import Invalid
from core.i18n import Translator
from core.identity import AccountRef, ChatRef, Platform
from core.models import Location, Member, ReminderPreference
from core.services import Services
from tests.factories import open_challenge

LANGS = pytest.mark.parametrize("lang", ["fr", "en"])
ALICE = AccountRef.parse("console:alice")


def harness(services: Services, capabilities: Capabilities | None = None) -> ChatHarness:
    if capabilities is None:
        return ChatHarness(services, [SettingsFlow()])
    return ChatHarness(services, [SettingsFlow()], capabilities)


def alice(chat: ChatHarness, lang: str) -> Person:
    return chat.person("console:alice", name="Alice", lang=lang)


async def me(services: Services, account: AccountRef = ALICE) -> Member:
    found = await services.members.find(account)
    assert found is not None
    return found


def last_message(person: Person) -> Message:
    found = [r for r in person.last_replies() if isinstance(r, Message)]
    assert found, person.last_replies()
    return found[-1]


async def test_the_flow_is_registered(services: Services) -> None:
    chat = ChatHarness(services)
    await chat.command("/settings")
    assert Translator("fr")("settings.menu_title") in chat.last_texts()[0]


@LANGS
async def test_menu_shows_the_current_values(services: Services, lang: str) -> None:
    t = Translator(lang)
    chat = harness(services)
    person = alice(chat, lang)
    await person.command("/settings")
    member = await me(services)
    await services.members.set_location(member.id, Location("Lyon", None, None))
    await services.members.update(member.id, reminder="daily", reminder_hour=20)
    await person.command("/settings")
    menu = last_message(person)
    assert not menu.replaces
    hour = t("settings.hour", hour=20)
    every_day = t("settings.reminders_at", frequency=t("settings.frequency_daily"), hour=hour)
    for line in (
        t("settings.menu_language", language=t("common.language_name")),
        t("settings.menu_reminders", reminders=every_day),
        t("settings.menu_timezone", timezone="Europe/Paris"),
        t("settings.menu_location", place="Lyon"),
        t("settings.menu_news_on"),
        t("settings.menu_accounts", accounts="console:alice"),
    ):
        assert line in menu.text
    labels = [c.label for c in choices([menu])]
    assert t("settings.button_news_off") in labels and t("settings.button_forget") in labels
    assert all(len(c.id.encode()) <= 64 for c in choices([menu]))


@LANGS
async def test_language_changes_only_the_language_and_confirms_in_it(
    services: Services, lang: str
) -> None:
    other = "en" if lang == "fr" else "fr"
    chat = harness(services)
    person = alice(chat, lang)
    await person.command("/settings")
    before = await me(services)
    await person.press(Translator(lang)("settings.button_language"))
    assert last_message(person).replaces
    await person.press(Translator(other)("common.language_name"))
    screen = last_message(person)
    new = Translator(other)
    assert screen.replaces
    assert screen.text.startswith(new("settings.language_set"))
    assert new("settings.menu_title") in screen.text
    assert await me(services) == replace(before, language=other)
    await person.command("/settings")  # the app still says `lang`: the choice wins
    assert new("settings.menu_title") in person.last_texts()[0]


@LANGS
async def test_reminder_frequency_and_hour_buttons(services: Services, lang: str) -> None:
    t = Translator(lang)
    chat = harness(services)
    person = alice(chat, lang)
    await person.command("/settings")
    before = await me(services)
    await person.press(t("settings.button_reminders"))
    await person.press(t("settings.button_rem_weekly"))
    screen = last_message(person)
    assert screen.replaces and screen.text.startswith(t("settings.saved"))
    assert t("settings.selected", label=t("settings.button_rem_weekly")) in [
        c.label for c in choices([screen])
    ]
    assert await me(services) == replace(before, reminder=ReminderPreference.WEEKLY)
    await person.press(t("settings.hour", hour=18))
    assert last_message(person).replaces
    assert t("settings.hour", hour=18) in last_message(person).text
    assert await me(services) == replace(
        before, reminder=ReminderPreference.WEEKLY, reminder_hour=18
    )
    await person.press(t("settings.button_rem_none"))
    assert await me(services) == replace(before, reminder=ReminderPreference.NONE, reminder_hour=18)


@LANGS
async def test_a_typed_hour_is_checked_before_it_is_kept(services: Services, lang: str) -> None:
    t = Translator(lang)
    chat = harness(services)
    person = alice(chat, lang)
    await person.command("/settings")
    before = await me(services)
    await person.press(t("settings.button_reminders"))
    await person.press(t("settings.button_hour_other"))
    assert person.last_replies() == [AskText(t("settings.hour_ask"))]
    for bad in ("25", "midi", "7:30", "13 pm", "-1"):
        assert await person.text(bad) == [Message(t("error.bad_hour"))], bad
        assert await me(services) == before
    await person.text("7 pm")
    assert last_message(person).text.startswith(t("settings.saved"))
    assert not last_message(person).replaces
    assert await me(services) == replace(before, reminder_hour=19)
    assert await person.text("8") == [Message(t("engine.not_understood"))]  # no longer asked


@LANGS
async def test_time_zone_typed_and_validated(services: Services, lang: str) -> None:
    t = Translator(lang)
    chat = harness(services)
    person = alice(chat, lang)
    await person.command("/settings")
    before = await me(services)
    await person.press(t("settings.button_reminders"))
    await person.press(t("settings.button_timezone"))
    assert person.last_texts() == [t("settings.timezone_ask", timezone="Europe/Paris")]
    assert await person.text("Mars/Olympus") == [
        Message(t("error.bad_timezone", timezone="Mars/Olympus"))
    ]
    assert await person.location(45.76, 4.84) == [Message(t("settings.type_answer"))]
    assert await me(services) == before
    await person.text("america/new york")
    assert "America/New_York" in last_message(person).text
    assert await me(services) == replace(before, timezone="America/New_York")


def test_typed_hours_and_time_zones() -> None:
    assert [parse_hour(h) for h in ("0", "07", "19h", "19 h 00", "19:00", "12am", "12 PM")] == [
        0,
        7,
        19,
        19,
        19,
        0,
        12,
    ]
    with pytest.raises(Invalid):
        parse_hour("24")
    assert timezone_name("Europe/Paris") == "Europe/Paris"
    assert timezone_name(" europe/PARIS ") == "Europe/Paris"
    assert timezone_name("brussels") == "Europe/Brussels"
    assert timezone_name("Nowhere") == "Nowhere"


@LANGS
async def test_place_typed_shared_and_removed(services: Services, lang: str) -> None:
    t = Translator(lang)
    chat = harness(services)
    person = alice(chat, lang)
    await person.command("/settings")
    before = await me(services)
    await person.press(t("settings.button_location"))
    screen = last_message(person)
    assert screen.replaces
    assert t("settings.location_current", place=t("settings.place_none")) in screen.text
    assert t("settings.location_explain") in screen.text
    assert t("settings.button_location_remove") not in [c.label for c in choices([screen])]

    await person.press(t("settings.button_location_change"))
    ask = person.last_replies()[-1]
    assert isinstance(ask, AskLocation) and ask.prompt == t("settings.location_ask")
    assert await person.text("12 rue ###") == [Message(t("error.bad_place_name"))]
    assert await person.location(123.0, 4.0) == [Message(t("error.bad_coordinates"))]
    assert await me(services) == before

    await person.text("  saint-étienne ")
    assert last_message(person).text.startswith(t("settings.location_saved", place="Saint-Étienne"))
    assert await me(services) == replace(before, location=Location("Saint-Étienne", None, None))

    await person.press(t("settings.button_location_change"))
    await person.location(45.761234, 4.835678)
    assert await me(services) == replace(before, location=Location(None, 45.76, 4.84))

    await person.press(t("settings.button_location_change"))
    await person.press(t("settings.button_back"))  # going back asks nothing and keeps it
    assert t("settings.location_current", place="45.76, 4.84") in last_message(person).text
    await person.press(t("settings.button_location_remove"))
    assert last_message(person).text.startswith(t("settings.location_removed"))
    assert await me(services) == before
    assert await person.text("Lyon") == [Message(t("engine.not_understood"))]


@LANGS
async def test_news_opt_out_and_back_in(services: Services, lang: str) -> None:
    t = Translator(lang)
    chat = harness(services)
    person = alice(chat, lang)
    await person.command("/settings")
    before = await me(services)
    await person.press(t("settings.button_news_off"))
    screen = last_message(person)
    assert screen.replaces and screen.text.startswith(t("settings.news_stopped"))
    assert t("settings.menu_news_off") in screen.text
    assert await me(services) == replace(before, news_opt_out=True)
    await person.press_id("settings:news:1")  # the old button sets, it does not flip
    assert await me(services) == replace(before, news_opt_out=True)
    await person.press(t("settings.button_news_on"))
    assert last_message(person).text.startswith(t("settings.news_resumed"))
    assert await me(services) == before


@LANGS
async def test_link_code_joins_two_accounts_once(services: Services, lang: str) -> None:
    t = Translator(lang)
    chat = harness(services)
    person = alice(chat, lang)
    challenge = await open_challenge(services)
    await person.command("/settings")
    await person.press(t("settings.button_link"))
    screen = last_message(person)
    assert screen.replaces
    found = re.search(r"/link ([A-Z0-9]{8})", screen.text)
    assert found is not None
    code = found[1]
    assert screen.text == t.plural("settings.link_code", 15, code=code)

    bob = chat.person("telegram:42", name="Bob", lang=lang)
    await bob.command("/settings")  # Telegram Bob exists on his own, with a pledge
    bob_before = await me(services, AccountRef.parse("telegram:42"))
    await services.pledges.pledge(bob_before.id, challenge.id)
    assert await bob.command("/link WRONGCOD") == [Message(t("error.link_code_invalid"))]
    assert (await me(services, AccountRef.parse("telegram:42"))).id == bob_before.id
    assert await person.command(f"/link {code}") == [Message(t("error.link_code_same"))]

    await bob.command(f"/link {code.lower()}")
    member = await me(services)
    assert bob.last_replies() == [
        Message(t("settings.linked", name="Alice", accounts="console:alice, telegram:42")),
        End(),
    ]
    assert (await me(services, AccountRef.parse("telegram:42"))).id == member.id
    assert [c.slug for _, c in await services.pledges.of_member(member.id)] == ["tri-lyon"]

    carol = chat.person("discord:7", name="Carol", lang=lang)
    assert await carol.command(f"/link {code}") == [Message(t("error.link_code_invalid"))]
    assert await services.members.accounts_of(member.id) == [
        ALICE,
        AccountRef.parse("telegram:42"),
    ]


async def test_link_command_without_a_code_gives_one(services: Services) -> None:
    chat = harness(services)
    await chat.command("/link")
    message = last_message(chat.alice)
    assert not message.replaces and "/link " in message.text
    assert [c.label for c in choices([message])] == [Translator("fr")("settings.button_back")]


@LANGS
async def test_my_data_exports_the_pledges_as_json(services: Services, lang: str) -> None:
    t = Translator(lang)
    chat = harness(services, Capabilities(max_text_length=300))
    person = alice(chat, lang)
    challenge = await open_challenge(services)
    await person.command("/settings")
    await services.pledges.pledge((await me(services)).id, challenge.id)
    await person.press(t("settings.button_data"))
    intro, *parts = person.last_texts()
    assert intro == t("settings.data_intro")
    assert len(parts) > 1  # long JSON is split by the engine, at line ends
    data = json.loads("\n".join(parts))
    assert [p["challenge"] for p in data["pledges"]] == ["tri-lyon"]
    assert data["member"]["display_name"] == "Alice"
    assert data["accounts"][0]["platform"] == "console"

    await person.command("/mydata")
    assert isinstance(person.last_replies()[-1], End)
    assert json.loads("\n".join(person.last_texts()[1:])) == data


@LANGS
async def test_forget_me_cancelled_changes_nothing(services: Services, lang: str) -> None:
    t = Translator(lang)
    chat = harness(services)
    person = alice(chat, lang)
    await person.command("/forgetme")
    before = await me(services)
    confirm = last_message(person)
    assert confirm.text == t("settings.forget_confirm", accounts="console:alice")
    await person.press(t("settings.button_forget_no"))
    assert last_message(person).text.startswith(t("settings.forget_cancelled"))
    assert await me(services) == before


@LANGS
async def test_forget_me_erases_and_keeps_the_count(services: Services, lang: str) -> None:
    t = Translator(lang)
    chat = harness(services)
    person = alice(chat, lang)
    challenge = await open_challenge(services)
    await person.command("/settings")
    before = await me(services)
    await services.members.set_location(before.id, Location("Lyon", None, None))
    await services.pledges.pledge(before.id, challenge.id)
    await person.press(t("settings.button_forget"))
    assert last_message(person).replaces
    await person.press(t("settings.button_forget_yes"))
    assert person.last_replies() == [Message(t("settings.forgotten"), replaces=True), End()]
    assert await services.members.find(ALICE) is None
    async with services.db.read() as conn:
        left = (await conn.execute(select(conversations.c.account_id))).scalars().all()
    assert "alice" not in left  # the conversation is erased too, not written back
    erased = await services.members.get(before.id)
    assert (erased.display_name, erased.location) == ("-", None)
    assert (await services.challenges.get(challenge.id)).pledge_count == 1

    await person.press_id(f"settings:forget_yes:{before.id}")  # pressed twice: no new victim
    assert person.last_texts() == [t("engine.stale_choice")]
    await person.command("/settings")
    fresh = await me(services)
    assert fresh.id != before.id and fresh.location is None
    assert await services.pledges.of_member(fresh.id) == []
    assert t("settings.menu_location", place=t("settings.place_none")) in person.last_texts()[0]


async def test_settings_are_refused_in_a_group(services: Services) -> None:
    chat = harness(services)
    group = ChatRef(Platform.TELEGRAM, "-100", is_group=True)
    bob = chat.person("telegram:42", name="Bob", lang="en", chat=group)
    for command in ("/settings", "/mydata", "/link", "/forgetme"):
        assert await bob.command(command) == [Message(Translator("en")("engine.private_only"))]


async def test_done_closes_the_menu(services: Services) -> None:
    chat = harness(services)
    await chat.command("/settings")
    await chat.press(Translator("fr")("settings.button_done"))
    assert chat.alice.last_replies() == [
        Message(Translator("fr")("settings.closed"), replaces=True),
        End(),
    ]
