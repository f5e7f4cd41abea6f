"""Browse open challenges page by page and open a challenge's card."""

from __future__ import annotations

import math

from conversations.deeplinks import join_payload, make_payload
from conversations.flow import CommandSpec, Flow, Option, Turn, on
from conversations.flows.actions import (
    BrowseOpen,
    BrowsePage,
    BrowseShare,
    MapShow,
    MineCheckIn,
    PledgeGo,
    SharePicture,
)
from conversations.flows.cards import card_text, summary_line
from conversations.model import Choice
from core.errors import NotFound
from core.models import Challenge, ChallengeStatus
from core.services.challenges import OPEN_FOR_PLEDGES

PAGE_SIZE = 5
LABEL_LENGTH = 40


def short(text: str, limit: int = LABEL_LENGTH) -> str:
    """`text` cut to fit a button label."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def bot_link(turn: Turn, payload: str, page: str) -> str:
    """A link that opens the bot with `payload`: this platform's own address (Telegram),
    else the web page `page` carrying it (KOOM_PUBLIC_URL), else the `/start` command to
    type in the bot's private chat."""
    link = turn.capabilities.share_link_template.format(payload=payload)
    public = turn.settings.public_url
    if link.startswith(("https://", "http://")) or not public:
        return link
    return f"{public}{page}?start={payload}"


def share_link(turn: Turn, slug: str) -> str:
    """The member's link to `slug`, which credits them for whoever pledges (see `bot_link`)."""
    return bot_link(turn, make_payload(slug, turn.member.id), f"/c/{slug}")


async def share_offer(turn: Turn, challenge: Challenge, key: str) -> tuple[str, list[Choice]]:
    """What sharing a challenge offers: a public one's link in the words of `key`, and the
    share picture's button. A members-only one has neither, since its link and picture
    would tell outsiders it exists and show them nothing: its organisation's members'
    invitation instead, for colleagues (or who to ask for one). That invitation is shown in a
    private chat to the people the organisation let in (its staff, its invited members) only:
    someone who sees the challenge only while in a group it owns, or a group chat, would
    otherwise get a code that keeps anyone in after leaving that group."""
    if not challenge.private:
        picture = turn.choice(turn.t("sharing.button_picture"), SharePicture(challenge.id))
        return turn.t(key, title=challenge.title, link=share_link(turn, challenge.slug)), [picture]
    organisations = turn.services.organisations
    organisation = await organisations.of_challenge(challenge.id)
    if organisation is None:  # a private challenge always has one; never say it exists
        raise NotFound("error.challenge_not_found", slug=str(challenge.id))
    code = None
    if not turn.chat.is_group and organisation.id in await turn.services.membership.invited_to(
        turn.member.id
    ):
        code = await organisations.members_code(organisation.id)
    if code is None:
        text = turn.t("browse.share_private_ask", title=challenge.title, org=organisation.name)
        return text, []
    link = bot_link(turn, join_payload(code), f"/o/{organisation.slug}")
    text = turn.t(
        "browse.share_private", title=challenge.title, org=organisation.name, link=link, code=code
    )
    return text, []


def accepts_pledges(turn: Turn, challenge: Challenge) -> bool:
    """Whether a pledge to `challenge` can be made now."""
    return challenge.status in OPEN_FOR_PLEDGES and challenge.deadline > turn.clock.now()


async def members_of(turn: Turn) -> frozenset[int]:
    """The organisations whose private challenges this chat may show: in a private chat the
    person's own; in a group, the organisation owning the group (its people are members)."""
    services = turn.services
    if turn.chat.is_group:
        group = await services.groups.find(turn.chat)
        return frozenset() if group is None else await services.membership.of_group(group.id)
    return await services.membership.organisations_of(turn.member.id)


async def seen(turn: Turn, challenge: Challenge, asked: str | None = None) -> Challenge:
    """The challenge when this chat may show it; a private one of another organisation is
    NotFound exactly as a missing one asked for as `asked` (its id, as a button names it)."""
    if challenge.private and challenge.organisation_id not in await members_of(turn):
        raise NotFound("error.challenge_not_found", slug=asked or str(challenge.id))
    return challenge


async def challenge_by_id(turn: Turn, challenge_id: int) -> Challenge:
    """The challenge a button names, when this chat may show it (see `seen`)."""
    return await seen(turn, await turn.services.challenges.get(challenge_id))


async def visible_challenge(turn: Turn, slug: str) -> Challenge:
    """The published challenge called `slug`, when this chat may show it; drafts and others'
    private challenges are as unknown as missing ones."""
    challenge = await turn.services.challenges.by_slug(slug)
    if challenge.status == ChallengeStatus.DRAFT:
        raise NotFound("error.challenge_not_found", slug=slug)
    return await seen(turn, challenge, slug)


async def show_card(
    turn: Turn, challenge: Challenge, page: int = 0, referrer_id: int | None = None
) -> None:
    """Send the card with Pledge (crediting `referrer_id`) or Check in, Share, Map and Back."""
    progress = await turn.services.progress.of(challenge.id, turn.member)
    pledge = await turn.services.pledges.get(turn.member.id, challenge.id)
    t = turn.t
    first = []
    if pledge is not None and pledge.active:
        first.append(turn.choice(t("browse.button_checkin"), MineCheckIn(challenge.id)))
    elif accepts_pledges(turn, challenge):
        first.append(turn.choice(t("browse.button_pledge"), PledgeGo(challenge.id, referrer_id)))
    first.append(turn.choice(t("browse.button_share"), BrowseShare(challenge.id)))
    where = turn.choice(t("browse.button_map"), MapShow(challenge.id))
    back = turn.choice(t("browse.button_back"), BrowsePage(page))
    text = card_text(t, progress)
    if pledge is not None and pledge.active:
        text += "\n\n" + t("browse.you_take_part")
    turn.send(text, [first, [where, back]])


class BrowseFlow(Flow):
    """/challenges lists open challenges 5 per page; /challenge SLUG opens one card."""

    name = "browse"
    commands = (
        CommandSpec("challenges", private_menu=True),
        CommandSpec("challenge", Option.CHALLENGE),
    )

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        slug = args.strip()
        if command == "challenge" and slug:
            await show_card(turn, await visible_challenge(turn, slug))
        else:
            await self._page(turn, 0, replaces=False)

    @on(BrowsePage)
    async def page(self, turn: Turn, button: BrowsePage) -> None:
        await self._page(turn, button.page, replaces=True)

    @on(BrowseOpen)
    async def open(self, turn: Turn, button: BrowseOpen) -> None:
        challenge = await challenge_by_id(turn, button.challenge_id)
        await show_card(turn, challenge, page=button.page)

    @on(BrowseShare)
    async def share(self, turn: Turn, button: BrowseShare) -> None:
        challenge = await challenge_by_id(turn, button.challenge_id)
        text, buttons = await share_offer(turn, challenge, "browse.share")
        turn.send(text, [buttons] if buttons else [])

    async def _page(self, turn: Turn, page: int, *, replaces: bool) -> None:
        """Show page `page` (from 0) of the open challenges, clamped to the last one."""
        t = turn.t
        mine = await members_of(turn)
        total = await turn.services.challenges.count_open(mine)
        if total == 0:
            turn.send(t("browse.empty"), replaces=replaces)
            return
        pages = math.ceil(total / PAGE_SIZE)
        page = max(0, min(page, pages - 1))
        found = await turn.services.challenges.list_open(page * PAGE_SIZE, PAGE_SIZE, mine)
        lines = [t("browse.title", page=page + 1, pages=pages)]
        rows: list[list[Choice]] = []
        for challenge in found:
            lines.append(summary_line(t, challenge))
            label = short(challenge.title)
            rows.append([turn.choice(label, BrowseOpen(challenge.id, page))])
        nav = []
        if page > 0:
            nav.append(turn.choice(t("browse.previous"), BrowsePage(page - 1)))
        if page < pages - 1:
            nav.append(turn.choice(t("browse.next"), BrowsePage(page + 1)))
        if nav:
            rows.append(nav)
        turn.send("\n\n".join(lines), rows, replaces=replaces)
