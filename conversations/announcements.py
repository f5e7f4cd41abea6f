"""The words of announcements: what a group, a pledger or an organiser reads when a challenge
reaches a milestone, unlocks a tier, succeeds, expires or sees a promise kept."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from conversations.model import Message, Reply
from core.db.tables import challenges
from core.delivery.protocol import Notice
from core.i18n import Translator
from core.models import EventKind

if TYPE_CHECKING:
    from core.services import Services


def announcement_text(t: Translator, notice: Notice, title: str) -> str:
    """One announcement in `t`'s language, for the challenge called `title`."""
    p = notice.payload
    match EventKind(notice.kind):
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
        case EventKind.PROMISE_KEPT:
            return t(
                "announce.promise_kept",
                sponsor=p["sponsor"],
                reward=p["reward"],
                title=title,
                proof=p["proof"],
            )


async def announcement_replies(services: Services, notices: list[Notice]) -> list[Reply]:
    """One message saying every notice (coalesced for one chat), each in its own locale."""
    ids = {n.challenge_id for n in notices}
    async with services.db.read() as conn:
        rows = await conn.execute(
            select(challenges.c.id, challenges.c.title).where(challenges.c.id.in_(ids))
        )
        titles = {r.id: r.title for r in rows}
    texts = [
        announcement_text(Translator(n.locale), n, titles.get(n.challenge_id, "")) for n in notices
    ]
    return [Message("\n\n".join(texts))]
