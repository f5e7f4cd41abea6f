"""Groups and channels: follow challenges for announcements, and show progress to everyone.

Administrators (as the platform says when they act) follow or unfollow; anyone may ask for
progress. A pledge is personal, so a group's card links to the private chat.
"""

from __future__ import annotations

from collections.abc import Callable

from conversations.buttons import Button
from conversations.deeplinks import make_payload
from conversations.flow import CommandSpec, Flow, Option, Turn, on
from conversations.flows.actions import GroupFollow, GroupLanguage, GroupUnfollow, MapShow
from conversations.flows.browse import (
    challenge_by_id,
    members_of,
    short,
    show_card,
    visible_challenge,
)
from conversations.flows.cards import card_text, summary_line
from core.delivery.latest import send_latest
from core.errors import KoomError
from core.i18n import SUPPORTED_LOCALES, Translator
from core.models import Challenge, Group
from core.services.progress import progress_of

MAX_LISTED = 20


async def register_group(turn: Turn) -> Group:
    """The group this chat is, registered (or renamed) in the person's language."""
    title = turn.chat.title or turn.chat.chat_id
    return await turn.services.groups.register(turn.chat, title, turn.locale)


async def introduce(turn: Turn) -> None:
    """The bot's hello when it joins a group: what it does, and the group commands."""
    await register_group(turn)
    turn.say("group.intro")


class GroupFlow(Flow):
    """/follow, /unfollow, /following and /progress in a group or channel."""

    name = "group"
    commands = (
        CommandSpec("follow", Option.CHALLENGE, admin=True, group_only=True),
        CommandSpec("unfollow", Option.CHALLENGE, admin=True, group_only=True),
        CommandSpec("following", group_menu=True, group_only=True),
        CommandSpec("progress", Option.CHALLENGE, group_menu=True),
    )
    public = True

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        slug = args.strip()
        if command == "progress":
            await self._progress(turn, slug)
            return
        if not turn.chat.is_group:
            raise KoomError("group.groups_only")
        group = await register_group(turn)
        if command == "following":
            await self._following(turn, group)
            return
        _require_admin(turn)
        if slug:
            challenge = await visible_challenge(turn, slug)
            await self._change(turn, group, challenge, follow=command == "follow")
        elif command == "follow":
            await self._offer_follow(turn, group)
        else:
            await self._offer_unfollow(turn, group)

    @on(GroupFollow)
    async def follow(self, turn: Turn, button: GroupFollow) -> None:
        await self._pressed(turn, button.challenge_id, follow=True)

    @on(GroupUnfollow)
    async def unfollow(self, turn: Turn, button: GroupUnfollow) -> None:
        await self._pressed(turn, button.challenge_id, follow=False)

    @on(GroupLanguage)
    async def language(self, turn: Turn, button: GroupLanguage) -> None:
        if not turn.chat.is_group or button.locale not in SUPPORTED_LOCALES:
            raise KoomError("engine.stale_choice")
        _require_admin(turn, "group.language_admin_only")
        group = await register_group(turn)
        await turn.services.groups.set_language(group.id, button.locale)
        turn.send(Translator(button.locale)("group.language_set"))

    async def _pressed(self, turn: Turn, challenge_id: int, *, follow: bool) -> None:
        """A challenge picked to follow or unfollow, by an administrator of the group."""
        if not turn.chat.is_group:
            raise KoomError("engine.stale_choice")
        _require_admin(turn)
        group = await register_group(turn)
        challenge = await challenge_by_id(turn, challenge_id)
        await self._change(turn, group, challenge, follow=follow)

    async def _change(self, turn: Turn, group: Group, challenge: Challenge, follow: bool) -> None:
        if follow:
            changed = await turn.services.groups.follow(group.id, challenge.id)
            if changed:
                await send_latest(turn.services, challenge.id, group_id=group.id)
            turn.say(
                "group.followed" if changed else "group.already_following", title=challenge.title
            )
        else:
            changed = await turn.services.groups.unfollow(group.id, challenge.id)
            turn.say(
                "group.unfollowed" if changed else "group.not_following", title=challenge.title
            )

    async def _offer_follow(self, turn: Turn, group: Group) -> None:
        followed = {c.id for c in await turn.services.groups.followed_by(group.id)}
        open_now = await turn.services.challenges.list_open(0, MAX_LISTED, await members_of(turn))
        candidates = [c for c in open_now if c.id not in followed]
        _offer(turn, candidates, GroupFollow, "group.pick_follow", "group.nothing_to_follow")

    async def _offer_unfollow(self, turn: Turn, group: Group) -> None:
        followed = await turn.services.groups.followed_by(group.id)
        _offer(turn, followed, GroupUnfollow, "group.pick_unfollow", "group.follows_nothing")

    async def _following(self, turn: Turn, group: Group) -> None:
        followed = await turn.services.groups.followed_by(group.id)
        if not followed:
            turn.say("group.follows_nothing")
            return
        lines = [turn.t("group.following_title")]
        lines.extend(summary_line(turn.t, challenge) for challenge in followed)
        turn.send("\n\n".join(lines))

    async def _progress(self, turn: Turn, slug: str) -> None:
        """The card of `slug`, else of each challenge the group follows, for everyone."""
        if not turn.chat.is_group:
            if not slug:
                raise KoomError("group.progress_which")
            await show_card(turn, await visible_challenge(turn, slug))
            return
        if slug:
            shown = [await visible_challenge(turn, slug)]
        else:
            group = await register_group(turn)
            shown = (await turn.services.groups.followed_by(group.id))[:MAX_LISTED]
            if not shown:
                turn.say("group.follows_nothing")
                return
        for challenge in shown:
            _group_card(turn, challenge)


def _offer(
    turn: Turn,
    found: list[Challenge],
    kind: Callable[[int], Button],
    prompt: str,
    empty: str,
) -> None:
    """One button of `kind` per challenge, or the `empty` message."""
    if not found:
        turn.say(empty)
        return
    rows = [[turn.choice(short(c.title), kind(c.id))] for c in found]
    turn.send(turn.t(prompt), rows)


def ask_language(turn: Turn) -> None:
    """/language in a group: its administrators choose the language the bot speaks there on
    its own; anyone else is told where to choose their own."""
    _require_admin(turn, "group.language_admin_only")
    row = [
        turn.choice(Translator(locale)("common.language_name"), GroupLanguage(locale))
        for locale in SUPPORTED_LOCALES
    ]
    turn.send(turn.t("group.language_prompt"), [row])


def _require_admin(turn: Turn, refusal: str = "group.admin_only") -> None:
    if not turn.sender.is_chat_admin:
        raise KoomError(refusal)


def _group_card(turn: Turn, challenge: Challenge) -> None:
    """The card for everyone, with the way to pledge in private (a link where there is one)."""
    text = card_text(turn.t, progress_of(challenge, turn.clock))
    template = turn.capabilities.share_link_template
    link = template.format(payload=make_payload(challenge.slug))
    where = turn.choice(turn.t("browse.button_map"), MapShow(challenge.id))
    if template.startswith(("https://", "http://")):
        turn.send(text, [[turn.link(turn.t("group.pledge_in_private"), link), where]])
    elif turn.capabilities.private_in_groups:  # pledging works right here, privately
        command = f"/pledge {challenge.slug}"
        turn.send(f"{text}\n\n{turn.t('group.pledge_here', command=command)}", [[where]])
    else:
        turn.send(f"{text}\n\n{turn.t('group.pledge_hint', command=link)}", [[where]])
