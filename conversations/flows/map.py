"""/map [SLUG] and the card's Map button: a picture of where a challenge's pledgers are.

One marker per area sized by its count, drawn offline; every area counts at least the minimum
(KOOM_MAP_MIN_COUNT), smaller places being left out. Works in
private and in groups (without a name, a group gets the challenges it follows).
"""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

from conversations.flow import CommandSpec, Flow, Option, Turn, on
from conversations.flows.actions import MapShow
from conversations.flows.browse import (
    PAGE_SIZE,
    challenge_by_id,
    members_of,
    short,
    visible_challenge,
)
from conversations.flows.groups import MAX_LISTED, register_group
from core.errors import NotFound
from core.mapping import MapPoint, marked_area, render_map
from core.models import Challenge, ChallengeStatus


async def send_map(turn: Turn, challenge: Challenge) -> None:
    """The map picture of `challenge`, or a clear text while no area can be shown yet."""
    t = turn.t
    areas = await turn.services.progress.areas(challenge.id)
    minimum = turn.settings.map_min_count
    if not areas:
        turn.say_plural("map.empty", minimum, title=challenge.title)
        return
    points = [MapPoint(a.latitude, a.longitude, a.count, a.label) for a in areas]
    today = turn.clock.now().astimezone(ZoneInfo(turn.member.timezone)).date()
    caption = t.plural("map.caption", challenge.pledge_count, date=today)

    def draw() -> bytes:
        area = marked_area(challenge.area_name, challenge.area_kind)
        return render_map(points, title=challenge.title, caption=caption, area=area)

    picture = await asyncio.to_thread(draw)
    text = t.plural("map.message", minimum, title=challenge.title)
    turn.image(picture, text, filename=f"{challenge.slug}-map.png")


class MapFlow(Flow):
    """/map [SLUG]: without a name, the challenge is asked for when there are several."""

    name = "map"
    commands = (CommandSpec("map", Option.CHALLENGE, private_menu=True, group_menu=True),)

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        slug = args.strip()
        if slug:
            await send_map(turn, await visible_challenge(turn, slug))
            return
        if turn.chat.is_group:
            group = await register_group(turn)
            found = (await turn.services.groups.followed_by(group.id))[:MAX_LISTED]
            empty = "group.follows_nothing"
        else:
            found = await turn.services.challenges.list_open(0, PAGE_SIZE, await members_of(turn))
            empty = "browse.empty"
        if not found:
            turn.say(empty)
        elif len(found) == 1:
            await send_map(turn, found[0])
        else:
            rows = [[turn.choice(short(c.title), MapShow(c.id))] for c in found]
            turn.send(turn.t("map.which"), rows)

    @on(MapShow)
    async def show(self, turn: Turn, button: MapShow) -> None:
        challenge = await challenge_by_id(turn, button.challenge_id)
        if challenge.status == ChallengeStatus.DRAFT:
            raise NotFound("error.challenge_not_found", slug=challenge.slug)
        await send_map(turn, challenge)
