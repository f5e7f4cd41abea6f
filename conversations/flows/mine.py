"""A member's pledges: list them, check in ("I did it"), withdraw."""

from __future__ import annotations

from conversations.flow import CommandSpec, Flow, Option, Turn, on
from conversations.flows.actions import (
    BrowsePage,
    MineCheckIn,
    MineConfirmWithdraw,
    MineKeep,
    MineList,
    MineWithdraw,
)
from conversations.flows.browse import PAGE_SIZE, short, visible_challenge
from conversations.model import Choice
from core.errors import Conflict, KoomError, NotFound
from core.i18n import Translator
from core.models import Challenge, ChallengeStatus, Frequency, Pledge

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

    @on(MineConfirmWithdraw)
    async def confirm(self, turn: Turn, button: MineConfirmWithdraw) -> None:
        await self._withdraw(turn, button.challenge_id)

    async def _act(self, turn: Turn, command: str, challenge: Challenge) -> None:
        if command == "checkin":
            await check_in(turn, challenge)
        else:
            await self._confirm_withdraw(turn, challenge)

    async def _list(self, turn: Turn) -> None:
        """Every active pledge with its streak, and buttons to check in or withdraw."""
        t = turn.t
        pledged = await turn.services.pledges.of_member(turn.member.id)
        if not pledged:
            browse = turn.choice(t("mine.button_browse"), BrowsePage(0))
            turn.send(t("mine.none"), [[browse]])
            return
        lines = [t("mine.title")]
        joined = await turn.services.referrals.joined_through(turn.member.id)
        rows: list[list[Choice]] = []
        for pledge, challenge in pledged:
            lines.append(_pledge_line(t, pledge, challenge))
            if len(rows) < CHOICES_SHOWN:
                label = short(challenge.title, 30)
                rows.append(
                    [
                        turn.choice(
                            t("mine.button_checkin", title=label), MineCheckIn(challenge.id)
                        ),
                        turn.choice(t("mine.button_withdraw"), MineWithdraw(challenge.id)),
                    ]
                )
        if joined:
            lines.append(t.plural("people.referrals_total", joined))
        turn.send("\n\n".join(lines), rows)

    async def _confirm_withdraw(self, turn: Turn, challenge: Challenge) -> None:
        """Ask before withdrawing; refuse at once when the challenge no longer allows it."""
        pledge = await turn.services.pledges.get(turn.member.id, challenge.id)
        if pledge is None or not pledge.active:
            raise NotFound("error.not_pledged")
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


def _pledge_line(t: Translator, pledge: Pledge, challenge: Challenge) -> str:
    """One pledge: its title and action, then its streak and how often it was done."""
    head = t("mine.line", title=challenge.title, action=challenge.action)
    if not pledge.checkin_total:
        return f"{head}\n{t('mine.not_done_yet')}"
    if challenge.frequency == Frequency.ONCE:
        return f"{head}\n{t('mine.done_once')}"
    streak = streak_text(t, challenge.frequency, pledge.streak)
    best = streak_text(t, challenge.frequency, pledge.best_streak)
    return (
        head + "\n" + t.plural("mine.streak_line", pledge.checkin_total, streak=streak, best=best)
    )
