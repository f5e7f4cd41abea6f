"""One-tap answers to a reminder: Done, Not yet, Snooze (1 h / tomorrow), Pause, Resume.

The reminder message is sent by the delivery worker, outside any conversation, so its buttons
are accepted unsolicited; each answer acts only on the pressing member's own reminder.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from conversations.buttons import Button, pack
from conversations.flow import Flow, Turn, on
from conversations.flows.actions import (
    RemindDone,
    RemindNotYet,
    RemindPause,
    RemindResume,
    RemindSnooze,
    Snooze,
)
from conversations.flows.mine import active_pledge, check_in
from conversations.model import Choice
from core.i18n import Translator
from core.models import Frequency

SNOOZE_HOURS = 1


def reminder_choices(t: Translator, challenge_id: int) -> tuple[tuple[Choice, ...], ...]:
    """The buttons under a reminder (built outside a turn: the worker sends it)."""

    def choice(key: str, button: Button) -> Choice:
        return Choice(pack(button), t(key))

    return (
        (
            choice("reminder.button_done", RemindDone(challenge_id)),
            choice("reminder.button_not_yet", RemindNotYet(challenge_id)),
        ),
        (
            choice("reminder.button_snooze_hour", RemindSnooze(challenge_id, Snooze.HOUR)),
            choice("reminder.button_snooze_tomorrow", RemindSnooze(challenge_id, Snooze.TOMORROW)),
            choice("reminder.button_pause", RemindPause(challenge_id)),
        ),
    )


class ReminderFlow(Flow):
    """The answers to a reminder's buttons."""

    name = "remind"
    private_only = True

    @on(RemindDone)
    async def done(self, turn: Turn, button: RemindDone) -> None:
        await check_in(turn, await active_pledge(turn, button.challenge_id))
        turn.end()

    @on(RemindNotYet)
    async def not_yet(self, turn: Turn, button: RemindNotYet) -> None:
        challenge = await active_pledge(turn, button.challenge_id)
        if challenge.frequency is Frequency.ONCE:
            due = await turn.services.reminders.snooze(turn.member.id, challenge.id, tomorrow=True)
            turn.say("reminder.not_yet_once", when=_local(turn, due))
        else:
            turn.say("reminder.not_yet", action=challenge.action)
        turn.end()

    @on(RemindSnooze)
    async def snooze(self, turn: Turn, button: RemindSnooze) -> None:
        challenge = await active_pledge(turn, button.challenge_id)
        reminders, member_id = turn.services.reminders, turn.member.id
        if button.span is Snooze.HOUR:
            due = await reminders.snooze(member_id, challenge.id, hours=SNOOZE_HOURS)
        else:
            due = await reminders.snooze(member_id, challenge.id, tomorrow=True)
        turn.say("reminder.snoozed", when=_local(turn, due))
        turn.end()

    @on(RemindPause)
    async def pause(self, turn: Turn, button: RemindPause) -> None:
        challenge = await active_pledge(turn, button.challenge_id)
        await turn.services.reminders.pause(turn.member.id, challenge.id)
        resume = turn.choice(turn.t("reminder.button_resume"), RemindResume(challenge.id))
        turn.send(turn.t("reminder.paused", title=challenge.title), [[resume]])
        turn.end()

    @on(RemindResume)
    async def resume(self, turn: Turn, button: RemindResume) -> None:
        challenge = await active_pledge(turn, button.challenge_id)
        resumed = await turn.services.reminders.schedule(turn.member.id, challenge.id)
        if resumed is None:
            turn.say("reminder.resumed_off")
        else:
            turn.say("reminder.resumed", when=_local(turn, resumed))
        turn.end()


def _local(turn: Turn, moment: datetime) -> datetime:
    """A moment on the member's own clock."""
    return moment.astimezone(ZoneInfo(turn.member.timezone))
