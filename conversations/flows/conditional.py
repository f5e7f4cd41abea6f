"""`/pledgeif SLUG`: pledge "once N people are in" (in all, in my commune, in a group I take
part in, in my organisation). The pledge waits, counting nowhere, and becomes a real one when
its condition first holds."""

from __future__ import annotations

from conversations.flow import CommandSpec, Flow, Option, Turn, on
from conversations.flows.actions import CondScope
from conversations.flows.browse import visible_challenge
from conversations.model import Choice, StepInput, TextInput
from core.errors import KoomError
from core.models import ConditionScope

MAX_THRESHOLD = 1_000_000
STEP_COUNT = "count"
MAX_GROUPS = 5
"""Groups offered as scopes: those following the challenge first, then by title."""


class ConditionalPledgeFlow(Flow):
    """Ask for the number of people and whose pledges count, then record the condition."""

    name = "cond"
    commands = (CommandSpec("pledgeif", Option.CHALLENGE, private_menu=True),)
    private_only = True

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        if not args.strip():
            turn.say("cond.usage")
            turn.end()
            return
        challenge = await visible_challenge(turn, args.strip())
        turn.data["challenge_id"] = challenge.id
        turn.ask_text(STEP_COUNT, "cond.ask_count", title=challenge.title)

    async def on_input(self, turn: Turn, step: str, value: StepInput) -> None:
        text = value.text.strip() if isinstance(value, TextInput) else ""
        if step != STEP_COUNT or not text.isdigit() or not 0 < int(text) <= MAX_THRESHOLD:
            turn.say("cond.not_a_number")
            turn.step = step
            return
        threshold = int(text)
        rows = await _scopes(turn, threshold)
        if len(rows) == 1:  # in all: nothing to choose
            await _record(turn, ConditionScope.CHALLENGE, threshold, None)
            return
        place = turn.member.location
        if len(rows) == 2 and place is not None and place.name is not None:
            turn.send(turn.t("cond.ask_scope", n=threshold), rows)
        else:
            turn.send(turn.t("cond.ask_scope_among", n=threshold), rows)

    @on(CondScope)
    async def scope(self, turn: Turn, button: CondScope) -> None:
        """A group or an organisation needs its key; the other scopes take none."""
        keyed = button.scope in (ConditionScope.GROUP, ConditionScope.ORGANISATION)
        if keyed != (button.key is not None):
            raise KoomError("engine.stale_choice")
        await _record(turn, button.scope, button.threshold, button.key)


async def _scopes(turn: Turn, n: int) -> list[list[Choice]]:
    """One button per scope the member may count on: in all, their commune, the groups they
    take part in, their organisations."""
    rows = [[turn.choice(turn.t("cond.button_all"), CondScope(ConditionScope.CHALLENGE, n))]]
    place = turn.member.location
    if place is not None and place.name is not None:
        area = turn.t("cond.button_area", area=place.name)
        rows.append([turn.choice(area, CondScope(ConditionScope.AREA, n))])
    challenge_id = int(turn.recall("challenge_id"))
    following = {g.id for g in await turn.services.groups.followers(challenge_id)}
    groups = await turn.services.groups.of_member(turn.member.id)
    groups.sort(key=lambda g: g.id not in following)  # stable: by title within each
    for group in groups[:MAX_GROUPS]:
        label = turn.t("cond.button_group", group=group.title)
        rows.append([turn.choice(label, CondScope(ConditionScope.GROUP, n, group.id))])
    for organisation, _role in await turn.services.organisations.of_member(turn.member.id):
        label = turn.t("cond.button_organisation", organisation=organisation.name)
        scope = CondScope(ConditionScope.ORGANISATION, n, organisation.id)
        rows.append([turn.choice(label, scope)])
    return rows


async def _record(turn: Turn, scope: ConditionScope, threshold: int, key: int | None) -> None:
    challenge_id = int(turn.recall("challenge_id"))
    conditional = turn.services.conditional
    activated = await conditional.make(turn.member.id, challenge_id, scope, threshold, key)
    if turn.member.id in activated:
        turn.say("cond.met_now")
        turn.end()
        return
    waiting = await conditional.waiting(challenge_id)
    place = turn.member.location
    if scope is ConditionScope.AREA and place is not None and place.name:
        turn.say("cond.noted_area", n=threshold, area=place.name)
    elif scope in (ConditionScope.GROUP, ConditionScope.ORGANISATION):
        name = await _scope_name(turn, scope, key)
        turn.say("cond.noted_among", n=threshold, name=name)
    else:
        turn.say("cond.noted", n=threshold)
    turn.say_plural("card.conditional", waiting.count)
    turn.end()


async def _scope_name(turn: Turn, scope: ConditionScope, key: int | None) -> str:
    """The group's title or the organisation's name, as the member's buttons showed it."""
    if scope is ConditionScope.GROUP:
        groups = await turn.services.groups.of_member(turn.member.id)
        return next((g.title for g in groups if g.id == key), "")
    found = await turn.services.organisations.of_member(turn.member.id)
    return next((o.name for o, _ in found if o.id == key), "")
