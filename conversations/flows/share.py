"""The share picture: a pledger's own picture for social networks (square, or wide on
request), carrying their share link, which credits them for whoever joins through it."""

from __future__ import annotations

import asyncio

from conversations.flow import Flow, Turn, on
from conversations.flows.actions import PictureSize, SharePicture
from conversations.flows.browse import seen, share_link, share_offer
from core.errors import NotFound
from core.models import ChallengeStatus
from core.sharing import SQUARE, WIDE, render_share, share_card

SIZES = {PictureSize.SQUARE: SQUARE, PictureSize.WIDE: WIDE}


async def send_share_picture(
    turn: Turn, challenge_id: int, size: PictureSize = PictureSize.SQUARE
) -> None:
    """The member's share picture of a challenge, then a button for the other size."""
    progress = await turn.services.progress.of(challenge_id)  # the picture names no one near
    challenge = progress.challenge
    if challenge.status == ChallengeStatus.DRAFT:
        raise NotFound("error.challenge_not_found", slug=challenge.slug)
    await seen(turn, challenge)
    t = turn.t
    if challenge.private:  # no picture to post: what Share offers instead
        text, _ = await share_offer(turn, challenge, "browse.share")
        turn.send(text)
        return
    link = share_link(turn, challenge.slug)
    card = share_card(t, progress, link, personal=True)
    picture = await asyncio.to_thread(render_share, card, SIZES[size])
    caption = t("sharing.caption", title=challenge.title, link=link)
    turn.image(picture, caption, filename=f"{challenge.slug}-{size}.png")
    other = PictureSize.WIDE if size is PictureSize.SQUARE else PictureSize.SQUARE
    button = turn.choice(t(f"sharing.button_{other.value}"), SharePicture(challenge_id, other))
    turn.send(t("sharing.other_size"), [[button]])


class ShareFlow(Flow):
    """The share picture's buttons (after a pledge, on the card's Share)."""

    name = "share"
    private_only = True

    @on(SharePicture)
    async def picture(self, turn: Turn, button: SharePicture) -> None:
        await send_share_picture(turn, button.challenge_id, button.size or PictureSize.SQUARE)
