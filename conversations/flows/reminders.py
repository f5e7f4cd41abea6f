"""One-tap answers to a reminder: Done, Not yet, Snooze (1 h / tomorrow), Pause, Resume.

The reminder message is sent by the delivery worker, outside any conversation, so its buttons
are accepted unsolicited; each answer acts only on the pressing member's own reminder.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from conversations.flow import Flow, Turn
from conversations.flows.browse import arg_id
from conversations.flows.mine import check_in
from conversations.ids import pack
from conversations.model import Choice
from core.errors import KoomError, NotFound
from core.i18n import Translator
from core.models import Frequency

FLOW = "remind"
SNOOZE_HOURS = 1


def reminder_choices(t: Translator, challenge_id: int) -> tuple[tuple[Choice, ...], ...]:
    """The buttons under a reminder (built outside a turn: the worker sends it)."""

    def choice(key: str, action: str, *args: str | int) -> Choice:
        return Choice(pack(FLOW, action, challenge_id, *args), t(key))

    return (
        (choice("reminder.button_done", "done"), choice("reminder.button_not_yet", "notyet")),
        (
            choice("reminder.button_snooze_hour", "snooze", "1h"),
            choice("reminder.button_snooze_tomorrow", "snooze", "tmr"),
            choice("reminder.button_pause", "pause"),
        ),
    )


class ReminderFlow(Flow):
    """The answers to a reminder's buttons."""

    name = FLOW
    private_only = True
    unsolicited = frozenset({"done", "notyet", "snooze", "pause", "resume"})

    async def on_choice(self, turn: Turn, action: str, args: list[str]) -> None:
        """Every answer needs the member's active pledge first: a forged or old button for
        another challenge reveals nothing of it and changes nothing."""
        member_id = turn.member.id
        pledge = await turn.services.pledges.get(member_id, arg_id(args))
        if pledge is None or not pledge.active:
            raise NotFound("error.not_pledged")
        challenge = await turn.services.challenges.get(pledge.challenge_id)
        reminders = turn.services.reminders
        match action, args[1:]:
            case "done", []:
                await check_in(turn, challenge)
            case "notyet", []:
                if challenge.frequency is Frequency.ONCE:
                    due = await reminders.snooze(member_id, challenge.id, tomorrow=True)
                    turn.say("reminder.not_yet_once", when=_local(turn, due))
                else:
                    turn.say("reminder.not_yet", action=challenge.action)
            case "snooze", ["1h" | "tmr" as span]:
                if span == "1h":
                    due = await reminders.snooze(member_id, challenge.id, hours=SNOOZE_HOURS)
                else:
                    due = await reminders.snooze(member_id, challenge.id, tomorrow=True)
                turn.say("reminder.snoozed", when=_local(turn, due))
            case "pause", []:
                await reminders.pause(member_id, challenge.id)
                resume = turn.choice(turn.t("reminder.button_resume"), "resume", challenge.id)
                turn.send(turn.t("reminder.paused", title=challenge.title), [[resume]])
            case "resume", []:
                resumed = await reminders.schedule(member_id, challenge.id)
                if resumed is None:
                    turn.say("reminder.resumed_off")
                else:
                    turn.say("reminder.resumed", when=_local(turn, resumed))
            case _:
                raise KoomError("engine.stale_choice")
        turn.end()


def _local(turn: Turn, moment: datetime) -> datetime:
    """A moment on the member's own clock."""
    return moment.astimezone(ZoneInfo(turn.member.timezone))
