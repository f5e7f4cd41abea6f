"""The screens of the settings flow: the menu and its sub-menus, each one message with buttons.

Screens opened from a button replace the message that held it; `note` puts a confirmation
above a screen so the person sees what changed and what is set now, in one message.
"""

from __future__ import annotations

from collections.abc import Sequence

from conversations.flow import Turn
from conversations.model import Choice
from core.i18n import SUPPORTED_LOCALES, Translator
from core.models import ReminderPreference
from core.services.members import LINK_CODE_TTL

HOUR_BUTTONS = (8, 12, 18, 20)


def show(
    turn: Turn, text: str, rows: Sequence[Sequence[Choice]], *, note: str | None, replaces: bool
) -> None:
    """Send a screen, with an optional confirmation line above it."""
    turn.send(text if note is None else f"{note}\n\n{text}", rows, replaces)


def back(turn: Turn, action: str = "menu") -> Choice:
    """The button that returns to the menu (or another screen)."""
    return turn.choice(turn.t("settings.button_back"), action)


def _mark(turn: Turn, label: str, selected: bool) -> str:
    return turn.t("settings.selected", label=label) if selected else label


def _hour(turn: Turn, hour: int) -> str:
    return turn.t("settings.hour", hour=hour)


def _frequency(turn: Turn) -> str:
    return turn.t(f"settings.frequency_{turn.member.reminder.value}")


def reminder_summary(turn: Turn) -> str:
    """How often and when the member is reminded, in words."""
    member = turn.member
    if member.reminder is ReminderPreference.NONE:
        return _frequency(turn)
    hour = _hour(turn, member.reminder_hour)
    return turn.t("settings.reminders_at", frequency=_frequency(turn), hour=hour)


def place_label(turn: Turn) -> str:
    """The member's coarse place, or that none is kept."""
    location = turn.member.location
    return turn.t("settings.place_none") if location is None else location.label


async def show_menu(turn: Turn, *, note: str | None = None, replaces: bool = True) -> None:
    """Every current value, with a button per setting."""
    t, member = turn.t, turn.member
    accounts = await turn.services.members.accounts_of(member.id)
    lines = [
        t("settings.menu_title"),
        t("settings.menu_language", language=t("common.language_name")),
        t("settings.menu_reminders", reminders=reminder_summary(turn)),
        t("settings.menu_timezone", timezone=member.timezone),
        t("settings.menu_location", place=place_label(turn)),
        t("settings.menu_news_off" if member.news_opt_out else "settings.menu_news_on"),
        t("settings.menu_accounts", accounts=", ".join(map(str, accounts))),
    ]
    if member.news_opt_out:
        news = turn.choice(t("settings.button_news_on"), "news", 0)
    else:
        news = turn.choice(t("settings.button_news_off"), "news", 1)
    rows = [
        [
            turn.choice(t("settings.button_language"), "lang"),
            turn.choice(t("settings.button_reminders"), "rem"),
        ],
        [turn.choice(t("settings.button_location"), "loc"), news],
        [turn.choice(t("settings.button_link"), "link")],
        [
            turn.choice(t("settings.button_data"), "data"),
            turn.choice(t("settings.button_forget"), "forget"),
        ],
        [turn.choice(t("settings.button_done"), "done")],
    ]
    show(turn, "\n".join(lines), rows, note=note, replaces=replaces)


def show_languages(turn: Turn) -> None:
    """One button per shipped language, each named in its own language."""
    buttons = [
        turn.choice(
            _mark(turn, Translator(code)("common.language_name"), code == turn.locale),
            "lang_set",
            code,
        )
        for code in SUPPORTED_LOCALES
    ]
    show(turn, turn.t("settings.language_title"), [buttons, [back(turn)]], note=None, replaces=True)


def show_reminders(turn: Turn, *, note: str | None = None, replaces: bool = True) -> None:
    """How often, at what hour and in which time zone reminders come."""
    t, member = turn.t, turn.member
    often = [
        turn.choice(
            _mark(turn, t(f"settings.button_rem_{pref.value}"), pref is member.reminder),
            "rem_set",
            pref.value,
        )
        for pref in ReminderPreference
    ]
    hours = [
        turn.choice(_mark(turn, _hour(turn, h), h == member.reminder_hour), "hour", h)
        for h in HOUR_BUTTONS
    ]
    rows = [
        often,
        hours,
        [
            turn.choice(t("settings.button_hour_other"), "hour_ask"),
            turn.choice(t("settings.button_timezone"), "tz_ask"),
        ],
        [back(turn)],
    ]
    text = t(
        "settings.reminders_title",
        frequency=_frequency(turn),
        hour=_hour(turn, member.reminder_hour),
        timezone=member.timezone,
    )
    show(turn, text, rows, note=note, replaces=replaces)


def show_location(turn: Turn, *, note: str | None = None, replaces: bool = True) -> None:
    """The kept place, what is kept and why, and buttons to change or remove it."""
    t = turn.t
    buttons = [turn.choice(t("settings.button_location_change"), "loc_change")]
    if turn.member.location is not None:
        buttons.append(turn.choice(t("settings.button_location_remove"), "loc_del"))
    text = f"{t('settings.location_current', place=place_label(turn))}\n\n"
    text += t("settings.location_explain")
    show(turn, text, [buttons, [back(turn)]], note=note, replaces=replaces)


def show_link_code(turn: Turn, code: str, *, replaces: bool) -> None:
    """The one-time code and how to use it from the other account."""
    minutes = int(LINK_CODE_TTL.total_seconds() // 60)
    text = turn.t.plural("settings.link_code", minutes, code=code)
    show(turn, text, [[back(turn)]], note=None, replaces=replaces)


async def show_forget(turn: Turn, *, replaces: bool) -> None:
    """What forgetting erases and what stays, with a confirmation button."""
    t = turn.t
    accounts = await turn.services.members.accounts_of(turn.member.id)
    rows = [
        [turn.choice(t("settings.button_forget_yes"), "forget_yes", turn.member.id)],
        [turn.choice(t("settings.button_forget_no"), "forget_no")],
    ]
    text = t("settings.forget_confirm", accounts=", ".join(map(str, accounts)))
    show(turn, text, rows, note=None, replaces=replaces)
