"""The words of announcements: what a group, a pledger or an organiser reads when a challenge
reaches a milestone, unlocks a tier, succeeds, expires or sees a promise kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from conversations.buttons import pack
from conversations.flows.actions import SettingsLinkNo, SettingsLinkYes
from conversations.flows.reminders import reminder_choices
from conversations.flows.sponsor import sponsor_notice
from conversations.model import Choice, Image, Message, Reply
from core.db.tables import challenges, tiers
from core.delivery.protocol import Notice
from core.i18n import Translator
from core.models import EventKind
from core.services.broadcasts import BROADCAST_KIND
from core.services.conditional import CONDITIONAL_KIND
from core.services.linking import LINK_REQUEST_KIND
from core.services.referrals import REFERRAL_KIND
from core.services.reminders import REMINDER_KIND
from core.services.sponsors import SPONSOR_KINDS

if TYPE_CHECKING:
    from core.services import Services


def announcement_text(t: Translator, notice: Notice, title: str) -> str:
    """One announcement in `t`'s language, for the challenge called `title`."""
    p = notice.payload
    match notice.kind:
        case EventKind.MILESTONE:
            return t(
                "announce.milestone",
                percent=p["percent"],
                title=title,
                count=p["count"],
                goal=p["goal"],
            )
        case EventKind.TIER_UNLOCKED:
            return t(
                "announce.tier_unlocked", sponsor=p["sponsor"], reward=p["reward"], title=title
            )
        case EventKind.SUCCEEDED:
            return t("announce.succeeded", title=title, count=p["count"], goal=p["goal"])
        case EventKind.EXPIRED:
            return t("announce.expired", title=title, count=p["count"], goal=p["goal"])
        case EventKind.PROMISE_KEPT if not p.get("proof"):  # a picture without a caption
            return t(
                "announce.promise_kept_picture",
                sponsor=p["sponsor"],
                reward=p["reward"],
                title=title,
            )
        case EventKind.PROMISE_KEPT:
            return t(
                "announce.promise_kept",
                sponsor=p["sponsor"],
                reward=p["reward"],
                title=title,
                proof=p["proof"],
            )
        case EventKind.AREA_GOAL:
            return t(
                "announce.area_goal", area=p["area"], title=title, count=p["count"], goal=p["goal"]
            )
        case EventKind.DEADLINE:
            days = int(str(p["days"]))
            return t.plural(
                "announce.deadline", days, title=title, count=p["count"], goal=p["goal"]
            )
        case EventKind.DIGEST:
            return _digest(t, p, title)
        case EventKind.NUDGE:
            return t(
                "announce.nudge",
                title=title,
                count=p["count"],
                goal=p["goal"],
                forecast=p["forecast"],
                deadline=_day(p["deadline"]),
                needed=p["needed_per_day"],
            )
        case _:
            raise ValueError(f"no words for notices of kind {notice.kind!r}")


def _digest(t: Translator, p: Mapping[str, object], title: str) -> str:
    """The weekly digest: the week's pledges, the total, and the forecast at this pace."""
    lines = [t.plural("announce.digest", int(str(p["week"])), title=title)]
    lines.append(t("announce.digest_total", count=p["count"], goal=p["goal"]))
    areas = p.get("areas")
    if isinstance(areas, list) and areas:
        places = " · ".join(t("announce.digest_area", area=a, n=n) for a, n in areas)
        lines.append(t("announce.digest_areas", areas=places))
    reached_on = p.get("reached_on")
    if p.get("succeeded"):
        return "\n".join(lines)
    if reached_on:
        lines.append(t("announce.digest_on_track", date=_day(reached_on)))
    else:
        lines.append(
            t("announce.digest_behind", forecast=p["forecast"], deadline=_day(p["deadline"]))
        )
    return "\n".join(lines)


def _day(value: object) -> date:
    """A date sent in a payload as ISO text."""
    return datetime.fromisoformat(str(value)).date()


async def announcement_replies(services: Services, notices: list[Notice]) -> list[Reply]:
    """What one chat receives: the announcements coalesced in one message, each in its own
    locale, then each reminder or broadcast as its own message. A broadcast carries its
    challenge's title, so the bulk of a broadcast costs no read here."""
    ids = {
        n.challenge_id
        for n in notices
        if n.challenge_id is not None and not (n.kind == BROADCAST_KIND and "title" in n.payload)
    }
    found: dict[int, Any] = {}
    rewards: dict[int, Any] = {}
    tier_ids = {int(str(n.payload["tier_id"])) for n in notices if "tier_id" in n.payload}
    if ids:
        async with services.db.read() as conn:
            rows = await conn.execute(
                select(
                    challenges.c.id,
                    challenges.c.title,
                    challenges.c.action,
                    challenges.c.frequency,
                    challenges.c.translations,
                ).where(challenges.c.id.in_(ids))
            )
            found = {r.id: r for r in rows}
            if tier_ids:
                tier_rows = await conn.execute(
                    select(tiers.c.id, tiers.c.translations).where(tiers.c.id.in_(tier_ids))
                )
                rewards = {r.id: r.translations or {} for r in tier_rows}
    replies: list[Reply] = []
    texts: list[str] = []
    for notice in notices:
        t = Translator(notice.locale)
        challenge = found.get(notice.challenge_id) if notice.challenge_id else None
        read = _read_in(challenge, notice.locale)
        title = read.get("title", "")
        if notice.kind == REMINDER_KIND and challenge is not None:
            text = t(f"reminder.text_{challenge.frequency}", title=title, action=read["action"])
            replies.append(Message(text, reminder_choices(t, challenge.id)))
        elif notice.kind == REFERRAL_KIND:
            joined = int(str(notice.payload["joined"]))
            replies.append(Message(t.plural("people.referral_joined", joined)))
        elif notice.kind == LINK_REQUEST_KIND:
            replies.append(link_request_message(t, notice.payload))
        elif notice.kind == CONDITIONAL_KIND:
            replies.append(Message(t("conditional.activated", title=title)))
        elif notice.kind in SPONSOR_KINDS:
            replies.append(sponsor_notice(t, notice, title))
        elif notice.kind == BROADCAST_KIND:
            title = str(notice.payload.get("title", title))
            replies.append(Message(broadcast_text(t, notice.payload, title)))
        elif notice.kind not in (REMINDER_KIND, REFERRAL_KIND):
            texts.append(announcement_text(t, _reward_in(notice, rewards), title))
    if texts:
        replies.insert(0, Message("\n\n".join(texts)))
    replies += await _proof_pictures(services, notices)
    return replies


async def _proof_pictures(services: Services, notices: list[Notice]) -> list[Reply]:
    """The proof picture of each kept promise whose notice carries one, after the words."""
    pictures: list[Reply] = []
    for notice in notices:
        if notice.kind != EventKind.PROMISE_KEPT or not notice.payload.get("picture"):
            continue
        data = await services.sponsors.picture(int(str(notice.payload["tier_id"])))
        if data is not None:
            caption = Translator(notice.locale)(
                "announce.proof_picture", sponsor=notice.payload.get("sponsor", "")
            )
            pictures.append(Image(data, caption, "proof.jpg"))
    return pictures


def _read_in(challenge: Any, locale: str) -> dict[str, str]:
    """A challenge row's title and action in `locale` where given, else the original."""
    if challenge is None:
        return {}
    given = (challenge.translations or {}).get(locale, {})
    return {
        "title": given.get("title") or challenge.title,
        "action": given.get("action") or challenge.action,
    }


def _reward_in(notice: Notice, rewards: Mapping[int, Any]) -> Notice:
    """The notice with its tier's reward in the notice's language, where given."""
    tier_id = notice.payload.get("tier_id")
    given = rewards.get(int(str(tier_id)), {}).get(notice.locale) if tier_id is not None else None
    return replace(notice, payload={**notice.payload, "reward": given}) if given else notice


def broadcast_text(t: Translator, payload: Mapping[str, object], title: str) -> str:
    """An organiser's message as members read it: who it is from, the text, how to stop."""
    head = t("broadcast.header_challenge", title=title) if title else t("broadcast.header")
    footer = "" if payload.get("group") else "\n\n" + t("broadcast.footer_stop")
    return f"{head}\n\n{payload['text']}{footer}"


def link_request_message(t: Translator, payload: Mapping[str, object]) -> Message:
    """Another account typed the member's link code: their yes or no, as buttons."""
    code = str(payload["code"])
    buttons = (
        Choice(pack(SettingsLinkYes(code)), t("settings.button_link_ok")),
        Choice(pack(SettingsLinkNo(code)), t("settings.button_link_no")),
    )
    return Message(t("settings.link_confirm_ask", account=payload["account"]), (buttons,))
