"""The member's settings: language, reminders, place, news, linked accounts, their data.

`/settings` opens the menu; `/mydata`, `/forgetme` and `/link [CODE]` go straight to one
part (a code typed from another account joins it only once this member confirms); "STOP"
sent alone in the private chat silences everything the bot sends on its own, with an Undo
button that keeps working later. Buttons carry what they set, so an old button sets its own
value again instead of flipping whatever is current; nothing here keeps data between inputs.
"""

from __future__ import annotations

import json
import re
from functools import cache, partial
from zoneinfo import available_timezones

from conversations.flow import CommandSpec, Flow, Option, Turn, on
from conversations.flows.actions import (
    SettingsAskHour,
    SettingsAskQuiet,
    SettingsAskTimezone,
    SettingsChangePlace,
    SettingsData,
    SettingsDone,
    SettingsForget,
    SettingsForgetNo,
    SettingsForgetYes,
    SettingsHour,
    SettingsLanguages,
    SettingsLink,
    SettingsLinkNo,
    SettingsLinkYes,
    SettingsMenu,
    SettingsNews,
    SettingsPickPlace,
    SettingsPlace,
    SettingsReminders,
    SettingsRemovePlace,
    SettingsRestart,
    SettingsSetLanguage,
    SettingsSetReminder,
    SettingsWeekday,
)
from conversations.flows.place_input import picked_location, read_place
from conversations.flows.settings_screens import (
    back,
    quiet_hours,
    show_forget,
    show_languages,
    show_link_code,
    show_link_request,
    show_location,
    show_menu,
    show_reminders,
)
from conversations.model import LocationInput, StepInput, TextInput
from core.errors import Invalid, KoomError
from core.i18n import SUPPORTED_LOCALES
from core.models import Location
from core.reminder_rhythm import WEEKDAYS

# Both read text whose spaces are collapsed to one, and only short text: no regex here sees
# more than MAX_TIME_TEXT characters, nor has two unbounded repeats in a row.
_TIME = re.compile(r"^(\d{1,2}) ?(?:[h:.] ?(\d{2})?)? ?(?:([ap])\.?m\.?)?$", re.IGNORECASE)
_RANGE_SEPARATOR = re.compile(r" ?(?:[-–—]| (?:to|à) ) ?", re.IGNORECASE)
MAX_TIME_TEXT = 40
MAX_ZONE_NAME = 64
_NO_QUIET_HOURS = frozenset({"off", "none", "aucune", "aucun"})
HOURS = range(24)


class SettingsFlow(Flow):
    """The settings menu and its sub-menus."""

    name = "settings"
    commands = (
        CommandSpec("settings", private_menu=True),
        CommandSpec("mydata"),
        CommandSpec("forgetme"),
        CommandSpec("link", Option.CODE),
    )
    private_only = True  # settings show personal data
    keywords = frozenset({"stop", "STOP", "Stop"})

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        if command == "mydata":
            await _send_export(turn)
            turn.end()
        elif command == "forgetme":
            await show_forget(turn, replaces=False)
        elif command == "link" and args:
            await turn.services.links.request(turn.sender.account, args)
            turn.say("settings.link_requested")
            turn.end()
        elif command == "link":
            await _show_link(turn, replaces=False)
        else:
            await show_menu(turn, replaces=False)

    async def on_keyword(self, turn: Turn, keyword: str) -> None:
        """Answer "STOP": no news, broadcast or reminder any more, with a way back."""
        turn.set_member(await turn.services.members.stop(turn.member.id))
        undo = turn.choice(turn.t("settings.button_restart"), SettingsRestart())
        turn.send(turn.t("settings.stopped"), [[undo]])
        turn.end()

    @on(SettingsMenu)
    async def menu(self, turn: Turn, button: SettingsMenu) -> None:
        await show_menu(turn)

    @on(SettingsLanguages)
    async def languages(self, turn: Turn, button: SettingsLanguages) -> None:
        show_languages(turn)

    @on(SettingsSetLanguage)
    async def set_language(self, turn: Turn, button: SettingsSetLanguage) -> None:
        if button.locale not in SUPPORTED_LOCALES:
            raise KoomError("engine.stale_choice")
        turn.set_member(await turn.services.members.update(turn.member.id, language=button.locale))
        turn.set_locale(button.locale)
        await show_menu(turn, note=turn.t("settings.language_set"))

    @on(SettingsReminders)
    async def reminders(self, turn: Turn, button: SettingsReminders) -> None:
        show_reminders(turn)

    @on(SettingsSetReminder)
    async def set_reminder(self, turn: Turn, button: SettingsSetReminder) -> None:
        members = turn.services.members
        turn.set_member(await members.update(turn.member.id, reminder=button.preference))
        show_reminders(turn, note=turn.t("settings.saved"))

    @on(SettingsHour)
    async def hour(self, turn: Turn, button: SettingsHour) -> None:
        if button.hour not in HOURS:
            raise KoomError("engine.stale_choice")
        await _set_time(turn, (button.hour, 0), replaces=True)

    @on(SettingsAskHour)
    async def ask_hour(self, turn: Turn, button: SettingsAskHour) -> None:
        turn.ask_text("hour", "settings.hour_ask")

    @on(SettingsWeekday)
    async def weekday(self, turn: Turn, button: SettingsWeekday) -> None:
        if button.weekday not in WEEKDAYS:
            raise KoomError("engine.stale_choice")
        members = turn.services.members
        turn.set_member(await members.update(turn.member.id, reminder_weekday=button.weekday))
        show_reminders(turn, note=turn.t("settings.saved"))

    @on(SettingsAskQuiet)
    async def ask_quiet(self, turn: Turn, button: SettingsAskQuiet) -> None:
        quiet = quiet_hours(turn.t, turn.member.quiet_start, turn.member.quiet_end)
        turn.ask_text("quiet", "settings.quiet_ask", quiet=quiet)

    @on(SettingsAskTimezone)
    async def ask_timezone(self, turn: Turn, button: SettingsAskTimezone) -> None:
        turn.ask_text("timezone", "settings.timezone_ask", timezone=turn.member.timezone)

    @on(SettingsPlace)
    async def place(self, turn: Turn, button: SettingsPlace) -> None:
        show_location(turn)

    @on(SettingsChangePlace)
    async def change_place(self, turn: Turn, button: SettingsChangePlace) -> None:
        _ask_place(turn, "settings.location_ask")

    @on(SettingsPickPlace)
    async def pick_place(self, turn: Turn, button: SettingsPickPlace) -> None:
        await _set_place(turn, await picked_location(button.place))

    @on(SettingsRemovePlace)
    async def remove_place(self, turn: Turn, button: SettingsRemovePlace) -> None:
        turn.set_member(await turn.services.members.set_location(turn.member.id, None))
        show_location(turn, note=turn.t("settings.location_removed"))

    @on(SettingsNews)
    async def news(self, turn: Turn, button: SettingsNews) -> None:
        members = turn.services.members
        turn.set_member(await members.update(turn.member.id, news_opt_out=button.opt_out))
        note = "settings.news_stopped" if button.opt_out else "settings.news_resumed"
        await show_menu(turn, note=turn.t(note))

    @on(SettingsLink)
    async def link(self, turn: Turn, button: SettingsLink) -> None:
        await _show_link(turn, replaces=True)

    @on(SettingsLinkYes)
    async def link_yes(self, turn: Turn, button: SettingsLinkYes) -> None:
        await _confirm_link(turn, button.code)

    @on(SettingsLinkNo)
    async def link_no(self, turn: Turn, button: SettingsLinkNo) -> None:
        await turn.services.links.refuse(turn.member.id, button.code)
        turn.send(turn.t("settings.link_refused"), replaces=True)
        turn.end()

    @on(SettingsData)
    async def data(self, turn: Turn, button: SettingsData) -> None:
        await _send_export(turn)

    @on(SettingsForget)
    async def forget(self, turn: Turn, button: SettingsForget) -> None:
        await show_forget(turn, replaces=True)

    @on(SettingsForgetYes)
    async def forget_yes(self, turn: Turn, button: SettingsForgetYes) -> None:
        if button.member_id != turn.member.id:  # pressed again after forgetting: another member
            raise KoomError("engine.stale_choice")
        await turn.services.privacy.forget(turn.member.id)
        turn.send(turn.t("settings.forgotten"), replaces=True)
        turn.forget_session()

    @on(SettingsForgetNo)
    async def forget_no(self, turn: Turn, button: SettingsForgetNo) -> None:
        await show_menu(turn, note=turn.t("settings.forget_cancelled"))

    @on(SettingsDone)
    async def done(self, turn: Turn, button: SettingsDone) -> None:
        turn.send(turn.t("settings.closed"), replaces=True)
        turn.end()

    @on(SettingsRestart)
    async def restart(self, turn: Turn, button: SettingsRestart) -> None:
        turn.set_member(await turn.services.members.restart(turn.member.id))
        turn.send(turn.t("settings.restarted"), replaces=True)

    async def on_input(self, turn: Turn, step: str, value: StepInput) -> None:
        members = turn.services.members
        match step, value:
            case "hour", TextInput(text=text):
                await _set_time(turn, parse_time(text), replaces=False)
            case "quiet", TextInput(text=text):
                start, end = parse_quiet_hours(text)
                turn.set_member(
                    await members.update(turn.member.id, quiet_start=start, quiet_end=end)
                )
                show_reminders(turn, note=turn.t("settings.saved"), replaces=False)
            case "timezone", TextInput(text=text):
                zone = timezone_name(text)
                turn.set_member(await members.update(turn.member.id, timezone=zone))
                show_reminders(turn, note=turn.t("settings.saved"), replaces=False)
            case "place", TextInput() | LocationInput():
                again = partial(_ask_place, turn)
                place = await read_place(turn, value, SettingsPickPlace, ask_again=again)
                if place is not None:
                    await _set_place(turn, place)
            case _:  # a location where a time or a time zone is awaited
                raise KoomError("settings.type_answer")


def parse_time(text: str) -> tuple[int, int]:
    """(hour, minute) from "19", "7h", "18:30", "18h30", "6:30 pm", "7 pm"...;
    Invalid("settings.bad_time") otherwise."""
    typed = " ".join(text.split())
    found = _TIME.match(typed) if len(typed) <= MAX_TIME_TEXT else None
    if found is None:
        raise Invalid("settings.bad_time")
    hour, minute, suffix = int(found[1]), int(found[2] or 0), (found[3] or "").lower()
    if suffix and not 1 <= hour <= 12:
        raise Invalid("settings.bad_time")
    if suffix:
        hour = hour % 12 + (12 if suffix == "p" else 0)
    if hour > 23 or minute > 59:
        raise Invalid("settings.bad_time")
    return hour, minute


def parse_quiet_hours(text: str) -> tuple[int, int]:
    """A quiet window (start, end), in minutes after midnight, from "22:00-07:30", "22h-7h",
    "10 pm to 7 am"...; (0, 0), an empty window, from "off" or "aucune"."""
    typed = " ".join(text.split())
    if typed.casefold() in _NO_QUIET_HOURS:
        return 0, 0
    if len(typed) > MAX_TIME_TEXT:
        raise Invalid("settings.bad_quiet_hours")
    parts = _RANGE_SEPARATOR.split(typed)
    if len(parts) != 2:
        raise Invalid("settings.bad_quiet_hours")
    try:
        start, end = [hour * 60 + minute for hour, minute in map(parse_time, parts)]
    except Invalid:
        raise Invalid("settings.bad_quiet_hours") from None
    if start == end:
        raise Invalid("settings.quiet_hours_same")
    return start, end


@cache
def _zones() -> dict[str, str]:
    """Known time zones by their folded name, and by their unique city name."""
    zones = sorted(available_timezones())
    cities: dict[str, list[str]] = {}
    for zone in zones:
        cities.setdefault(zone.rpartition("/")[2].casefold(), []).append(zone)
    found = {city: names[0] for city, names in cities.items() if len(names) == 1}
    found.update({zone.casefold(): zone for zone in zones})
    return found


def timezone_name(text: str) -> str:
    """The IANA name meant by a typed one ("europe/paris", "New York"); else the text as
    typed, which the member service refuses with a clear message (a very long one is
    refused here)."""
    typed = "_".join(text.split())
    if len(typed) > MAX_ZONE_NAME:  # the longest IANA name has 32 characters
        raise Invalid("error.bad_timezone", timezone=typed[:MAX_ZONE_NAME] + "…")
    return _zones().get(typed.casefold(), typed)


async def _set_time(turn: Turn, when: tuple[int, int], *, replaces: bool) -> None:
    """Keep a reminder time (hour and minute together: one reschedule) and show it."""
    hour, minute = when
    members = turn.services.members
    turn.set_member(
        await members.update(turn.member.id, reminder_hour=hour, reminder_minute=minute)
    )
    show_reminders(turn, note=turn.t("settings.saved"), replaces=replaces)


def _ask_place(turn: Turn, key: str, /, **params: object) -> None:
    """Ask for a commune, a postcode or a shared location, with the way back."""
    skip = back(turn, SettingsPlace())
    turn.ask_location("place", key, skip=skip, button_key="engine.share_location", **params)


async def _set_place(turn: Turn, place: Location) -> None:
    turn.set_member(await turn.services.members.set_location(turn.member.id, place))
    note = turn.t("settings.location_saved", place=place.label)
    show_location(turn, note=note, replaces=False)


async def _send_export(turn: Turn) -> None:
    data = await turn.services.privacy.export(turn.member.id)
    turn.say("settings.data_intro")
    turn.send(json.dumps(data, indent=2, ensure_ascii=False))


async def _show_link(turn: Turn, *, replaces: bool) -> None:
    """Another account's request to join, to confirm or refuse; else a new code to type
    from the other account."""
    links = turn.services.links
    pending = await links.pending(turn.member.id)
    if pending is not None:
        show_link_request(turn, pending.code, pending.account, replaces=replaces)
    else:
        show_link_code(turn, await links.create_code(turn.member.id), replaces=replaces)


async def _confirm_link(turn: Turn, code: str) -> None:
    """The owner's yes: the other account joins this member."""
    merged = await turn.services.links.confirm(turn.member.id, code)
    turn.set_member(merged)
    accounts = await turn.services.members.accounts_of(merged.id)
    text = turn.t(
        "settings.linked", name=merged.display_name, accounts=", ".join(map(str, accounts))
    )
    turn.send(text, replaces=True)
    turn.end()
