"""Outbox events -> one delivery row per recipient, exactly once per event and chat.

Each event is claimed and fanned out in one transaction: the rows are written and the event
marked together, and the unique dedupe key `event:platform:chat` keeps a rerun (after a crash,
or a concurrent fan-out) from writing any row twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from core.db.tables import (
    accounts,
    challenges,
    deliveries,
    group_follows,
    members,
    outbox,
    pledges,
)
from core.db.upsert import insert_all_new
from core.events import CROSSED_BY
from core.identity import PUSH_PLATFORMS, AccountRef
from core.models import ANNOUNCEMENTS, EventKind
from core.services.groups import reachable_followers
from core.services.sponsors import SPONSOR_KINDS, sponsor_recipient

if TYPE_CHECKING:
    from core.services import Services

BATCH = 50
"""Events fanned out per call."""
ANNOUNCEMENT_PRIORITY = 10
"""Announcements are bulk: replies to people talking to the bot go first."""
GROUPS, PLEDGERS, ORGANISERS, SPONSOR = "groups", "pledgers", "organisers", "sponsor"
AUDIENCES: dict[EventKind, frozenset[str]] = {
    **{kind: frozenset({GROUPS, PLEDGERS, ORGANISERS}) for kind in ANNOUNCEMENTS},
    EventKind.DEADLINE: frozenset({GROUPS, PLEDGERS}),
    EventKind.DIGEST: frozenset({GROUPS}),
    EventKind.NUDGE: frozenset({ORGANISERS}),
    **{kind: frozenset({SPONSOR}) for kind in SPONSOR_KINDS},
}
"""Who hears each kind of event."""


def delivery_key(event_id: int, platform: str, chat_id: str) -> str:
    """The dedupe key of one event's delivery to one chat."""
    return f"{event_id}:{platform}:{chat_id}"


async def fan_out(services: Services) -> int:
    """Fan out the oldest events not fanned out yet (a bounded batch); the rows written."""
    async with services.db.read() as conn:
        event_ids = (
            await conn.execute(
                select(outbox.c.id)
                .where(outbox.c.fanned_out_at.is_(None))
                .order_by(outbox.c.id)
                .limit(BATCH)
            )
        ).scalars()
        pending = list(event_ids)
    written = 0
    settings = services.settings
    for event_id in pending:
        written += await services.db.transaction(
            _fan_out_event,
            event_id,
            services.clock.now(),
            settings.default_locale,
            settings.organisers,
        )
    return written


def _fan_out_event(
    conn: Connection,
    event_id: int,
    now: datetime,
    default: str,
    organisers: Sequence[AccountRef],
) -> int:
    """A unit of work: claim one event and write its delivery rows."""
    # Claim the event: under a concurrent fan-out only one transaction gets the row back.
    event = (
        conn.execute(
            update(outbox)
            .where(outbox.c.id == event_id, outbox.c.fanned_out_at.is_(None))
            .values(fanned_out_at=now)
            .returning(
                outbox.c.id,
                outbox.c.kind,
                outbox.c.challenge_id,
                outbox.c.payload,
                outbox.c.created_at,
            )
        )
    ).first()
    if event is None:
        return 0
    rows: dict[str, dict[str, Any]] = {}

    def add(platform: str, chat_id: str, locale: str | None, **who: object) -> None:
        key = delivery_key(event.id, platform, chat_id)
        rows.setdefault(
            key,
            {
                "event_id": event.id,
                "platform": platform,
                "chat_id": chat_id,
                "locale": locale or default,
                "kind": event.kind,
                "challenge_id": event.challenge_id,
                "payload": event.payload,
                "dedupe_key": key,
                "priority": ANNOUNCEMENT_PRIORITY,
                "status": "pending",
                "attempts": 0,
                "not_before": now,
                "created_at": now,
                "is_group": False,
                "member_id": None,
                "group_id": None,
                **who,
            },
        )

    # Who joined after the event heard the latest announcement then (`send_latest`), and who
    # caused it was told in their thanks: neither hears it again, nor older news after newer.
    audience = AUDIENCES[EventKind(event.kind)]
    if GROUPS in audience:
        followers = reachable_followers(event.challenge_id).where(
            group_follows.c.created_at <= event.created_at
        )
        for group in conn.execute(followers):
            add(group.platform, group.chat_id, group.language, is_group=True, group_id=group.id)

    reached: set[int] = set()
    if PLEDGERS in audience:
        for pledger in conn.execute(
            select(members.c.id, members.c.language, accounts.c.platform, accounts.c.external_id)
            .join(pledges, pledges.c.member_id == members.c.id)
            .join(accounts, accounts.c.member_id == members.c.id)
            .where(
                pledges.c.challenge_id == event.challenge_id,
                pledges.c.withdrawn_at.is_(None),
                pledges.c.created_at <= event.created_at,
                members.c.id != (event.payload or {}).get(CROSSED_BY, 0),
                members.c.news_opt_out.is_(False),
                members.c.erased_at.is_(None),
                accounts.c.unreachable_at.is_(None),
                accounts.c.platform.in_(PUSH_PLATFORMS),
            )
            .order_by(members.c.id, accounts.c.id)
        ):
            if pledger.id not in reached:  # the member's first reachable account only
                reached.add(pledger.id)
                add(pledger.platform, pledger.external_id, pledger.language, member_id=pledger.id)

    if ORGANISERS in audience:
        for platform, chat_id, language in _organisers(conn, organisers, event.challenge_id):
            add(platform, chat_id, language)

    if SPONSOR in audience:
        tier_id = int(str(event.payload["tier_id"]))
        for sponsor in conn.execute(sponsor_recipient(tier_id)):
            add(sponsor.platform, sponsor.external_id, sponsor.language, member_id=sponsor.id)

    return insert_all_new(conn, deliveries, list(rows.values()))


def _organisers(
    conn: Connection, organisers: Sequence[AccountRef], challenge_id: int
) -> list[tuple[str, str, str | None]]:
    """The reachable organisers (from the settings) and the challenge's creator: they hear
    what concerns them as organisers, whatever their news setting."""
    found: list[tuple[str, str, str | None]] = []
    for organiser in organisers:
        if organiser.platform.value not in PUSH_PLATFORMS:
            continue
        known = (
            conn.execute(
                select(accounts.c.unreachable_at, members.c.language)
                .join(members, members.c.id == accounts.c.member_id)
                .where(
                    accounts.c.platform == organiser.platform.value,
                    accounts.c.external_id == organiser.external_id,
                )
            )
        ).first()
        if known is None or known.unreachable_at is None:
            language = known.language if known else None
            found.append((organiser.platform.value, organiser.external_id, language))
    creator = (
        conn.execute(
            select(accounts.c.platform, accounts.c.external_id, members.c.language)
            .join(members, members.c.id == accounts.c.member_id)
            .join(challenges, challenges.c.created_by == members.c.id)
            .where(
                challenges.c.id == challenge_id,
                accounts.c.unreachable_at.is_(None),
                accounts.c.platform.in_(PUSH_PLATFORMS),
            )
            .order_by(accounts.c.id)
            .limit(1)
        )
    ).first()
    if creator is not None:
        found.append((creator.platform, creator.external_id, creator.language))
    return found
