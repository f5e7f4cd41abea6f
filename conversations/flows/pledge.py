"""Pledge: confirm (the pledge is recorded at "Yes", with thanks) -> optional coarse location
(with consent) -> this pledge's reminders -> the link to share."""

from __future__ import annotations

from functools import partial

from conversations.flow import CommandSpec, Flow, Option, Turn, on
from conversations.flows.actions import (
    BrowseOpen,
    MineList,
    PledgeGivePlace,
    PledgeGo,
    PledgeKeepPlace,
    PledgeNo,
    PledgePlace,
    PledgeRemind,
    PledgeSkipPlace,
    PledgeYes,
)
from conversations.flows.browse import (
    PAGE_SIZE,
    accepts_pledges,
    challenge_by_id,
    members_of,
    share_offer,
    short,
    visible_challenge,
)
from conversations.flows.cards import near_line
from conversations.flows.place_input import picked_location, read_place
from conversations.flows.pledge_rhythm import rhythm_buttons, rhythm_line
from conversations.model import StepInput
from core.delivery.latest import latest_write
from core.errors import Conflict, KoomError, NotFound
from core.models import (
    Challenge,
    EventKind,
    Location,
    OutboxEvent,
    Progress,
    ReminderPreference,
)

PLACE_STEP = "place"


class PledgeFlow(Flow):
    """/pledge [SLUG] and the card's Pledge button.

    `data` holds the challenge being pledged and the referrer from a share link; every
    step's choice carries the challenge id, checked against `data` so an older button of
    another pledge cannot confirm this one.
    """

    name = "pledge"
    private_only = True
    commands = (CommandSpec("pledge", Option.CHALLENGE, private_menu=True),)

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        if args.strip():
            await self._begin(turn, await visible_challenge(turn, args.strip()), None)
            return
        found = await turn.services.challenges.list_open(0, PAGE_SIZE, await members_of(turn))
        if not found:
            turn.say("browse.empty")
        elif len(found) == 1:
            await self._begin(turn, found[0], None)
        else:
            rows = [[turn.choice(short(c.title), PledgeGo(c.id))] for c in found]
            turn.send(turn.t("pledge.which"), rows)

    @on(PledgeGo)
    async def go(self, turn: Turn, button: PledgeGo) -> None:
        challenge = await challenge_by_id(turn, button.challenge_id)
        await self._begin(turn, challenge, button.referrer_id)

    @on(PledgeNo)
    async def no(self, turn: Turn, button: PledgeNo) -> None:
        _current(turn, button.challenge_id)
        turn.say("pledge.declined")
        turn.end()

    @on(PledgeYes)
    async def yes(self, turn: Turn, button: PledgeYes) -> None:
        if await self._pledge(turn, _current(turn, button.challenge_id)):
            await self._offer_location(turn, button.challenge_id)

    @on(PledgeGivePlace)
    async def give_place(self, turn: Turn, button: PledgeGivePlace) -> None:
        _ask_place(turn, _current(turn, button.challenge_id), "pledge.ask_place")

    @on(PledgePlace)
    async def place(self, turn: Turn, button: PledgePlace) -> None:
        challenge_id = _current(turn, button.challenge_id)
        await self._save_place(turn, challenge_id, await picked_location(button.place))

    @on(PledgeKeepPlace)
    async def keep_place(self, turn: Turn, button: PledgeKeepPlace) -> None:
        await self._ask_reminder(turn, _current(turn, button.challenge_id))

    @on(PledgeSkipPlace)
    async def skip_place(self, turn: Turn, button: PledgeSkipPlace) -> None:
        await self._ask_reminder(turn, _current(turn, button.challenge_id))

    @on(PledgeRemind)
    async def remind(self, turn: Turn, button: PledgeRemind) -> None:
        await self._remind(turn, _current(turn, button.challenge_id), button.preference)

    async def on_input(self, turn: Turn, step: str, value: StepInput) -> None:
        challenge_id = int(turn.recall("challenge"))

        def ask_again(key: str, /, **params: object) -> None:
            _ask_place(turn, challenge_id, key, **params)

        pick = partial(PledgePlace, challenge_id)
        location = await read_place(turn, value, pick, ask_again=ask_again)
        if location is not None:
            await self._save_place(turn, challenge_id, location)

    async def _save_place(self, turn: Turn, challenge_id: int, location: Location) -> None:
        """Keep the member's coarse place (they consented by giving it) and count the pledge
        there, then go on."""
        member = await turn.services.members.set_location(turn.member.id, location)
        turn.set_member(member)
        await turn.services.pledges.follow_place(member.id, challenge_id)
        if location.name:
            turn.say("pledge.place_saved", place=location.name)
        else:
            turn.say("pledge.area_saved")
        await self._ask_reminder(turn, challenge_id)

    async def _begin(self, turn: Turn, challenge: Challenge, referrer_id: int | None) -> None:
        """Confirm the action, unless the member already takes part."""
        pledge = await turn.services.pledges.get(turn.member.id, challenge.id)
        if pledge is not None and pledge.active:
            turn.say("pledge.already", title=challenge.title)
            turn.end()
            return
        if not accepts_pledges(turn, challenge):
            raise Conflict("error.challenge_not_open", title=challenge.title)
        turn.data.clear()
        turn.data["challenge"] = challenge.id
        turn.data["referrer"] = await _known_referrer(turn, referrer_id)
        t = turn.t
        yes = turn.choice(t("pledge.button_yes"), PledgeYes(challenge.id))
        no = turn.choice(t("pledge.button_no"), PledgeNo(challenge.id))
        turn.send(t("pledge.confirm", action=challenge.action, title=challenge.title), [[yes, no]])

    async def _offer_location(self, turn: Turn, challenge_id: int) -> None:
        """Keep the known place, or ask consent before asking for one."""
        t = turn.t
        location = turn.member.location
        if location is not None:
            place = location.name or t("pledge.your_area")
            keep = turn.choice(
                t("pledge.button_keep", place=short(place)), PledgeKeepPlace(challenge_id)
            )
            change = turn.choice(t("pledge.button_change"), PledgeGivePlace(challenge_id))
            turn.send(t("pledge.location_known", place=place), [[keep, change]])
            return
        give = turn.choice(t("pledge.button_give_location"), PledgeGivePlace(challenge_id))
        skip = turn.choice(t("pledge.button_skip"), PledgeSkipPlace(challenge_id))
        turn.send(t("pledge.location_consent"), [[give], [skip]])

    async def _ask_reminder(self, turn: Turn, challenge_id: int) -> None:
        """This pledge's reminders: the choices its action's frequency allows."""
        frequency = (await turn.services.challenges.get(challenge_id)).frequency
        row = rhythm_buttons(turn, frequency, partial(PledgeRemind, challenge_id))
        turn.send(turn.t("pledge.ask_reminder"), [row])

    async def _pledge(self, turn: Turn, challenge_id: int) -> bool:
        """Pledge, then thank with what this pledge unlocked; False when the member had
        pledged already (the flow ends)."""
        referrer = turn.data.get("referrer")
        services = turn.services
        await challenge_by_id(turn, challenge_id)  # no longer a member: refused, as missing
        result = await services.pledges.pledge(
            turn.member.id, challenge_id, referrer if isinstance(referrer, int) else None
        )
        challenge = await services.challenges.get(challenge_id)
        t = turn.t
        if not result.created:
            turn.say("pledge.already", title=challenge.title)
            turn.end()
            return False
        turn.write_later(services.reminders.scheduling(turn.member.id, challenge_id))
        turn.write_later(latest_write(services, challenge_id, member_id=turn.member.id))
        lines = [
            t("pledge.thanks", name=turn.member.display_name, action=challenge.action),
            *_celebrations(turn, result.events),
        ]
        turn.send("\n".join(lines))
        return True

    async def _remind(self, turn: Turn, challenge_id: int, preference: ReminderPreference) -> None:
        """This pledge's own reminders: none pauses them, daily or weekly (on the member's
        day) becomes its rhythm; the member's other pledges keep theirs. Then who acts with
        them (near their place, now known) and the link to share."""
        services, member_id = turn.services, turn.member.id
        reminder, switched_on = await services.reminders.set_rhythm(
            member_id, challenge_id, preference
        )
        if switched_on:
            turn.set_member(await services.members.get(member_id))
        lines = [rhythm_line(turn.t, turn.member, reminder)]
        if switched_on and len(await services.pledges.of_member(member_id)) > 1:
            lines.append(turn.t("pledge.reminders_switched_on"))
        lines.append("")
        progress = await services.progress.of(challenge_id, turn.member)
        challenge = progress.challenge
        t = turn.t
        share, picture = await share_offer(turn, challenge, "pledge.share")
        lines += [_social_norm(turn, progress), "", share]
        mine = turn.choice(t("pledge.button_mine"), MineList())
        card = turn.choice(t("pledge.button_card"), BrowseOpen(challenge.id, 0))
        rows = [picture, [mine, card]] if picture else [[mine, card]]
        turn.send("\n".join(lines), rows)
        turn.end()


def _current(turn: Turn, challenge_id: int) -> int:
    """The challenge id of a step's choice, which must be the pledge in progress."""
    if turn.recall("challenge") != challenge_id:
        raise KoomError("engine.stale_choice")
    return challenge_id


async def _known_referrer(turn: Turn, referrer_id: int | None) -> int | None:
    """The referrer when it is another existing member (links can be made up)."""
    if referrer_id is None or referrer_id == turn.member.id:
        return None
    try:
        await turn.services.members.get(referrer_id)
    except NotFound:
        return None
    return referrer_id


def _social_norm(turn: Turn, progress: Progress) -> str:
    """ "You are 412 pledging." then "👥 23 people already act in Lyon · 140 in Rhône"."""
    t = turn.t
    if progress.count <= 1:
        return t("pledge.social_first")
    near = near_line(t, progress.near)
    together = t.plural("pledge.social", progress.count)
    return together if near is None else f"{together}\n{near}"


def _celebrations(turn: Turn, events: tuple[OutboxEvent, ...]) -> list[str]:
    """Lines celebrating the milestones, tiers and success this pledge caused (the 100 %
    milestone is said by the success line)."""
    t = turn.t
    succeeded = any(event.kind == EventKind.SUCCEEDED for event in events)
    lines = []
    for event in events:
        payload = event.payload
        if event.kind == EventKind.MILESTONE and not (succeeded and payload.get("percent") == 100):
            lines.append(t("pledge.milestone", percent=payload.get("percent", "")))
        elif event.kind == EventKind.TIER_UNLOCKED:
            sponsor, reward = payload.get("sponsor", ""), payload.get("reward", "")
            lines.append(t("pledge.tier_unlocked", sponsor=sponsor, reward=reward))
        elif event.kind == EventKind.SUCCEEDED:
            lines.append(t("pledge.succeeded"))
    return lines


def _ask_place(turn: Turn, challenge_id: int, key: str, /, **params: object) -> None:
    """Ask for a commune name, a postcode or a shared location, with a way to skip."""
    skip = turn.choice(turn.t("pledge.button_skip"), PledgeSkipPlace(challenge_id))
    turn.ask_location(PLACE_STEP, key, skip=skip, button_key="engine.share_location", **params)
