"""The organiser's flow: /new creates a challenge, /manage (or /organiser) runs the existing
ones. Accounts named in KOOM_ORGANISERS reach every challenge; the staff of an organisation
only its own (every button with a challenge id is checked); the engine refuses everyone else.

Choice ids (`orga:` + action + args): creation `org:<organisation id or 0>`, `noarea`,
`kind:<kind>`, `freq:<frequency>`, `tiersdone`, `noimpact`; management `list:<offset>`,
`open:<id>`, `publish:<id>`, `discard:<id>`, `edit:<id>`, `field:<id>:<field>`, `tier:<id>`,
`kept:<id>`, `keep:<id>:<tier id>`, `close:<id>`, `shut:<id>`, `stats:<id>`, `private:<id>`,
`public:<id>`, `report:<id>` (the PDF report, as a document).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from conversations.flow import CommandSpec, Flow, Option, Turn
from conversations.flows import organiser_changes as changes
from conversations.flows import organiser_manage as manage
from conversations.flows import organiser_new as new
from conversations.flows import organiser_translate as translate
from conversations.model import FormInput, StepInput, TextInput
from core.errors import KoomError

_BY_ID: dict[str, Callable[[Turn, int], Awaitable[None]]] = {
    "open": manage.open_panel,
    "publish": manage.publish,
    "discard": manage.discard,
    "edit": changes.ask_field,
    "tier": changes.ask_stretch,
    "kept": changes.ask_kept,
    "close": manage.confirm_close,
    "shut": manage.close,
    "stats": manage.show_stats,
    "private": manage.make_private,
    "public": manage.make_public,
    "report": manage.send_report,
}
_ANSWERS: dict[str, Callable[[Turn, str], Awaitable[None]]] = {
    changes.STEP_EDIT: changes.on_edit,
    changes.STEP_ADD_TIER: changes.on_stretch,
    changes.STEP_PROOF: changes.on_proof,
    new.STEP_IMPACT: new.on_impact,
}


_WITH_CHALLENGE = frozenset({*_BY_ID, "field", "lang", "keep"})
"""The actions whose first argument is a challenge id."""


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

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        if command == "new":
            await new.start(turn)
        elif args:
            challenge = await turn.services.challenges.by_slug(args)
            await _check(turn, challenge.id)
            await manage.open_panel(turn, challenge.id)
        else:
            await manage.show_list(turn)

    async def on_choice(self, turn: Turn, action: str, args: list[str]) -> None:
        if action in _WITH_CHALLENGE and args:
            await _check(turn, int(args[0]))
        match action, args:
            case "org", [organisation_id]:
                await new.on_organisation(turn, int(organisation_id))
            case "noarea", []:
                new.ask_frequency(turn)
            case "kind", [kind]:
                new.on_area_kind(turn, kind)
            case "freq", [frequency]:
                new.on_frequency(turn, frequency)
            case "tiersdone", []:
                new.ask_impact(turn)
            case "noimpact", []:
                await new.on_impact(turn, None)
            case "list", [offset]:
                await manage.show_list(turn, int(offset), replaces=True)
            case "field", [challenge_id, field]:
                await changes.ask_edit(turn, int(challenge_id), field)
            case "lang", [challenge_id, locale]:
                await translate.ask(turn, int(challenge_id), locale)
            case "keep", [challenge_id, tier_id]:
                await changes.ask_proof(turn, int(challenge_id), int(tier_id))
            case _, [challenge_id] if action in _BY_ID:
                await _BY_ID[action](turn, int(challenge_id))
            case _:
                raise KoomError("engine.stale_choice")

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
