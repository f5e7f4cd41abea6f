"""Referral feedback: a member whose share link brought people hears it, at most once a day,
all the new ones in one message; `/mypledges` shows the total."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, func, or_, select, update

from core.clock import Clock
from core.db.database import Database
from core.db.tables import accounts, deliveries, members, pledges
from core.db.upsert import insert_for
from core.identity import PUSH_PLATFORMS

REFERRAL_KIND = "referral"
REFERRAL_PRIORITY = 10
"""Like announcements: bulk, after replies and reminders."""
QUIET_DAYS = timedelta(days=1)
"""A sharer hears of new joiners at most once in this time."""


class ReferralService:
    """Counts the people who joined through a member's links, and tells the member."""

    def __init__(self, db: Database, clock: Clock, default_locale: str) -> None:
        self.db = db
        self.clock = clock
        self.default_locale = default_locale

    async def joined_through(self, member_id: int) -> int:
        """How many active pledges the member's links brought."""
        async with self.db.read() as conn:
            count = await conn.execute(
                select(func.count()).where(
                    pledges.c.referrer_id == member_id, pledges.c.withdrawn_at.is_(None)
                )
            )
            return int(count.scalar_one())

    async def sweep(self) -> int:
        """Queue one message per sharer with people not told of yet, unless told in the last
        day; the messages queued."""
        return await self.db.transaction(_tell_sharers, self.clock.now(), self.default_locale)


def _tell_sharers(conn: Connection, now: datetime, default_locale: str) -> int:
    untold = (
        select(pledges.c.referrer_id, func.count().label("joined"))
        .where(
            pledges.c.referrer_id.is_not(None),
            pledges.c.referral_told_at.is_(None),
            pledges.c.withdrawn_at.is_(None),
        )
        .group_by(pledges.c.referrer_id)
        .subquery()
    )
    sharers = conn.execute(
        select(
            members.c.id,
            members.c.language,
            untold.c.joined,
            accounts.c.platform,
            accounts.c.external_id,
        )
        .join(untold, untold.c.referrer_id == members.c.id)
        .join(accounts, accounts.c.member_id == members.c.id)
        .where(
            or_(
                members.c.referrals_told_at.is_(None),
                members.c.referrals_told_at <= now - QUIET_DAYS,
            ),
            members.c.news_opt_out.is_(False),
            members.c.erased_at.is_(None),
            accounts.c.unreachable_at.is_(None),
            accounts.c.platform.in_(PUSH_PLATFORMS),
        )
        .order_by(members.c.id, accounts.c.id)
    ).all()
    told: set[int] = set()
    for sharer in sharers:
        if sharer.id in told:  # the member's first reachable account only
            continue
        told.add(sharer.id)
        conn.execute(
            insert_for(conn, deliveries)
            .values(
                platform=sharer.platform,
                chat_id=sharer.external_id,
                member_id=sharer.id,
                locale=sharer.language or default_locale,
                kind=REFERRAL_KIND,
                payload={"joined": sharer.joined},
                dedupe_key=f"{REFERRAL_KIND}:{sharer.id}:{now.isoformat()}",
                priority=REFERRAL_PRIORITY,
                status="pending",
                attempts=0,
                not_before=now,
                created_at=now,
            )
            .on_conflict_do_nothing()
        )
    if told:
        conn.execute(
            update(pledges)
            .where(pledges.c.referrer_id.in_(told), pledges.c.referral_told_at.is_(None))
            .values(referral_told_at=now)
        )
        conn.execute(update(members).where(members.c.id.in_(told)).values(referrals_told_at=now))
    return len(told)
