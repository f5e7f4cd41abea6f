"""The latest announcement of a challenge, once, to a member or group that joins later."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from core.db.tables import accounts, deliveries, groups, members, outbox
from core.db.upsert import insert_for
from core.delivery.fanout import ANNOUNCEMENT_PRIORITY, delivery_key
from core.events import CROSSED_BY
from core.identity import PUSH_PLATFORMS
from core.models import ANNOUNCEMENTS

if TYPE_CHECKING:
    from core.services import Services


def _told(payload: Any, member_id: int) -> bool:
    """Whether the member caused the event, and so heard of it in their thanks."""
    return isinstance(payload, dict) and payload.get(CROSSED_BY) == member_id


async def send_latest(
    services: Services,
    challenge_id: int,
    *,
    member_id: int | None = None,
    group_id: int | None = None,
) -> bool:
    """Queue the challenge's latest announcement for a new pledger (unless they opted out of
    news, or their own pledge caused it: their thanks said it) or a newly following group;
    False when there is none or they cannot be reached. The row's dedupe key is the
    fan-out's, so nobody hears one announcement twice."""
    return await services.db.transaction(
        latest_write(services, challenge_id, member_id=member_id, group_id=group_id)
    )


def latest_write(
    services: Services,
    challenge_id: int,
    *,
    member_id: int | None = None,
    group_id: int | None = None,
) -> Callable[[Connection], bool]:
    """`send_latest` as a unit of work, for a caller that writes it with others."""
    return partial(
        _queue_latest,
        challenge_id=challenge_id,
        member_id=member_id,
        group_id=group_id,
        now=services.clock.now(),
        default_locale=services.settings.default_locale,
    )


def _queue_latest(
    conn: Connection,
    challenge_id: int,
    member_id: int | None,
    group_id: int | None,
    now: datetime,
    default_locale: str,
) -> bool:
    """A unit of work: the latest announcement's row for the member or group, if any."""
    event = (
        conn.execute(
            select(outbox.c.id, outbox.c.kind, outbox.c.payload)
            .where(
                outbox.c.challenge_id == challenge_id,
                outbox.c.kind.in_([k.value for k in ANNOUNCEMENTS]),
            )
            .order_by(outbox.c.id.desc())
            .limit(1)
        )
    ).first()
    if event is None or (member_id is not None and _told(event.payload, member_id)):
        return False
    target: Any
    if group_id is not None:
        target = (
            conn.execute(
                select(groups.c.platform, groups.c.chat_id, groups.c.language).where(
                    groups.c.id == group_id,
                    groups.c.unreachable_at.is_(None),
                    groups.c.platform.in_(PUSH_PLATFORMS),
                )
            )
        ).first()
    else:
        target = (
            conn.execute(
                select(
                    accounts.c.platform,
                    accounts.c.external_id.label("chat_id"),
                    members.c.language,
                )
                .join(members, members.c.id == accounts.c.member_id)
                .where(
                    accounts.c.member_id == member_id,
                    accounts.c.unreachable_at.is_(None),
                    accounts.c.platform.in_(PUSH_PLATFORMS),
                    members.c.news_opt_out.is_(False),
                )
                .order_by(accounts.c.id)
                .limit(1)
            )
        ).first()
    if target is None:
        return False
    result = conn.execute(
        insert_for(conn, deliveries)
        .values(
            event_id=event.id,
            platform=target.platform,
            chat_id=target.chat_id,
            is_group=group_id is not None,
            member_id=member_id,
            group_id=group_id,
            locale=target.language or default_locale,
            kind=event.kind,
            challenge_id=challenge_id,
            payload=event.payload,
            dedupe_key=delivery_key(event.id, target.platform, target.chat_id),
            priority=ANNOUNCEMENT_PRIORITY,
            status="pending",
            attempts=0,
            not_before=now,
            created_at=now,
        )
        .on_conflict_do_nothing()
    )
    return result.rowcount > 0
