"""The organiser's flow: /new creates a challenge, /manage (or /organiser) runs the existing
ones. Accounts named in KOOM_ORGANISERS reach every challenge; the staff of an organisation
only its own (every button with a challenge id is checked); the engine refuses everyone else.

Its buttons are the `New*` (creation) and `Manage*` types of `conversations.flows.actions`;
`authorise` checks, before any handler, that the person may manage the challenge a button names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from conversations.buttons import Button
from conversations.flow import CommandSpec, Flow, Option, Turn, on
from conversations.flows import organiser_changes as changes
from conversations.flows import organiser_manage as manage
from conversations.flows import organiser_new as new
from conversations.flows import organiser_translate as translate
from conversations.flows.actions import (
    ManageAddTier,
    ManageClose,
    ManageDiscard,
    ManageEdit,
    ManageField,
    ManageKeep,
    ManageKept,
    ManageList,
    ManageMakePrivate,
    ManageMakePublic,
    ManageOpen,
    ManagePublish,
    ManageReport,
    ManageSetVisibility,
    ManageShut,
    ManageStats,
    ManageTranslate,
    NewAreaKind,
    NewFrequency,
    NewNoArea,
    NewNoImpact,
    NewOrganisation,
    NewTiersDone,
    NewVisibility,
)
from conversations.model import FormInput, StepInput, TextInput
from core.models import Visibility

_ANSWERS: dict[str, Callable[[Turn, str], Awaitable[None]]] = {
    changes.STEP_EDIT: changes.on_edit,
    changes.STEP_ADD_TIER: changes.on_stretch,
    changes.STEP_PROOF: changes.on_proof,
    new.STEP_IMPACT: new.on_impact,
}


async def _check(turn: Turn, challenge_id: int) -> None:
    """Forbidden unless the person may manage the challenge."""
    await turn.services.organisations.check_challenge(await turn.actor(), challenge_id)


class OrganiserFlow(Flow):
    """Create, publish, edit, close challenges; add tiers, record promises kept, stats."""

    name = "orga"
    private_only = True
    commands = (
        CommandSpec("new", private_menu=True),
        CommandSpec("manage", Option.CHALLENGE, private_menu=True),
        CommandSpec("organiser", slash=False),  # the same as /manage
    )
    organiser_only = True

    async def authorise(self, turn: Turn, button: Button) -> None:
        """Every button naming a challenge is checked before its handler runs: the person
        must be allowed to manage that challenge (an organisation's staff only their own)."""
        challenge_id = getattr(button, "challenge_id", None)
        if isinstance(challenge_id, int):
            await _check(turn, challenge_id)

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        if command == "new":
            await new.start(turn)
        elif args:
            challenge = await turn.services.challenges.by_slug(args)
            await _check(turn, challenge.id)
            await manage.open_panel(turn, challenge.id)
        else:
            await manage.show_list(turn)

    # --- /new ---

    @on(NewOrganisation)
    async def organisation(self, turn: Turn, button: NewOrganisation) -> None:
        await new.on_organisation(turn, button.organisation_id)

    @on(NewNoArea)
    async def no_area(self, turn: Turn, button: NewNoArea) -> None:
        new.ask_frequency(turn)

    @on(NewAreaKind)
    async def area_kind(self, turn: Turn, button: NewAreaKind) -> None:
        new.on_area_kind(turn, button.kind)

    @on(NewFrequency)
    async def frequency(self, turn: Turn, button: NewFrequency) -> None:
        new.on_frequency(turn, button.frequency)

    @on(NewTiersDone)
    async def tiers_done(self, turn: Turn, button: NewTiersDone) -> None:
        new.ask_impact(turn)

    @on(NewNoImpact)
    async def no_impact(self, turn: Turn, button: NewNoImpact) -> None:
        await new.on_impact(turn, None)

    @on(NewVisibility)
    async def visibility(self, turn: Turn, button: NewVisibility) -> None:
        await new.create(turn, button.visibility)

    # --- /manage ---

    @on(ManageList)
    async def list_page(self, turn: Turn, button: ManageList) -> None:
        await manage.show_list(turn, button.offset, replaces=True)

    @on(ManageOpen)
    async def open(self, turn: Turn, button: ManageOpen) -> None:
        await manage.open_panel(turn, button.challenge_id)

    @on(ManagePublish)
    async def publish(self, turn: Turn, button: ManagePublish) -> None:
        await manage.publish(turn, button.challenge_id)

    @on(ManageDiscard)
    async def discard(self, turn: Turn, button: ManageDiscard) -> None:
        await manage.discard(turn, button.challenge_id)

    @on(ManageEdit)
    async def edit(self, turn: Turn, button: ManageEdit) -> None:
        await changes.ask_field(turn, button.challenge_id)

    @on(ManageField)
    async def field(self, turn: Turn, button: ManageField) -> None:
        await changes.ask_edit(turn, button.challenge_id, button.field)

    @on(ManageTranslate)
    async def translate(self, turn: Turn, button: ManageTranslate) -> None:
        await translate.ask(turn, button.challenge_id, button.locale)

    @on(ManageAddTier)
    async def add_tier(self, turn: Turn, button: ManageAddTier) -> None:
        await changes.ask_stretch(turn, button.challenge_id)

    @on(ManageKept)
    async def kept(self, turn: Turn, button: ManageKept) -> None:
        await changes.ask_kept(turn, button.challenge_id)

    @on(ManageKeep)
    async def keep(self, turn: Turn, button: ManageKeep) -> None:
        await changes.ask_proof(turn, button.challenge_id, button.tier_id)

    @on(ManageClose)
    async def close(self, turn: Turn, button: ManageClose) -> None:
        await manage.confirm_close(turn, button.challenge_id)

    @on(ManageShut)
    async def shut(self, turn: Turn, button: ManageShut) -> None:
        await manage.close(turn, button.challenge_id)

    @on(ManageMakePrivate)
    async def make_private(self, turn: Turn, button: ManageMakePrivate) -> None:
        await manage.confirm_visibility(turn, button.challenge_id, Visibility.MEMBERS)

    @on(ManageMakePublic)
    async def make_public(self, turn: Turn, button: ManageMakePublic) -> None:
        await manage.confirm_visibility(turn, button.challenge_id, Visibility.PUBLIC)

    @on(ManageSetVisibility)
    async def set_visibility(self, turn: Turn, button: ManageSetVisibility) -> None:
        await manage.set_visibility(turn, button.challenge_id, button.visibility)

    @on(ManageReport)
    async def report(self, turn: Turn, button: ManageReport) -> None:
        await manage.send_report(turn, button.challenge_id)

    @on(ManageStats)
    async def stats(self, turn: Turn, button: ManageStats) -> None:
        await manage.show_stats(turn, button.challenge_id)

    async def on_input(self, turn: Turn, step: str, value: StepInput) -> None:
        match step, value:
            case new.STEP_DETAILS, FormInput():
                new.on_details(turn, value)
            case translate.STEP_TRANSLATE, FormInput():
                await translate.on_texts(turn, value)
            case new.STEP_AREA, TextInput(text=text):
                new.on_area(turn, text)
            case new.STEP_TIER, TextInput(text=text):
                new.on_tier(turn, text)
            case _, TextInput(text=text) if step in _ANSWERS:
                await _ANSWERS[step](turn, text)
            case _:
                turn.say("organiser.type_answer")
                turn.step = step
