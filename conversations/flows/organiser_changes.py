"""What an organiser changes by typing: the wording or deadline, a new (stretch) tier, the
proof that a sponsor kept its promise. The awaited target lives in `turn.data`; a bad answer
is explained and asked again, and nothing changes until a good one comes.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from conversations.flow import Turn
from conversations.flows.actions import ManageField, ManageKeep, ManageOpen
from conversations.flows.organiser_input import (
    FIELD_NAMES,
    BadAnswer,
    explain,
    local_day,
    parse_deadline,
    parse_tier,
)
from conversations.flows.organiser_manage import short, show_panel
from core.drafts import ChallengeDraft
from core.errors import Conflict, Invalid, KoomError
from core.models import Challenge, ChallengeStatus

STEP_EDIT = "edit"
STEP_ADD_TIER = "add_tier"
STEP_PROOF = "proof"
EDITABLE = ("title", "action", "description", "deadline")
EDIT_PROMPTS = {
    "title": "organiser.edit.prompt",
    "action": "organiser.edit.prompt",
    "description": "organiser.edit.prompt_description",
    "deadline": "organiser.edit.prompt_deadline",
}
CLEAR_DESCRIPTION = "-"
CURRENT_LIMIT = 500


async def ask_field(turn: Turn, challenge_id: int) -> None:
    """Which wording (or the deadline) to change."""
    challenge = await _changeable(turn, challenge_id)
    buttons = [turn.choice(turn.t(FIELD_NAMES[f]), ManageField(challenge_id, f)) for f in EDITABLE]
    back = turn.choice(turn.t("organiser.action.back"), ManageOpen(challenge_id))
    turn.send(
        turn.t("organiser.edit.which", title=challenge.title),
        [buttons[:2], buttons[2:], [back]],
    )


async def ask_edit(turn: Turn, challenge_id: int, field: str) -> None:
    """Show the current value and ask for the new one."""
    if field not in EDITABLE:
        raise Invalid("error.not_editable", field=field)
    challenge = await _changeable(turn, challenge_id)
    turn.data["edit"] = {"id": challenge_id, "field": field}
    current: object = (
        local_day(challenge.deadline, turn.member.timezone)
        if field == "deadline"
        else short(getattr(challenge, field), CURRENT_LIMIT) or "—"
    )
    turn.ask_text(STEP_EDIT, EDIT_PROMPTS[field], field=turn.t(FIELD_NAMES[field]), current=current)


async def on_edit(turn: Turn, text: str) -> None:
    """Check and save the new value, or ask again."""
    target = turn.recall("edit")
    challenge_id, field = int(target["id"]), str(target["field"])
    challenge = await turn.services.challenges.get(challenge_id)
    try:
        value = _edited_value(turn, challenge, field, text)
    except BadAnswer as bad:
        turn.send(bad.message)
        await ask_edit(turn, challenge_id, field)
        return
    try:
        updated = await turn.services.challenges.edit(challenge_id, **{field: value})
    except Conflict as error:
        _give_up(turn, error)
        return
    turn.say("organiser.edit.saved", field=turn.t(FIELD_NAMES[field]))
    show_panel(turn, updated)
    turn.end()


async def _changeable(turn: Turn, challenge_id: int) -> Challenge:
    """The challenge, unless it is closed (Conflict)."""
    challenge = await turn.services.challenges.get(challenge_id)
    if challenge.status == ChallengeStatus.CLOSED:
        raise Conflict("error.challenge_closed")
    return challenge


def _give_up(turn: Turn, error: KoomError) -> None:
    """Say why the awaited answer cannot be used any more, and stop awaiting it."""
    turn.say(error.key, **error.params)
    turn.end()


def _edited_value(turn: Turn, challenge: Challenge, field: str, text: str) -> str | datetime:
    if field == "deadline":
        return parse_deadline(turn.t, text, turn.member.timezone, turn.clock.now())
    value = "" if field == "description" and text.strip() == CLEAR_DESCRIPTION else text
    current = {
        "title": challenge.title,
        "action": challenge.action,
        "description": challenge.description,
        "goal": challenge.goal,
        "deadline": challenge.deadline,
    }
    try:
        ChallengeDraft.model_validate(current | {field: value})
    except ValidationError as error:
        problem = explain(turn.t, error).get(field)
        if problem:
            raise BadAnswer(problem) from None
    return value


async def ask_stretch(turn: Turn, challenge_id: int) -> None:
    """Ask for a new tier above the current count."""
    challenge = await _changeable(turn, challenge_id)
    turn.data["tier_for"] = challenge_id
    turn.ask_text(STEP_ADD_TIER, "organiser.tier.prompt", count=challenge.pledge_count)


async def on_stretch(turn: Turn, text: str) -> None:
    """Add the tier, or say why not and ask again."""
    challenge_id = int(turn.recall("tier_for"))
    try:
        tier = parse_tier(turn.t, text)
        challenge = await turn.services.challenges.add_tier(challenge_id, tier)
    except BadAnswer as bad:
        turn.send(bad.message)
        await ask_stretch(turn, challenge_id)
        return
    except Invalid as error:
        turn.say(error.key, **error.params)
        await ask_stretch(turn, challenge_id)
        return
    except Conflict as error:
        _give_up(turn, error)
        return
    turn.say("organiser.tier.added", **tier.model_dump())
    show_panel(turn, challenge)
    turn.end()


async def ask_kept(turn: Turn, challenge_id: int) -> None:
    """Which unlocked tier's promise was kept."""
    challenge = await turn.services.challenges.get(challenge_id)
    waiting = [tier for tier in challenge.tiers if tier.unlocked_at and not tier.kept_at]
    if not waiting:
        turn.say("organiser.kept.none")
        return
    rows = [
        [
            turn.choice(
                short(
                    turn.t("organiser.kept.tier", threshold=tier.threshold, sponsor=tier.sponsor)
                ),
                ManageKeep(challenge_id, tier.id),
            )
        ]
        for tier in waiting
    ]
    rows.append([turn.choice(turn.t("organiser.action.back"), ManageOpen(challenge_id))])
    turn.send(turn.t("organiser.kept.which"), rows)


async def ask_proof(turn: Turn, challenge_id: int, tier_id: int) -> None:
    """Ask for the proof that the promise was kept."""
    challenge = await turn.services.challenges.get(challenge_id)
    tier = next((tier for tier in challenge.tiers if tier.id == tier_id), None)
    if tier is None:
        turn.say("error.tier_not_found")
        return
    turn.data["keep"] = {"id": challenge_id, "tier": tier_id}
    turn.ask_text(
        STEP_PROOF, "organiser.kept.proof_prompt", sponsor=tier.sponsor, reward=tier.reward
    )


async def on_proof(turn: Turn, text: str) -> None:
    """Record the promise as kept with its proof."""
    target = turn.recall("keep")
    challenge_id, tier_id = int(target["id"]), int(target["tier"])
    try:
        tier = await turn.services.challenges.record_promise_kept(tier_id, text)
    except Invalid as error:
        turn.say(error.key, **error.params)
        await ask_proof(turn, challenge_id, tier_id)
        return
    except KoomError as error:  # already kept, or gone
        _give_up(turn, error)
        return
    turn.say("organiser.kept.done", sponsor=tier.sponsor, reward=tier.reward)
    show_panel(turn, await turn.services.challenges.get(challenge_id))
    turn.end()
