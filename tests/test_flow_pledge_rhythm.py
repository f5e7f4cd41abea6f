"""Each pledge's reminder rhythm through the real engine: chosen while pledging, shown and
changed in /mypledges, bounded by the challenge, switched off for all in /settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conversations.buttons import pack
from conversations.flows.actions import MineReminder, MineSetReminder
from conversations.flows.settings_screens import clock, day_name
from conversations.testing import ChatHarness, Person, choices
from core.i18n import Translator
from core.models import Challenge, Frequency, Member, ReminderPreference
from core.services import Services
from tests.factories import open_challenge
from tests.test_flow_journey import member_of, onboard

LANGS = pytest.mark.parametrize("lang", ["fr", "en"])
LANGUAGE_BUTTON = {"fr": "Français", "en": "English"}
SIX_PM = 18 * 60


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def _pledge(person: Person, t: Translator, challenge: Challenge, reminder: str) -> str:
    """/pledge, yes, skip the place, then the reminder button labelled `reminder`; the text
    of the last reply."""
    await person.command(f"/pledge {challenge.slug}")
    await person.press(t("pledge.button_yes"))
    await person.press(t("pledge.button_skip"))
    await person.press(reminder)
    return person.last_texts()[0]


async def _person(services: Services, lang: str) -> tuple[Person, Translator]:
    person = ChatHarness(services).person("console:sam", name="Sam", lang=lang)
    await onboard(person, LANGUAGE_BUTTON[lang])
    return person, Translator(lang)


async def _two_pledges(
    services: Services, lang: str, first: str, second: str
) -> tuple[Person, Translator, Member, Challenge, Challenge]:
    """Sam pledged to "velo" with reminders `first` and to "tri" with `second` (keys)."""
    velo = await open_challenge(services, slug="velo")
    tri = await open_challenge(services, slug="tri")
    person, t = await _person(services, lang)
    await _pledge(person, t, velo, t(first))
    await _pledge(person, t, tri, t(second))
    return person, t, await member_of(services, person), velo, tri


@LANGS
async def test_weekly_for_a_second_pledge_leaves_the_first_daily(
    services: Services, lang: str
) -> None:
    velo = await open_challenge(services, slug="velo")
    tri = await open_challenge(services, slug="tri")
    person, t = await _person(services, lang)

    first = await _pledge(person, t, velo, t("pledge.reminder_daily"))
    assert first.startswith(t("rhythm.daily", time=clock(t, SIX_PM)))
    assert t("pledge.reminders_switched_on") not in first  # no other pledge to tell about
    second = await _pledge(person, t, tri, t("pledge.reminder_weekly"))
    monday = day_name(t, 0)
    assert second.startswith(t("rhythm.weekly", day=monday, time=clock(t, SIX_PM)))

    sam = await member_of(services, person)
    assert sam.reminder is ReminderPreference.DAILY  # switched on by the first choice
    assert await services.reminders.due_at(sam.id, velo.id) == _utc(2026, 3, 10, 17, 0)
    assert await services.reminders.due_at(sam.id, tri.id) == _utc(2026, 3, 16, 17, 0)


@LANGS
async def test_mypledges_shows_each_rhythm_and_changes_one_in_one_tap(
    services: Services, lang: str
) -> None:
    person, t, sam, velo, tri = await _two_pledges(
        services, lang, "pledge.reminder_daily", "pledge.reminder_none"
    )

    await person.command("/mypledges")
    [listing] = person.last_texts()
    assert t("rhythm.daily", time=clock(t, SIX_PM)) in listing
    assert t("rhythm.paused") in listing
    offered = choices(person.last_replies())
    assert [c.label for c in offered].count(t("mine.button_reminder")) == 2
    assert all(len(c.id.encode()) <= 64 for c in offered)

    await person.press_id(pack(MineReminder(velo.id)))
    [screen] = person.last_texts()
    assert velo.title in screen and t("rhythm.daily", time=clock(t, SIX_PM)) in screen
    labels = [c.label for c in choices(person.last_replies())]
    assert labels == [
        t("pledge.reminder_none"),
        t("pledge.reminder_daily"),
        t("pledge.reminder_weekly"),
        *(day_name(t, day, "abbreviated") for day in range(7)),
        t("mine.button_back"),
    ]

    await person.press(day_name(t, 4, "abbreviated"))  # weekly on Friday
    friday = t("rhythm.weekly", day=day_name(t, 4), time=clock(t, SIX_PM))
    [saved] = person.last_texts()
    assert saved.startswith(t("mine.reminder_saved", title=velo.title, reminder=friday))
    assert t("mine.title") in saved  # the list again, with the new rhythm
    assert await services.reminders.due_at(sam.id, velo.id) == _utc(2026, 3, 13, 17, 0)
    assert await services.reminders.is_paused(sam.id, tri.id)  # the other one is untouched

    await person.press_id(pack(MineReminder(tri.id)))
    await person.press(t("pledge.reminder_daily"))
    assert await services.reminders.due_at(sam.id, tri.id) == _utc(2026, 3, 10, 17, 0)
    assert await services.reminders.due_at(sam.id, velo.id) == _utc(2026, 3, 13, 17, 0)
    assert (await member_of(services, person)).reminder is ReminderPreference.DAILY


@LANGS
async def test_the_challenge_bounds_the_choices_and_forged_ones_change_nothing(
    services: Services, lang: str
) -> None:
    once = await open_challenge(services, slug="once", frequency=Frequency.ONCE)
    weekly = await open_challenge(services, slug="weekly", frequency=Frequency.WEEKLY)
    other = await open_challenge(services, slug="other")
    person, t = await _person(services, lang)

    await person.command(f"/pledge {once.slug}")
    await person.press(t("pledge.button_yes"))
    await person.press(t("pledge.button_skip"))
    assert [c.label for c in choices(person.last_replies())] == [
        t("pledge.reminder_none"),
        t("pledge.reminder_once"),
    ]
    await person.press(t("pledge.reminder_once"))
    assert person.last_texts()[0].startswith(t("rhythm.once", time=clock(t, SIX_PM)))
    await _pledge(person, t, weekly, t("pledge.reminder_weekly"))
    sam = await member_of(services, person)
    before = await services.reminders.of_member(sam.id)

    await person.command("/mypledges")
    await person.press_id(pack(MineReminder(weekly.id)))
    labels = [c.label for c in choices(person.last_replies())]
    assert t("pledge.reminder_daily") not in labels and t("pledge.reminder_weekly") in labels
    for forged in (  # never offered: refused before they reach the service, which refuses too
        pack(MineSetReminder(weekly.id, ReminderPreference.DAILY)),
        pack(MineSetReminder(once.id, ReminderPreference.WEEKLY, 2)),
        pack(MineSetReminder(other.id, ReminderPreference.DAILY)),
        f"mine:remind_set:{weekly.id}:weekly:9",
    ):
        await person.press_id(forged)
        assert person.last_texts() == [t("engine.stale_choice")], forged
    assert await services.reminders.of_member(sam.id) == before


@LANGS
async def test_settings_switch_off_all_and_a_pledge_choice_switches_them_on(
    services: Services, lang: str
) -> None:
    person, t, sam, velo, tri = await _two_pledges(
        services, lang, "pledge.reminder_weekly", "pledge.reminder_daily"
    )

    await person.command("/settings")
    await person.press(t("settings.button_reminders"))
    assert t("settings.reminders_question") in person.last_texts()[0]
    await person.press(t("settings.button_rem_none"))
    for challenge in (velo, tri):
        assert await services.reminders.due_at(sam.id, challenge.id) is None
    await person.command("/mypledges")
    assert person.last_texts()[0].count(t("rhythm.off_for_all")) == 2

    await person.press_id(pack(MineReminder(tri.id)))
    await person.press(t("pledge.reminder_daily"))
    assert t("pledge.reminders_switched_on") in person.last_texts()[0]
    monday = _utc(2026, 3, 16, 17, 0)
    assert await services.reminders.due_at(sam.id, velo.id) == monday  # its own rhythm again
    assert await services.reminders.due_at(sam.id, tri.id) == _utc(2026, 3, 10, 17, 0)


@LANGS
async def test_no_reminder_from_a_new_member_says_so_and_switches_nothing_on(
    services: Services, lang: str
) -> None:
    velo = await open_challenge(services, slug="velo")
    person, t = await _person(services, lang)

    thanks = await _pledge(person, t, velo, t("pledge.reminder_none"))

    assert thanks.startswith(t("rhythm.paused"))
    sam = await member_of(services, person)
    assert sam.reminder is ReminderPreference.NONE
    assert await services.reminders.is_paused(sam.id, velo.id)
