"""One pledge's reminder rhythm in words and as buttons, shared by the pledge flow and
/mypledges (the rules themselves are in `core.reminder_rhythm`)."""

from __future__ import annotations

from collections.abc import Callable

from conversations.buttons import Button
from conversations.flow import Turn
from conversations.flows.settings_screens import clock, day_name
from conversations.model import Choice
from core.i18n import Translator
from core.models import Frequency, Member, ReminderPreference
from core.reminder_rhythm import choices
from core.services.reminders import PledgeReminder


def rhythm_label(t: Translator, frequency: Frequency, preference: ReminderPreference) -> str:
    """A reminder choice's label: "No reminder", "Every day", "Every week"; "Remind me"
    for a one-off action's single reminder."""
    if frequency is Frequency.ONCE and preference is ReminderPreference.DAILY:
        return t("pledge.reminder_once")
    return t(f"pledge.reminder_{preference.value}")


def rhythm_buttons(
    turn: Turn, frequency: Frequency, button: Callable[[ReminderPreference], Button]
) -> list[Choice]:
    """One button per choice that makes sense for an action of `frequency`."""
    return [
        turn.choice(rhythm_label(turn.t, frequency, preference), button(preference))
        for preference in choices(frequency)
    ]


def rhythm_line(t: Translator, member: Member, reminder: PledgeReminder | None) -> str:
    """How a pledge is reminded, in words: "🔔 Every Monday at 18:00", "🔕 No reminder"...;
    marked when it follows the member's settings rather than a choice of its own."""
    if reminder is None or reminder.paused:
        return t("rhythm.paused")
    if member.reminder is ReminderPreference.NONE or reminder.rhythm is None:
        return t("rhythm.off_for_all")
    at = clock(t, member.reminder_hour * 60 + member.reminder_minute)
    rhythm = reminder.rhythm
    if rhythm.every is Frequency.WEEKLY and rhythm.weekday is not None:
        line = t("rhythm.weekly", day=day_name(t, rhythm.weekday), time=at)
    else:
        line = t(f"rhythm.{rhythm.every.value}", time=at)
    return line if reminder.own else t("rhythm.default", rhythm=line)
