"""The settings flow through the real engine, in French and in English: each setting changes
what it should and nothing else; bad answers change nothing."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from conversations.announcements import announcement_replies
from conversations.flows.settings import (
    SettingsFlow,
    parse_quiet_hours,
    parse_time,
    timezone_name,
)
from conversations.flows.settings_screens import clock, day_name, quiet_hours
from conversations.model import AskLocation, AskText, Capabilities, End, Message
from conversations.testing import ChatHarness, Person, choices
from core.db.tables import conversations, deliveries
from core.delivery.protocol import Notice
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


async def kept_place(
    services: Services, before: Member
) -> tuple[str | None, float | None, float | None]:
    """The place now kept for the member (name, latitude, longitude), checking that nothing
    else changed since `before`."""
    now = await me(services)
    assert now.location is not None and replace(now, location=before.location) == before
    return now.location.name, now.location.latitude, now.location.longitude


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
    every_day = t(
        "settings.reminders_at", frequency=t("settings.frequency_daily"), time=clock(t, 20 * 60)
    )
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
    assert await me(services) == replace(before, language=other, language_chosen=True)
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
    assert t("settings.reminders_quiet", quiet=quiet_hours(t, 21 * 60, 8 * 60)) in (
        last_message(person).text
    )
    await person.press(t("settings.button_rem_weekly"))
    screen = last_message(person)
    assert screen.replaces and screen.text.startswith(t("settings.saved"))
    assert t("settings.selected", label=t("settings.button_rem_weekly")) in [
        c.label for c in choices([screen])
    ]
    assert await me(services) == replace(before, reminder=ReminderPreference.WEEKLY)
    await person.press(clock(t, 20 * 60))
    assert last_message(person).replaces
    assert clock(t, 20 * 60) in last_message(person).text
    assert await me(services) == replace(
        before, reminder=ReminderPreference.WEEKLY, reminder_hour=20
    )
    await person.press(t("settings.button_rem_none"))
    assert await me(services) == replace(before, reminder=ReminderPreference.NONE, reminder_hour=20)


async def _pledged(services: Services, person: Person, reminder: str) -> tuple[int, int]:
    """The person's member id and a challenge they pledged to, with reminders on."""
    await person.command("/settings")
    member_id = (await me(services)).id
    challenge = await open_challenge(services)
    await services.members.update(member_id, reminder=reminder)
    await services.pledges.pledge(member_id, challenge.id)
    await services.reminders.schedule(member_id, challenge.id)
    return member_id, challenge.id


def march(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of March 2026, in UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@LANGS
async def test_a_typed_time_with_minutes_reschedules(services: Services, lang: str) -> None:
    t = Translator(lang)
    chat = harness(services)
    person = alice(chat, lang)
    member_id, challenge_id = await _pledged(services, person, "daily")
    before = await me(services)
    # The clock says Tuesday 10 March 2026, 09:00 UTC; Paris is UTC+1.
    assert await services.reminders.due_at(member_id, challenge_id) == march(10, 17)
    await person.command("/settings")
    await person.press(t("settings.button_reminders"))
    await person.press(t("settings.button_hour_other"))
    await person.text("18h30")
    screen = last_message(person)
    assert screen.text.startswith(t("settings.saved")) and not screen.replaces
    assert clock(t, 18 * 60 + 30) in screen.text
    assert await me(services) == replace(before, reminder_hour=18, reminder_minute=30)
    assert await services.reminders.due_at(member_id, challenge_id) == march(10, 17, 30)

    await person.press(clock(t, 8 * 60))  # a whole-hour button resets the minutes
    assert await me(services) == replace(before, reminder_hour=8, reminder_minute=0)
    assert await services.reminders.due_at(member_id, challenge_id) == march(11, 7)


@LANGS
async def test_a_typed_time_is_checked_before_it_is_kept(services: Services, lang: str) -> None:
    t = Translator(lang)
    chat = harness(services)
    person = alice(chat, lang)
    await person.command("/settings")
    before = await me(services)
    await person.press(t("settings.button_reminders"))
    await person.press(t("settings.button_hour_other"))
    assert person.last_replies() == [AskText(t("settings.hour_ask"))]
    for bad in ("25", "midi", "7:75", "18:3", "13 pm", "-1"):
        assert await person.text(bad) == [Message(t("settings.bad_time"))], bad
        assert await me(services) == before
    await person.text("6:30 pm")
    assert last_message(person).text.startswith(t("settings.saved"))
    assert not last_message(person).replaces
    assert await me(services) == replace(before, reminder_hour=18, reminder_minute=30)
    assert await person.text("8") == [Message(t("engine.not_understood"))]  # no longer asked


@LANGS
async def test_weekday_buttons_for_weekly_reminders(services: Services, lang: str) -> None:
    t = Translator(lang)
    chat = harness(services)
    person = alice(chat, lang)
    member_id, challenge_id = await _pledged(services, person, "daily")
    before = await me(services)
    await person.command("/settings")
    await person.press(t("settings.button_reminders"))
    monday = day_name(t, 0, "abbreviated")
    assert monday not in [c.label for c in choices([last_message(person)])]  # daily: no days
    await person.press(t("settings.button_rem_weekly"))
    screen = last_message(person)
    labels = [c.label for c in choices([screen])]
    assert t("settings.selected", label=monday) in labels
    assert [day_name(t, d, "abbreviated") in labels for d in range(1, 7)] == [True] * 6
    assert t("settings.reminders_day", day=day_name(t, 0)) in screen.text
    assert all(len(c.id.encode()) <= 64 for c in choices([screen]))
    assert await services.reminders.due_at(member_id, challenge_id) == march(16, 17)

    await person.press(day_name(t, 2, "abbreviated"))  # Wednesday
    screen = last_message(person)
    assert screen.replaces and screen.text.startswith(t("settings.saved"))
    assert t("settings.reminders_day", day=day_name(t, 2)) in screen.text
    assert await me(services) == replace(
        before, reminder=ReminderPreference.WEEKLY, reminder_weekday=2
    )
    assert await services.reminders.due_at(member_id, challenge_id) == march(11, 17)
    every = t("settings.reminders_weekly_at", day=day_name(t, 2), time=clock(t, 18 * 60))
    await person.press(t("settings.button_back"))
    assert t("settings.menu_reminders", reminders=every) in last_message(person).text
    await person.press_id("settings:day:7")
    assert person.last_texts() == [t("engine.stale_choice")]


@LANGS
async def test_quiet_hours_set_off_and_refused(services: Services, lang: str) -> None:
    t = Translator(lang)
    chat = harness(services)
    person = alice(chat, lang)
    member_id, challenge_id = await _pledged(services, person, "daily")
    before = await me(services)
    await person.command("/settings")
    await person.press(t("settings.button_reminders"))
    await person.press(t("settings.button_quiet"))
    current = quiet_hours(t, 21 * 60, 8 * 60)
    assert person.last_replies() == [AskText(t("settings.quiet_ask", quiet=current))]
    for bad, error in (
        ("22h", "settings.bad_quiet_hours"),
        ("22:00-25:00", "settings.bad_quiet_hours"),
        ("22h-7h-8h", "settings.bad_quiet_hours"),
        ("tonight", "settings.bad_quiet_hours"),
        ("22h-22h", "settings.quiet_hours_same"),
    ):
        assert await person.text(bad) == [Message(t(error))], bad
        assert await me(services) == before

    await person.text("17h-19h30")  # the 18:00 reminder waits for the end of the window
    screen = last_message(person)
    assert screen.text.startswith(t("settings.saved"))
    quiet = quiet_hours(t, 17 * 60, 19 * 60 + 30)
    assert t("settings.reminders_quiet", quiet=quiet) in screen.text
    assert await me(services) == replace(before, quiet_start=17 * 60, quiet_end=19 * 60 + 30)
    assert await services.reminders.due_at(member_id, challenge_id) == march(10, 18, 30)

    await person.press(t("settings.button_quiet"))
    await person.text("off" if lang == "en" else "aucune")
    assert t("settings.reminders_quiet", quiet=t("settings.quiet_off")) in (
        last_message(person).text
    )
    assert await me(services) == replace(before, quiet_start=0, quiet_end=0)
    assert await services.reminders.due_at(member_id, challenge_id) == march(10, 17)


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


def test_typed_times_and_time_zones() -> None:
    typed = ("0", "07", "19h", "19 h 00", "19:00", "12am", "12 PM", "18h30", "18:30", "18.30")
    assert [parse_time(h) for h in typed] == [
        (0, 0),
        (7, 0),
        (19, 0),
        (19, 0),
        (19, 0),
        (0, 0),
        (12, 0),
        (18, 30),
        (18, 30),
        (18, 30),
    ]
    assert [parse_time(h) for h in ("6:30 pm", "7 pm", "7 p.m.", "19")] == [
        (18, 30),
        (19, 0),
        (19, 0),
        (19, 0),
    ]
    for bad in ("24", "18:60", "0 pm", "18:300", "h30", ""):
        with pytest.raises(Invalid):
            parse_time(bad)
    assert timezone_name("Europe/Paris") == "Europe/Paris"
    assert timezone_name(" europe/PARIS ") == "Europe/Paris"
    assert timezone_name("brussels") == "Europe/Brussels"
    assert timezone_name("Nowhere") == "Nowhere"


def test_typed_quiet_hours() -> None:
    assert parse_quiet_hours("22:00-07:30") == (22 * 60, 7 * 60 + 30)
    assert parse_quiet_hours("22h - 7h") == (22 * 60, 7 * 60)
    assert parse_quiet_hours("22 h à 7 h") == (22 * 60, 7 * 60)
    assert parse_quiet_hours("10 pm to 6:30 am") == (22 * 60, 6 * 60 + 30)
    assert parse_quiet_hours("13h–14h") == (13 * 60, 14 * 60)
    assert [parse_quiet_hours(off) for off in ("off", " OFF ", "aucune", "None")] == [(0, 0)] * 4
    for bad in ("22h", "-7h", "22h-", "22h-7h-8h", "soon"):
        with pytest.raises(Invalid, match="bad_quiet_hours"):
            parse_quiet_hours(bad)
    with pytest.raises(Invalid, match="quiet_hours_same"):
        parse_quiet_hours("7h-07:00")


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
    assert isinstance(ask, AskLocation) and ask.prompt == t("settings.location_ask_typed")
    await person.text("12 rue ###")  # no such place: asked again, nothing kept
    assert person.last_texts() == [t("place.unknown_typed", text="12 rue ###")]
    assert await person.location(123.0, 4.0) == [Message(t("error.bad_coordinates"))]
    assert await me(services) == before

    await person.text("  saint-étienne ")
    assert last_message(person).text.startswith(t("settings.location_saved", place="Saint-Étienne"))
    assert await kept_place(services, before) == ("Saint-Étienne", 45.43, 4.39)  # its centre

    await person.press(t("settings.button_location_change"))
    await person.text("Saint-Denis")  # two large towns of that name, and small ones
    await person.press("Saint-Denis, La Réunion (974)")
    assert await kept_place(services, before) == ("Saint-Denis", -20.88, 55.45)

    await person.press(t("settings.button_location_change"))
    await person.location(45.761234, 4.835678)  # snapped to the commune's centre
    assert await kept_place(services, before) == ("Lyon", 45.75, 4.85)

    await person.press(t("settings.button_location_change"))
    await person.press(t("settings.button_back"))  # going back asks nothing and keeps it
    assert t("settings.location_current", place="Lyon") in last_message(person).text
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
    assert bob.last_replies() == [Message(t("settings.link_requested")), End()]
    assert (await me(services, AccountRef.parse("telegram:42"))).id == bob_before.id  # not yet
    carol = chat.person("discord:7", name="Carol", lang=lang)
    assert await carol.command(f"/link {code}") == [Message(t("error.link_code_invalid"))]

    # Alice, on her own account, is asked (the console gets no message: /link shows it)
    await person.command("/link")
    ask = last_message(person)
    assert ask.text == t("settings.link_confirm_ask", account="telegram:42")
    assert [c.label for c in choices([ask])] == [
        t("settings.button_link_ok"),
        t("settings.button_link_no"),
    ]
    await bob.press_id(choices([ask])[0].id)  # a forged yes from Bob is refused
    assert (await me(services, AccountRef.parse("telegram:42"))).id == bob_before.id
    await person.press(t("settings.button_link_ok"))
    member = await me(services)
    assert person.last_texts() == [
        t("settings.linked", name="Alice", accounts="console:alice, telegram:42")
    ]
    assert (await me(services, AccountRef.parse("telegram:42"))).id == member.id
    assert [c.slug for _, c in await services.pledges.of_member(member.id)] == ["tri-lyon"]
    assert await services.members.accounts_of(member.id) == [
        ALICE,
        AccountRef.parse("telegram:42"),
    ]


@LANGS
async def test_a_link_request_reaches_the_owners_chat_and_can_be_refused(
    services: Services, lang: str
) -> None:
    t = Translator(lang)
    chat = harness(services)
    owner = chat.person("telegram:42", name="Olga", lang=lang)
    await owner.command("/settings")
    olga = await me(services, AccountRef.parse("telegram:42"))
    await services.members.update(olga.id, language=lang)
    code = await services.links.create_code(olga.id)
    mallory = chat.person("discord:66", name="Mallory", lang="en")
    await mallory.command(f"/link {code}")
    [notice] = await pending_notices(services, olga.id)
    [request] = await announcement_replies(services, [notice])
    assert isinstance(request, Message)
    assert request.text == t("settings.link_confirm_ask", account="discord:66")
    await owner.press_id(choices([request])[1].id)  # "No", pressed from the message
    assert owner.last_texts() == [t("settings.link_refused")]
    assert await services.members.accounts_of(olga.id) == [AccountRef.parse("telegram:42")]
    assert await services.links.pending(olga.id) is None


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


async def test_forget_me_forgets_the_language_chosen_too(services: Services) -> None:
    """Who chose French in an English app and forgot themselves starts afresh: their app's
    language, and the language question again at /start."""
    en, fr = Translator("en"), Translator("fr")
    chat = ChatHarness(services)
    ann = chat.person("telegram:7", name="Ann", lang="en")
    await ann.command("/language")
    await ann.press(fr("common.language_name"))
    chosen = await services.members.find(AccountRef.parse("telegram:7"))
    assert chosen is not None and (chosen.language, chosen.language_chosen) == ("fr", True)
    await ann.command("/forgetme")
    await ann.press(fr("settings.button_forget_yes"))
    assert ann.last_texts() == [fr("settings.forgotten")]
    erased = await services.members.get(chosen.id)
    assert (erased.language, erased.language_chosen) == (None, False)

    await ann.command("/start")
    assert ann.last_texts() == [en("start.choose_language")]
    fresh = await services.members.find(AccountRef.parse("telegram:7"))
    assert fresh is not None and fresh.id != chosen.id
    assert (fresh.language, fresh.language_chosen) == ("en", False)


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


async def pending_notices(services: Services, member_id: int) -> list[Notice]:
    """The messages waiting to be sent to a member, as the delivery worker reads them."""
    async with services.db.read() as conn:
        rows = await conn.execute(
            select(deliveries).where(
                deliveries.c.member_id == member_id, deliveries.c.status == "pending"
            )
        )
        return [Notice(r.kind, r.challenge_id, r.locale, r.payload) for r in rows]
