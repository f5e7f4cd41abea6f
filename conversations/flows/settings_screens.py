"""The screens of the settings flow: the menu and its sub-menus, each one message with buttons.

Screens opened from a button replace the message that held it; `note` puts a confirmation
above a screen so the person sees what changed and what is set now, in one message.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time
from typing import Literal

from babel.dates import format_time, get_day_names

from conversations.buttons import Button
from conversations.flow import Turn
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
    SettingsPlace,
    SettingsReminders,
    SettingsRemovePlace,
    SettingsSetLanguage,
    SettingsSetReminder,
    SettingsWeekday,
)
from conversations.model import Choice
from core.i18n import SUPPORTED_LOCALES, Translator
from core.models import ReminderPreference
from core.services.linking import LINK_CODE_TTL

HOUR_BUTTONS = (8, 12, 18, 20)
DayWidth = Literal["abbreviated", "wide"]


def show(
    turn: Turn, text: str, rows: Sequence[Sequence[Choice]], *, note: str | None, replaces: bool
) -> None:
    """Send a screen, with an optional confirmation line above it."""
    turn.send(text if note is None else f"{note}\n\n{text}", rows, replaces)


def back(turn: Turn, to: Button | None = None) -> Choice:
    """The button that returns to the menu (or another screen)."""
    return turn.choice(turn.t("settings.button_back"), to or SettingsMenu())


def _mark(turn: Turn, label: str, selected: bool) -> str:
    return turn.t("settings.selected", label=label) if selected else label


def clock(t: Translator, minutes: int) -> str:
    """A time of day, `minutes` after midnight, as the locale writes it ("18:30", "6:30 PM")."""
    return format_time(time(minutes // 60, minutes % 60), "short", locale=t.babel_locale)


def day_name(t: Translator, weekday: int, width: DayWidth = "wide") -> str:
    """The name of a weekday (0 = Monday) in the locale: "lundi", or "Mon" when abbreviated."""
    return str(get_day_names(width, locale=t.babel_locale)[weekday])


def quiet_hours(t: Translator, start: int, end: int) -> str:
    """A quiet window in words ("21:00–08:00"), or that there is none."""
    if start == end:
        return t("settings.quiet_off")
    return t("settings.quiet_range", start=clock(t, start), end=clock(t, end))


def _reminder_time(turn: Turn) -> str:
    member = turn.member
    return clock(turn.t, member.reminder_hour * 60 + member.reminder_minute)


def _frequency(turn: Turn) -> str:
    return turn.t(f"settings.frequency_{turn.member.reminder.value}")


def reminder_summary(turn: Turn) -> str:
    """How often and when the member is reminded, in words."""
    t, member = turn.t, turn.member
    if member.reminder is ReminderPreference.NONE:
        return _frequency(turn)
    if member.reminder is ReminderPreference.WEEKLY:
        day = day_name(t, member.reminder_weekday)
        return t("settings.reminders_weekly_at", day=day, time=_reminder_time(turn))
    return t("settings.reminders_at", frequency=_frequency(turn), time=_reminder_time(turn))


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
        news = turn.choice(t("settings.button_news_on"), SettingsNews(opt_out=False))
    else:
        news = turn.choice(t("settings.button_news_off"), SettingsNews(opt_out=True))
    rows = [
        [
            turn.choice(t("settings.button_language"), SettingsLanguages()),
            turn.choice(t("settings.button_reminders"), SettingsReminders()),
        ],
        [turn.choice(t("settings.button_location"), SettingsPlace()), news],
        [turn.choice(t("settings.button_link"), SettingsLink())],
        [
            turn.choice(t("settings.button_data"), SettingsData()),
            turn.choice(t("settings.button_forget"), SettingsForget()),
        ],
        [turn.choice(t("settings.button_done"), SettingsDone())],
    ]
    show(turn, "\n".join(lines), rows, note=note, replaces=replaces)


def show_languages(turn: Turn) -> None:
    """One button per shipped language, each named in its own language."""
    buttons = [
        turn.choice(
            _mark(turn, Translator(code)("common.language_name"), code == turn.locale),
            SettingsSetLanguage(code),
        )
        for code in SUPPORTED_LOCALES
    ]
    show(turn, turn.t("settings.language_title"), [buttons, [back(turn)]], note=None, replaces=True)


def show_reminders(turn: Turn, *, note: str | None = None, replaces: bool = True) -> None:
    """How often, at what time, on which day (weekly) and in which time zone reminders come,
    and the quiet hours that hold them back."""
    t, member = turn.t, turn.member
    # The day serves weekly reminders and weekly challenges, whatever the frequency chosen.
    weekly = member.reminder is not ReminderPreference.NONE
    lines = [
        t(
            "settings.reminders_title",
            frequency=_frequency(turn),
            time=_reminder_time(turn),
            timezone=member.timezone,
        )
    ]
    if weekly:
        lines.append(t("settings.reminders_day", day=day_name(t, member.reminder_weekday)))
    quiet = quiet_hours(t, member.quiet_start, member.quiet_end)
    lines += [t("settings.reminders_quiet", quiet=quiet), "", t("settings.reminders_question")]
    rows = [_frequency_buttons(turn), _hour_buttons(turn)]
    if weekly:
        rows.append(_weekday_buttons(turn))
    rows += [
        [
            turn.choice(t("settings.button_hour_other"), SettingsAskHour()),
            turn.choice(t("settings.button_timezone"), SettingsAskTimezone()),
            turn.choice(t("settings.button_quiet"), SettingsAskQuiet()),
        ],
        [back(turn)],
    ]
    show(turn, "\n".join(lines), rows, note=note, replaces=replaces)


def _frequency_buttons(turn: Turn) -> list[Choice]:
    return [
        turn.choice(
            _mark(turn, turn.t(f"settings.button_rem_{pref.value}"), pref is turn.member.reminder),
            SettingsSetReminder(pref),
        )
        for pref in ReminderPreference
    ]


def _hour_buttons(turn: Turn) -> list[Choice]:
    member = turn.member
    current = member.reminder_hour * 60 + member.reminder_minute
    return [
        turn.choice(_mark(turn, clock(turn.t, h * 60), h * 60 == current), SettingsHour(h))
        for h in HOUR_BUTTONS
    ]


def _weekday_buttons(turn: Turn) -> list[Choice]:
    return [
        turn.choice(
            _mark(turn, day_name(turn.t, d, "abbreviated"), d == turn.member.reminder_weekday),
            SettingsWeekday(d),
        )
        for d in range(7)
    ]


def show_location(turn: Turn, *, note: str | None = None, replaces: bool = True) -> None:
    """The kept place, what is kept and why, and buttons to change or remove it."""
    t = turn.t
    buttons = [turn.choice(t("settings.button_location_change"), SettingsChangePlace())]
    if turn.member.location is not None:
        buttons.append(turn.choice(t("settings.button_location_remove"), SettingsRemovePlace()))
    text = f"{t('settings.location_current', place=place_label(turn))}\n\n"
    text += t("settings.location_explain")
    show(turn, text, [buttons, [back(turn)]], note=note, replaces=replaces)


def show_link_code(turn: Turn, code: str, *, replaces: bool) -> None:
    """The one-time code and how to use it from the other account."""
    minutes = int(LINK_CODE_TTL.total_seconds() // 60)
    text = turn.t.plural("settings.link_code", minutes, code=code)
    show(turn, text, [[back(turn)]], note=None, replaces=replaces)


def show_link_request(turn: Turn, code: str, account: str, *, replaces: bool) -> None:
    """Another account typed this member's code: join it, or not."""
    t = turn.t
    rows = [
        [
            turn.choice(t("settings.button_link_ok"), SettingsLinkYes(code)),
            turn.choice(t("settings.button_link_no"), SettingsLinkNo(code)),
        ]
    ]
    show(turn, t("settings.link_confirm_ask", account=account), rows, note=None, replaces=replaces)


async def show_forget(turn: Turn, *, replaces: bool) -> None:
    """What forgetting erases and what stays, with a confirmation button."""
    t = turn.t
    accounts = await turn.services.members.accounts_of(turn.member.id)
    rows = [
        [turn.choice(t("settings.button_forget_yes"), SettingsForgetYes(turn.member.id))],
        [turn.choice(t("settings.button_forget_no"), SettingsForgetNo())],
    ]
    text = t("settings.forget_confirm", accounts=", ".join(map(str, accounts)))
    show(turn, text, rows, note=None, replaces=replaces)
