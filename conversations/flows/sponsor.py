"""A sponsor in the chat: told that its tier is reached, it confirms with one button and posts
the proof (a text, a link or a picture) that every pledger hears; `/sponsor` lists its tiers.

The messages that tell and remind are sent by the delivery worker, outside any conversation,
so their buttons are accepted unsolicited; each acts only on a tier the presser sponsors.
"""

from __future__ import annotations

from datetime import datetime

from conversations.buttons import pack
from conversations.flow import CommandSpec, Flow, Turn, on
from conversations.flows.actions import SponsorConfirm, SponsorProof
from conversations.model import Choice, Message, PictureInput, StepInput, TextInput
from core.delivery.protocol import Notice
from core.errors import Invalid
from core.i18n import Translator
from core.models import EventKind
from core.services.sponsors import SponsorState, SponsorStatus

STEP_PROOF = "proof"


def sponsor_choices(t: Translator, tier_id: int) -> tuple[tuple[Choice, ...], ...]:
    """The buttons under a sponsor's notice (built outside a turn: the worker sends it)."""
    return (
        (
            Choice(pack(SponsorConfirm(tier_id)), t("sponsor.button_confirm")),
            Choice(pack(SponsorProof(tier_id)), t("sponsor.button_proof")),
        ),
    )


def sponsor_notice(t: Translator, notice: Notice, title: str) -> Message:
    """What a sponsor reads when its tier is near (the forecast), reached, or when reminded
    to confirm."""
    p = notice.payload
    if notice.kind == EventKind.SPONSOR_FORECAST:
        params = {"title": title, "count": p["count"], "threshold": p["threshold"]}
        if p.get("reached_on"):
            when = datetime.fromisoformat(str(p["reached_on"])).date()
            return Message(t("sponsor.forecast", date=when, **params))
        return Message(t("sponsor.forecast_slow", **params))
    key = "sponsor.reached" if notice.kind == EventKind.SPONSOR_REACHED else "sponsor.reminder"
    text = t(key, sponsor=p["sponsor"], reward=p["reward"], title=title, threshold=p["threshold"])
    return Message(text, sponsor_choices(t, int(str(p["tier_id"]))))


class SponsorFlow(Flow):
    """The sponsor's answers: confirm the commitment, post the proof, list its tiers."""

    name = "sponsor"
    commands = (CommandSpec("sponsor"),)
    private_only = True

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        found = await turn.services.sponsors.of_member(turn.member.id)
        if not found:
            turn.say("sponsor.none")
            turn.end()
            return
        for status in found:
            turn.send(_status_line(turn, status), _buttons(turn, status))
        turn.end()

    @on(SponsorConfirm)
    async def confirm(self, turn: Turn, button: SponsorConfirm) -> None:
        tier = await turn.services.sponsors.confirm(turn.member.id, button.tier_id)
        proof = turn.choice(turn.t("sponsor.button_proof"), SponsorProof(button.tier_id))
        turn.send(turn.t("sponsor.confirmed", reward=tier.reward), [[proof]])
        turn.end()

    @on(SponsorProof)
    async def proof(self, turn: Turn, button: SponsorProof) -> None:
        turn.data["tier_id"] = button.tier_id
        turn.ask_text(STEP_PROOF, "sponsor.ask_proof")

    async def on_input(self, turn: Turn, step: str, value: StepInput) -> None:
        match value:
            case TextInput(text=text) if step == STEP_PROOF:
                tier = await turn.services.sponsors.post_proof(
                    turn.member.id, int(turn.recall("tier_id")), text
                )
                turn.say("sponsor.proof_posted", reward=tier.reward)
                turn.end()
            case PictureInput(caption=caption, load=load) if step == STEP_PROOF:
                try:
                    tier = await turn.services.sponsors.post_picture(
                        turn.member.id, int(turn.recall("tier_id")), await load(), caption
                    )
                except Invalid as bad:  # too large or not a picture: ask again
                    turn.say(bad.key, **bad.params)
                    turn.ask_text(STEP_PROOF, "sponsor.ask_proof")
                    return
                turn.say("sponsor.proof_posted", reward=tier.reward)
                turn.end()
            case _:
                turn.say("sponsor.type_proof")
                turn.step = step


def _status_line(turn: Turn, status: SponsorStatus) -> str:
    tier = status.tier
    return turn.t(
        "sponsor.line",
        sponsor=tier.sponsor,
        reward=tier.reward,
        threshold=tier.threshold,
        state=turn.t(f"sponsor.state.{status.state.value}"),
    )


def _buttons(turn: Turn, status: SponsorStatus) -> list[list[Choice]]:
    tier_id = status.tier.id
    if status.state is SponsorState.REACHED:
        return [[turn.choice(turn.t("sponsor.button_confirm"), SponsorConfirm(tier_id))]]
    if status.state is SponsorState.CONFIRMED:
        return [[turn.choice(turn.t("sponsor.button_proof"), SponsorProof(tier_id))]]
    return []
