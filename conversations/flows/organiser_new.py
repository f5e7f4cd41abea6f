"""/new: an organiser creates a challenge step by step, sees it as members will, then
publishes, edits or discards it.

Steps: the organisation running it, when the person may choose -> the form (title, action,
description, goal, deadline) -> area (optional) and its kind -> frequency -> sponsor tiers, one
per message -> impact per action (optional) -> for an organisation's challenge, who may see it
(everyone, or its members only) -> the preview, a draft challenge invisible to
members. Answers so far live in `turn.data` as JSON.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from conversations.flow import Turn
from conversations.flows.actions import (
    NewAreaKind,
    NewFrequency,
    NewNoArea,
    NewNoImpact,
    NewOrganisation,
    NewTiersDone,
    NewVisibility,
)
from conversations.flows.organiser_input import (
    DETAILS,
    BadAnswer,
    check_details,
    form_fields,
    parse_area,
    parse_impact,
    parse_tier,
    refusal,
)
from conversations.flows.organiser_manage import short, show_panel
from conversations.model import FormInput
from core.drafts import ChallengeDraft, slugify
from core.errors import Forbidden, NotFound
from core.models import AreaKind, Frequency, Visibility

MAX_TIERS = 20
STEP_DETAILS = "details"
STEP_AREA = "area"
STEP_TIER = "new_tier"
STEP_IMPACT = "impact"
FREQUENCY_LABELS = {
    Frequency.ONCE: "organiser.frequency.once",
    Frequency.DAILY: "organiser.frequency.daily",
    Frequency.WEEKLY: "organiser.frequency.weekly",
}
AREA_KIND_LABELS = {
    AreaKind.COMMUNE: "organiser.area_kind.commune",
    AreaKind.REGION: "organiser.area_kind.region",
    AreaKind.COUNTRY: "organiser.area_kind.country",
}


async def start(turn: Turn) -> None:
    """Ask which organisation runs the challenge when the person may choose, else the form."""
    options = await _organisations(turn)
    if len(options) == 1:
        begin(turn, options[0][0])
        return
    rows = [[turn.choice(short(name), NewOrganisation(org_id))] for org_id, name in options]
    turn.send(turn.t("organiser.new.which_org"), rows)


async def on_organisation(turn: Turn, organisation_id: int) -> None:
    """Keep the organisation chosen, if the person is among its staff, and ask for the form."""
    if all(org_id != organisation_id for org_id, _ in await _organisations(turn)):
        raise Forbidden("error.org.not_allowed")
    begin(turn, organisation_id)


async def _organisations(turn: Turn) -> list[tuple[int, str]]:
    """Who may run the challenge: the organisations the person is staff of, and for the
    deployment's administrators the deployment itself (id 0)."""
    staff = await turn.services.organisations.staff_of(turn.member.id)
    options = [(o.id, o.name) for o in staff]
    if await turn.is_organiser() or not options:
        options.insert(0, (0, turn.t("organiser.new.no_org")))
    return options


def begin(turn: Turn, organisation_id: int) -> None:
    """Ask for the form of a challenge run by the organisation (0: the deployment)."""
    turn.data.update(raw={}, tiers=[], org=organisation_id or None)
    turn.ask_form(
        STEP_DETAILS, "organiser.new.form_title", form_fields(turn.t, DETAILS, turn.clock.now())
    )


def on_details(turn: Turn, form: FormInput) -> None:
    """Check the form; ask again only for the fields in error."""
    raw = {**turn.recall("raw"), **form.values}
    details, problems = check_details(turn.t, raw, turn.member.timezone, turn.clock.now())
    if problems:
        turn.data["raw"] = {k: v for k, v in raw.items() if k in DETAILS and k not in problems}
        turn.send("\n".join(problems.values()))
        fields = form_fields(turn.t, list(problems), turn.clock.now())
        turn.ask_form(STEP_DETAILS, "organiser.new.fix_title", fields)
        return
    turn.data["details"] = details
    ask_area(turn)


def ask_area(turn: Turn) -> None:
    """Ask where the challenge takes place, which may be skipped."""
    turn.ask_text(STEP_AREA, "organiser.new.area_prompt")
    skip = turn.choice(turn.t("engine.form_skip"), NewNoArea())
    turn.send(turn.t("engine.form_optional"), [[skip]])


def on_area(turn: Turn, text: str) -> None:
    """Keep the area and ask what kind of place it is."""
    turn.recall("details")
    try:
        area = parse_area(turn.t, text)
    except BadAnswer as bad:
        turn.send(bad.message)
        ask_area(turn)
        return
    turn.data["area"] = area
    row = [turn.choice(turn.t(key), NewAreaKind(kind)) for kind, key in AREA_KIND_LABELS.items()]
    turn.send(turn.t("organiser.new.area_kind", area=area), [row])


def on_area_kind(turn: Turn, kind: AreaKind) -> None:
    """Keep the kind of place."""
    turn.recall("area")
    turn.data["area_kind"] = kind.value
    ask_frequency(turn)


def ask_frequency(turn: Turn) -> None:
    """How often the action is done (after the area, or without one)."""
    turn.recall("details")
    row = [turn.choice(turn.t(key), NewFrequency(f)) for f, key in FREQUENCY_LABELS.items()]
    turn.send(turn.t("organiser.new.frequency"), [row])


def on_frequency(turn: Turn, frequency: Frequency) -> None:
    """Keep the frequency and ask for the first tier."""
    turn.recall("details")
    turn.data["frequency"] = frequency.value
    ask_tier(turn, "organiser.new.tier_prompt")


def ask_tier(turn: Turn, key: str) -> None:
    """Ask for a tier, with a button to stop adding them."""
    turn.ask_text(STEP_TIER, key)
    done = turn.choice(turn.t("organiser.new.tiers_done"), NewTiersDone())
    turn.send(turn.t("organiser.new.tiers_finish"), [[done]])


def on_tier(turn: Turn, text: str) -> None:
    """Add a tier unless it is malformed or repeats a threshold."""
    tiers: list[dict[str, Any]] = turn.recall("tiers")
    try:
        tier = parse_tier(turn.t, text)
        if any(known["threshold"] == tier.threshold for known in tiers):
            raise BadAnswer(turn.t("error.tier_duplicate", threshold=tier.threshold))
    except BadAnswer as bad:
        turn.send(bad.message)
        ask_tier(turn, "organiser.new.tier_again")
        return
    tiers.append(tier.model_dump())
    turn.say("organiser.new.tier_added", **tier.model_dump())
    if len(tiers) >= MAX_TIERS:
        ask_impact(turn)
    else:
        ask_tier(turn, "organiser.new.tier_more")


def ask_impact(turn: Turn) -> None:
    """Ask for the impact of one action, which may be skipped."""
    turn.recall("frequency")
    turn.ask_text(STEP_IMPACT, "organiser.new.impact_prompt")
    skip = turn.choice(turn.t("engine.form_skip"), NewNoImpact())
    turn.send(turn.t("engine.form_optional"), [[skip]])


async def on_impact(turn: Turn, text: str | None) -> None:
    """Read the impact (None: skipped); then ask an organisation's staff who may see the
    challenge, or create the deployment's own at once."""
    try:
        impact, unit = (None, None) if text is None else parse_impact(turn.t, text)
        _draft(turn, impact, unit)
    except BadAnswer as bad:
        turn.send(bad.message)
        ask_impact(turn)
        return
    turn.data.update(impact=impact, unit=unit)
    organisation_id = turn.data.get("org")
    if organisation_id is None:
        await create(turn, Visibility.PUBLIC)
        return
    organisation = await turn.services.organisations.by_id(organisation_id)
    row = [
        turn.choice(turn.t("organiser.action.public"), NewVisibility(Visibility.PUBLIC)),
        turn.choice(turn.t("organiser.action.private"), NewVisibility(Visibility.MEMBERS)),
    ]
    turn.send(turn.t("organiser.new.visibility", org=organisation.name), [row])


async def create(turn: Turn, visibility: Visibility) -> None:
    """Create the draft challenge as answered and show its preview."""
    draft = _draft(turn, turn.data.get("impact"), turn.data.get("unit"))
    challenge = await turn.services.organisations.create_challenge(
        await turn.actor(),
        turn.data.get("org"),
        draft.model_copy(update={"slug": await _free_slug(turn, draft.title)}),
        turn.settings.map_min_count,
        visibility,
    )
    turn.say("organiser.new.preview")
    if challenge.private:
        turn.say("org.visibility.members")
    show_panel(turn, challenge)
    turn.end()


def _draft(turn: Turn, impact: float | None, unit: str | None) -> ChallengeDraft:
    """Every answer so far as a draft; BadAnswer when the impact breaks a rule."""
    try:
        return ChallengeDraft.model_validate(
            {
                **turn.recall("details"),
                "area_name": turn.data.get("area"),
                "area_kind": turn.data.get("area_kind"),
                "frequency": turn.recall("frequency"),
                "tiers": turn.recall("tiers"),
                "impact_per_action": impact,
                "impact_unit": unit,
            }
        )
    except ValidationError as error:
        raise refusal(turn.t, error) from None


async def _free_slug(turn: Turn, title: str) -> str:
    """A slug made from the title that no challenge uses yet."""
    base = slugify(title)
    for number in range(1, 1000):
        slug = base if number == 1 else f"{base[:35].rstrip('-')}-{number}"
        try:
            await turn.services.challenges.by_slug(slug)
        except NotFound:
            return slug
    return base  # create() then says the slug is taken
