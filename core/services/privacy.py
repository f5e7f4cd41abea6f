"""A member's data: export it as JSON, or forget it while keeping anonymous counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from core.clock import Clock
from core.db.database import Database
from core.db.tables import (
    accounts,
    challenges,
    checkins,
    conversations,
    deliveries,
    link_codes,
    members,
    pledges,
)
from core.errors import NotFound

ERASED_NAME = "-"


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


class PrivacyService:
    """What we hold about a member, and how to erase it."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def export(self, member_id: int) -> dict[str, Any]:
        """Everything stored about the member, as JSON-ready data."""
        async with self.db.read() as conn:
            member = await conn.run_sync(_member_row, member_id)
            account_rows = await conn.execute(
                select(accounts.c.platform, accounts.c.external_id, accounts.c.created_at).where(
                    accounts.c.member_id == member_id
                )
            )
            pledge_rows = await conn.execute(
                select(pledges, challenges.c.slug, challenges.c.title)
                .join(challenges, challenges.c.id == pledges.c.challenge_id)
                .where(pledges.c.member_id == member_id)
            )
            checkin_rows = await conn.execute(
                select(challenges.c.slug, checkins.c.local_day)
                .join(challenges, challenges.c.id == checkins.c.challenge_id)
                .where(checkins.c.member_id == member_id)
                .order_by(checkins.c.local_day)
            )
            return {
                "member": {
                    "display_name": member.display_name,
                    "language": member.language,
                    "timezone": member.timezone,
                    "location": None
                    if member.location_name is None and member.latitude is None
                    else {
                        "name": member.location_name,
                        "latitude": member.latitude,
                        "longitude": member.longitude,
                    },
                    "reminder": member.reminder,
                    "reminder_hour": member.reminder_hour,
                    "news_opt_out": bool(member.news_opt_out),
                    "created_at": _iso(member.created_at),
                },
                "accounts": [
                    {"platform": a.platform, "id": a.external_id, "linked_at": _iso(a.created_at)}
                    for a in account_rows
                ],
                "pledges": [
                    {
                        "challenge": p.slug,
                        "title": p.title,
                        "pledged_at": _iso(p.created_at),
                        "withdrawn_at": _iso(p.withdrawn_at),
                        "area": p.area_key,
                        "streak": p.streak,
                        "best_streak": p.best_streak,
                        "checkins": p.checkin_total,
                    }
                    for p in pledge_rows
                ],
                "checkins": [{"challenge": c.slug, "day": _iso(c.local_day)} for c in checkin_rows],
            }

    async def forget(self, member_id: int) -> None:
        """Erase the member's personal data and accounts; pledges stay as anonymous counts."""

        def unit(conn: Connection) -> None:
            _member_row(conn, member_id)
            account_rows = conn.execute(
                select(accounts.c.platform, accounts.c.external_id).where(
                    accounts.c.member_id == member_id
                )
            ).all()
            for account in account_rows:
                conn.execute(
                    delete(conversations).where(
                        conversations.c.platform == account.platform,
                        conversations.c.account_id == account.external_id,
                    )
                )
            conn.execute(delete(accounts).where(accounts.c.member_id == member_id))
            conn.execute(delete(deliveries).where(deliveries.c.member_id == member_id))
            conn.execute(delete(link_codes).where(link_codes.c.member_id == member_id))
            conn.execute(
                update(pledges).where(pledges.c.referrer_id == member_id).values(referrer_id=None)
            )
            conn.execute(
                update(pledges).where(pledges.c.member_id == member_id).values(referrer_id=None)
            )
            conn.execute(
                update(members)
                .where(members.c.id == member_id)
                .values(
                    display_name=ERASED_NAME,
                    language=None,
                    location_name=None,
                    latitude=None,
                    longitude=None,
                    area_key=None,
                    reminder="none",
                    news_opt_out=True,
                    erased_at=self.clock.now(),
                )
            )

        await self.db.transaction(unit)


def _member_row(conn: Connection, member_id: int) -> Any:
    row = conn.execute(select(members).where(members.c.id == member_id)).first()
    if row is None or row.erased_at is not None:
        raise NotFound("error.member_not_found")
    return row
