"""`/pledgeif SLUG`: pledge "once N people are in" (in all, or in my commune). The pledge
waits, counting nowhere, and becomes a real one when its condition first holds."""

from __future__ import annotations

from conversations.flow import CommandSpec, Flow, Option, Turn
from conversations.model import StepInput, TextInput
from core.errors import KoomError
from core.models import ConditionScope

FLOW = "cond"
STEP_COUNT = "count"


class ConditionalPledgeFlow(Flow):
    """Ask for the number of people and whose pledges count, then record the condition."""

    name = FLOW
    commands = (CommandSpec("pledgeif", Option.CHALLENGE, private_menu=True),)
    private_only = True

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        if not args.strip():
            turn.say("cond.usage")
            turn.end()
            return
        challenge = await turn.services.challenges.by_slug(args.strip())
        turn.data["challenge_id"] = challenge.id
        turn.ask_text(STEP_COUNT, "cond.ask_count", title=challenge.title)

    async def on_input(self, turn: Turn, step: str, value: StepInput) -> None:
        text = value.text.strip() if isinstance(value, TextInput) else ""
        if step != STEP_COUNT or not text.isdigit() or not 0 < int(text) <= 1_000_000:
            turn.say("cond.not_a_number")
            turn.step = step
            return
        threshold = int(text)
        place = turn.member.location
        if place is None or place.name is None:
            await _record(turn, ConditionScope.CHALLENGE, threshold)
            return
        rows = [
            [turn.choice(turn.t("cond.button_all"), "scope", "challenge", threshold)],
            [turn.choice(turn.t("cond.button_area", area=place.name), "scope", "area", threshold)],
        ]
        turn.send(turn.t("cond.ask_scope", n=threshold), rows)

    async def on_choice(self, turn: Turn, action: str, args: list[str]) -> None:
        match action, args:
            case "scope", [("challenge" | "area") as scope, count] if count.isdigit():
                await _record(turn, ConditionScope(scope), int(count))
            case _:
                raise KoomError("engine.stale_choice")


async def _record(turn: Turn, scope: ConditionScope, threshold: int) -> None:
    challenge_id = int(turn.recall("challenge_id"))
    activated = await turn.services.conditional.make(turn.member.id, challenge_id, scope, threshold)
    if turn.member.id in activated:
        turn.say("cond.met_now")
    else:
        waiting = await turn.services.conditional.waiting(challenge_id)
        place = turn.member.location
        area = place.name if scope is ConditionScope.AREA and place is not None else None
        if area:
            turn.say("cond.noted_area", n=threshold, area=area)
        else:
            turn.say("cond.noted", n=threshold)
        turn.say_plural("card.conditional", waiting.count)
    turn.end()
