"""A member's pledges: list them with their reminder rhythm, check in ("I did it"), change a
pledge's reminders, withdraw."""

from __future__ import annotations

from functools import partial

from conversations.flow import CommandSpec, Flow, Option, Turn, on
from conversations.flows.actions import (
    BrowsePage,
    MineCheckIn,
    MineConfirmWithdraw,
    MineKeep,
    MineList,
    MineReminder,
    MineSetReminder,
    MineWithdraw,
)
from conversations.flows.browse import PAGE_SIZE, short, visible_challenge
from conversations.flows.pledge_rhythm import rhythm_buttons, rhythm_line
from conversations.flows.settings_screens import day_name
from conversations.model import Choice
from core.errors import Conflict, KoomError, NotFound
from core.i18n import Translator
from core.models import (
    Challenge,
    ChallengeStatus,
    Frequency,
    Member,
    Pledge,
    ReminderPreference,
)
from core.reminder_rhythm import WEEKDAYS
from core.services.reminders import PledgeReminder

CHOICES_SHOWN = PAGE_SIZE * 2


def streak_text(t: Translator, frequency: Frequency, streak: int) -> str:
    """ "3 days" or "2 weeks"; empty for a one-off action."""
    if frequency == Frequency.DAILY:
        return t.plural("mine.streak_days", streak)
    if frequency == Frequency.WEEKLY:
        return t.plural("mine.streak_weeks", streak)
    return ""


class MineFlow(Flow):
    """/mypledges, /checkin [SLUG], /withdraw [SLUG]."""

    name = "mine"
    private_only = True
    commands = (
        CommandSpec("mypledges", private_menu=True),
        CommandSpec("checkin", Option.CHALLENGE, private_menu=True),
        CommandSpec("withdraw", Option.CHALLENGE, private_menu=True),
    )

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        if command == "mypledges":
            await self._list(turn)
            return
        if args.strip():
            challenge = await visible_challenge(turn, args.strip())
            await self._act(turn, command, challenge)
            return
        pledged = await turn.services.pledges.of_member(turn.member.id)
        if not pledged:
            turn.say("mine.none")
        elif len(pledged) == 1:
            await self._act(turn, command, pledged[0][1])
        else:
            kind = MineCheckIn if command == "checkin" else MineWithdraw
            rows = [[turn.choice(short(c.title), kind(c.id))] for _, c in pledged[:CHOICES_SHOWN]]
            turn.send(turn.t(f"mine.which_{command}"), rows)

    @on(MineList)
    async def show_pledges(self, turn: Turn, button: MineList) -> None:
        await self._list(turn)

    @on(MineCheckIn)
    async def check_in_now(self, turn: Turn, button: MineCheckIn) -> None:
        await check_in(turn, await turn.services.challenges.get(button.challenge_id))

    @on(MineWithdraw)
    async def withdraw(self, turn: Turn, button: MineWithdraw) -> None:
        challenge = await turn.services.challenges.get(button.challenge_id)
        await self._confirm_withdraw(turn, challenge)

    @on(MineKeep)
    async def keep(self, turn: Turn, button: MineKeep) -> None:
        turn.say("mine.kept")
        turn.end()

    @on(MineReminder)
    async def reminder(self, turn: Turn, button: MineReminder) -> None:
        await self._ask_reminder(turn, await active_pledge(turn, button.challenge_id))

    @on(MineSetReminder)
    async def set_reminder(self, turn: Turn, button: MineSetReminder) -> None:
        challenge = await active_pledge(turn, button.challenge_id)
        services, member_id = turn.services, turn.member.id
        reminder, switched_on = await services.reminders.set_rhythm(
            member_id, challenge.id, button.preference, button.weekday
        )
        if switched_on:
            turn.set_member(await services.members.get(member_id))
        line = rhythm_line(turn.t, turn.member, reminder)
        note = turn.t("mine.reminder_saved", title=challenge.title, reminder=line)
        if switched_on:
            note += "\n" + turn.t("pledge.reminders_switched_on")
        await self._list(turn, note=note)

    @on(MineConfirmWithdraw)
    async def confirm(self, turn: Turn, button: MineConfirmWithdraw) -> None:
        await self._withdraw(turn, button.challenge_id)

    async def _act(self, turn: Turn, command: str, challenge: Challenge) -> None:
        if command == "checkin":
            await check_in(turn, challenge)
        else:
            await self._confirm_withdraw(turn, challenge)

    async def _list(self, turn: Turn, note: str | None = None) -> None:
        """Every active pledge with its streak and reminder rhythm, and buttons to check in,
        change its reminders or withdraw."""
        t = turn.t
        pledged = await turn.services.pledges.of_member(turn.member.id)
        if not pledged:
            browse = turn.choice(t("mine.button_browse"), BrowsePage(0))
            turn.send(t("mine.none"), [[browse]])
            return
        lines = [t("mine.title")] if note is None else [note, t("mine.title")]
        joined = await turn.services.referrals.joined_through(turn.member.id)
        reminders = await turn.services.reminders.of_member(turn.member.id)
        rows: list[list[Choice]] = []
        for pledge, challenge in pledged:
            reminder = reminders.get(challenge.id)
            lines.append(_pledge_line(t, pledge, challenge, turn.member, reminder))
            if len(rows) < CHOICES_SHOWN:
                label = short(challenge.title, 30)
                rows.append(
                    [
                        turn.choice(
                            t("mine.button_checkin", title=label), MineCheckIn(challenge.id)
                        ),
                        turn.choice(t("mine.button_reminder"), MineReminder(challenge.id)),
                        turn.choice(t("mine.button_withdraw"), MineWithdraw(challenge.id)),
                    ]
                )
        if joined:
            lines.append(t.plural("people.referrals_total", joined))
        turn.send("\n\n".join(lines), rows)

    async def _ask_reminder(self, turn: Turn, challenge: Challenge) -> None:
        """One pledge's reminders now, and one tap to change them: none, daily, weekly on
        the member's day, or weekly on another day."""
        t = turn.t
        reminder = (await turn.services.reminders.of_member(turn.member.id)).get(challenge.id)
        rows = [rhythm_buttons(turn, challenge.frequency, partial(MineSetReminder, challenge.id))]
        if challenge.frequency is not Frequency.ONCE:
            weekly = partial(MineSetReminder, challenge.id, ReminderPreference.WEEKLY)
            rows.append(
                [turn.choice(day_name(t, day, "abbreviated"), weekly(day)) for day in WEEKDAYS]
            )
        rows.append([turn.choice(t("mine.button_back"), MineList())])
        current = rhythm_line(t, turn.member, reminder)
        text = t("mine.reminder_ask", title=challenge.title, reminder=current)
        turn.send(text, rows)

    async def _confirm_withdraw(self, turn: Turn, challenge: Challenge) -> None:
        """Ask before withdrawing; refuse at once when the challenge no longer allows it."""
        await active_pledge(turn, challenge.id)
        if challenge.status != ChallengeStatus.OPEN:
            raise Conflict("error.withdraw_closed")
        turn.data["withdraw"] = challenge.id
        t = turn.t
        yes = turn.choice(t("mine.button_confirm_withdraw"), MineConfirmWithdraw(challenge.id))
        no = turn.choice(t("mine.button_keep"), MineKeep(challenge.id))
        turn.send(t("mine.confirm_withdraw", title=challenge.title), [[yes, no]])

    async def _withdraw(self, turn: Turn, challenge_id: int) -> None:
        if turn.recall("withdraw") != challenge_id:
            raise KoomError("engine.stale_choice")
        challenge = await turn.services.challenges.get(challenge_id)
        await turn.services.pledges.withdraw(turn.member.id, challenge_id)
        turn.say("mine.withdrawn", title=challenge.title, slug=challenge.slug)
        turn.end()


async def active_pledge(turn: Turn, challenge_id: int) -> Challenge:
    """The challenge of the member's active pledge: a forged or old button for another
    challenge reveals nothing of it and changes nothing (NotFound)."""
    pledge = await turn.services.pledges.get(turn.member.id, challenge_id)
    if pledge is None or not pledge.active:
        raise NotFound("error.not_pledged")
    return await turn.services.challenges.get(pledge.challenge_id)


async def check_in(turn: Turn, challenge: Challenge) -> None:
    """Record today's action; a second one the same day changes nothing."""
    t = turn.t
    result = await turn.services.checkins.check_in(turn.member.id, challenge.id)
    if not result.recorded:
        turn.say("mine.already_today", title=challenge.title)
        return
    streak = streak_text(t, challenge.frequency, result.streak)
    lines = [t("mine.checked_in", streak=streak) if streak else t("mine.checked_in_once")]
    progress = await turn.services.progress.of(challenge.id)
    if progress.collective_impact and challenge.impact_unit:
        impact = progress.collective_impact
        lines.append(t("mine.impact", impact=impact, unit=challenge.impact_unit))
    turn.send("\n".join(lines))


def _pledge_line(
    t: Translator,
    pledge: Pledge,
    challenge: Challenge,
    member: Member,
    reminder: PledgeReminder | None,
) -> str:
    """One pledge: its title and action, then its streak and how often it was done, then
    how it is reminded."""
    head = t("mine.line", title=challenge.title, action=challenge.action)
    if not pledge.checkin_total:
        done = t("mine.not_done_yet")
    elif challenge.frequency == Frequency.ONCE:
        done = t("mine.done_once")
    else:
        streak = streak_text(t, challenge.frequency, pledge.streak)
        best = streak_text(t, challenge.frequency, pledge.best_streak)
        done = t.plural("mine.streak_line", pledge.checkin_total, streak=streak, best=best)
    return f"{head}\n{done}\n  {rhythm_line(t, member, reminder)}"
