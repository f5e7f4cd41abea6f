"""The member's settings: language, reminders, place, news, linked accounts, their data.

`/settings` opens the menu; `/mydata`, `/forgetme` and `/link [CODE]` go straight to one
part. Buttons carry what they set, so an old button sets its own value again instead of
flipping whatever is current; nothing here keeps data between inputs.
"""

from __future__ import annotations

import json
import re
from functools import cache
from zoneinfo import available_timezones

from conversations.flow import Flow, Turn
from conversations.flows.settings_screens import (
    back,
    show_forget,
    show_languages,
    show_link_code,
    show_location,
    show_menu,
    show_reminders,
)
from conversations.model import FormInput, LocationInput, TextInput
from core.errors import Invalid, KoomError
from core.i18n import SUPPORTED_LOCALES
from core.models import Location, ReminderPreference
from core.places import coarse_point, commune

_HOUR = re.compile(r"^(\d{1,2})\s*(?:h|:)?\s*(?:00)?\s*(am|pm)?$", re.IGNORECASE)
_REMINDERS = {pref.value for pref in ReminderPreference}


class SettingsFlow(Flow):
    """The settings menu and its sub-menus."""

    name = "settings"
    commands = ("settings", "mydata", "forgetme", "link")
    private_only = True  # settings show personal data

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        if command == "mydata":
            await _send_export(turn)
            turn.end()
        elif command == "forgetme":
            await show_forget(turn, replaces=False)
        elif command == "link" and args:
            await _redeem(turn, args)
        elif command == "link":
            code = await turn.services.members.create_link_code(turn.member.id)
            show_link_code(turn, code, replaces=False)
        else:
            await show_menu(turn, replaces=False)

    async def on_choice(self, turn: Turn, action: str, args: list[str]) -> None:
        members = turn.services.members
        match action, args:
            case "menu", []:
                await show_menu(turn)
            case "lang", []:
                show_languages(turn)
            case "lang_set", [code] if code in SUPPORTED_LOCALES:
                turn.set_member(await members.update(turn.member.id, language=code))
                turn.set_locale(code)
                await show_menu(turn, note=turn.t("settings.language_set"))
            case "rem", []:
                show_reminders(turn)
            case "rem_set", [value] if value in _REMINDERS:
                turn.set_member(await members.update(turn.member.id, reminder=value))
                show_reminders(turn, note=turn.t("settings.saved"))
            case "hour", [hour] if hour.isdigit():
                await _set_hour(turn, int(hour), replaces=True)
            case "hour_ask", []:
                turn.ask_text("hour", "settings.hour_ask")
            case "tz_ask", []:
                turn.ask_text("timezone", "settings.timezone_ask", timezone=turn.member.timezone)
            case "loc", []:
                show_location(turn)
            case "loc_change", []:
                turn.ask_location("place", "settings.location_ask", skip=back(turn, "loc"))
            case "loc_del", []:
                turn.set_member(await members.set_location(turn.member.id, None))
                show_location(turn, note=turn.t("settings.location_removed"))
            case "news", ["0" | "1" as flag]:
                opt_out = flag == "1"
                turn.set_member(await members.update(turn.member.id, news_opt_out=opt_out))
                note = "settings.news_stopped" if opt_out else "settings.news_resumed"
                await show_menu(turn, note=turn.t(note))
            case "link", []:
                code = await members.create_link_code(turn.member.id)
                show_link_code(turn, code, replaces=True)
            case "data", []:
                await _send_export(turn)
            case "forget", []:
                await show_forget(turn, replaces=True)
            case "forget_yes", [member_id] if member_id == str(turn.member.id):
                await turn.services.privacy.forget(turn.member.id)
                turn.send(turn.t("settings.forgotten"), replaces=True)
                turn.forget_session()
            case "forget_no", []:
                await show_menu(turn, note=turn.t("settings.forget_cancelled"))
            case "done", []:
                turn.send(turn.t("settings.closed"), replaces=True)
                turn.end()
            case _:  # e.g. "forget me" pressed again after forgetting: another member now
                raise KoomError("engine.stale_choice")

    async def on_input(
        self, turn: Turn, step: str, value: TextInput | LocationInput | FormInput
    ) -> None:
        members = turn.services.members
        match step, value:
            case "hour", TextInput(text=text):
                await _set_hour(turn, parse_hour(text), replaces=False)
            case "timezone", TextInput(text=text):
                zone = timezone_name(text)
                turn.set_member(await members.update(turn.member.id, timezone=zone))
                show_reminders(turn, note=turn.t("settings.saved"), replaces=False)
            case "place", TextInput(text=text):
                await _set_place(turn, commune(text))
            case "place", LocationInput(latitude=latitude, longitude=longitude):
                await _set_place(turn, coarse_point(latitude, longitude))
            case _:  # a location where an hour or a time zone is awaited
                raise KoomError("settings.type_answer")


def parse_hour(text: str) -> int:
    """An hour of the day from "19", "7h", "19:00", "7 pm"...; Invalid("error.bad_hour")."""
    found = _HOUR.match(text.strip())
    if found is None:
        raise Invalid("error.bad_hour")
    hour, suffix = int(found[1]), (found[2] or "").lower()
    if suffix and not 1 <= hour <= 12:
        raise Invalid("error.bad_hour")
    if suffix:
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    if not 0 <= hour <= 23:
        raise Invalid("error.bad_hour")
    return hour


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
    typed, which the member service refuses with a clear message."""
    typed = "_".join(text.split())
    return _zones().get(typed.casefold(), typed)


async def _set_hour(turn: Turn, hour: int, *, replaces: bool) -> None:
    turn.set_member(await turn.services.members.update(turn.member.id, reminder_hour=hour))
    show_reminders(turn, note=turn.t("settings.saved"), replaces=replaces)


async def _set_place(turn: Turn, place: Location) -> None:
    turn.set_member(await turn.services.members.set_location(turn.member.id, place))
    note = turn.t("settings.location_saved", place=place.label)
    show_location(turn, note=note, replaces=False)


async def _send_export(turn: Turn) -> None:
    data = await turn.services.privacy.export(turn.member.id)
    turn.say("settings.data_intro")
    turn.send(json.dumps(data, indent=2, ensure_ascii=False))


async def _redeem(turn: Turn, code: str) -> None:
    """Join this account to the member who made `code` (the service refuses bad codes)."""
    members = turn.services.members
    merged = await members.redeem_link_code(turn.sender.account, "".join(code.split()))
    turn.set_member(merged)
    if merged.language:
        turn.set_locale(merged.language)
    accounts = await members.accounts_of(merged.id)
    turn.say("settings.linked", name=merged.display_name, accounts=", ".join(map(str, accounts)))
    turn.end()
