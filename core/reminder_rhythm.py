"""How often one pledge is reminded: the challenge's frequency, the pledge's own choice and the
member's settings combined, in this one place.

- The member's setting (`/settings`) is the default for pledges without a choice of their own,
  and its "none" switches reminders off for every pledge.
- A pledge's own choice (daily or weekly, and the day of weekly reminders) wins over that
  default; "no reminder" for one pledge pauses that pledge alone (the reminder row's `paused`).
- The challenge bounds what makes sense: a one-off action is reminded once (on or after its
  start), a weekly action weekly, a daily action daily or weekly.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import Invalid
from core.models import Frequency, ReminderPreference

WEEKDAYS = range(7)
"""0 = Monday."""

_CHOICES: dict[Frequency, tuple[ReminderPreference, ...]] = {
    Frequency.ONCE: (ReminderPreference.NONE, ReminderPreference.DAILY),
    Frequency.WEEKLY: (ReminderPreference.NONE, ReminderPreference.WEEKLY),
    Frequency.DAILY: (
        ReminderPreference.NONE,
        ReminderPreference.DAILY,
        ReminderPreference.WEEKLY,
    ),
}


@dataclass(frozen=True, slots=True)
class Rhythm:
    """When a pledge is reminded: once (a one-off action), every day, or weekly on `weekday`
    (0 = Monday)."""

    every: Frequency
    weekday: int | None = None


def choices(frequency: Frequency) -> tuple[ReminderPreference, ...]:
    """The reminder choices that make sense for a pledge to an action of `frequency`; for a
    one-off action DAILY stands for "remind me" (once)."""
    return _CHOICES[frequency]


def check_choice(frequency: Frequency, preference: ReminderPreference, weekday: int | None) -> None:
    """Refuse (Invalid) a choice the action's frequency does not allow, or a day given to
    anything but weekly reminders."""
    if preference not in choices(frequency):
        raise Invalid("error.reminder_rhythm")
    if weekday is not None and (
        weekday not in WEEKDAYS or ReminderPreference.WEEKLY not in (preference, frequency)
    ):
        raise Invalid("error.reminder_rhythm")


def rhythm_of(
    frequency: Frequency,
    member: ReminderPreference,
    member_weekday: int,
    own: ReminderPreference | None = None,
    own_weekday: int | None = None,
) -> Rhythm | None:
    """How a pledge is reminded given the member's setting (`member`, `member_weekday`) and
    the pledge's own choice (`own`, `own_weekday`; None: follow the member's); None when the
    member switched reminders off. A paused pledge is not reminded whatever this says."""
    if member is ReminderPreference.NONE:
        return None
    if frequency is Frequency.ONCE:
        return Rhythm(Frequency.ONCE)
    chosen = own or member
    if frequency is Frequency.WEEKLY or chosen is ReminderPreference.WEEKLY:
        return Rhythm(Frequency.WEEKLY, member_weekday if own_weekday is None else own_weekday)
    return Rhythm(Frequency.DAILY)
