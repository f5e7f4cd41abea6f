"""Linking a second platform account to a member, with the member's confirmation.

The member makes a one-time code (`/link`) and types it from the other account; that only
claims the code. The code's owner is asked, on their own account (a message with buttons,
and `/link` there), to confirm: only then does the other account join, bringing what it had.
Someone who saw a code therefore gains nothing without the owner's yes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from core.clock import Clock
from core.db.database import Database
from core.db.tables import (
    accounts,
    checkins,
    deliveries,
    link_codes,
    pledges,
)
from core.db.tables import members as members_table
from core.errors import Invalid, NotFound
from core.identity import PUSH_PLATFORMS, AccountRef
from core.models import Member
from core.services.members import member_from_row
from core.services.pledges import release_pledge_counts

LINK_CODE_TTL = timedelta(minutes=15)
LINK_REQUEST_KIND = "link_request"
LINK_REQUEST_PRIORITY = 0  # someone is waiting for it
_LINK_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True, slots=True)
class LinkRequest:
    """A code of the member claimed by another account, waiting for their answer."""

    code: str
    account: str


class LinkService:
    """Link codes, their claims and their confirmation."""

    def __init__(self, db: Database, clock: Clock, default_locale: str) -> None:
        self.db = db
        self.clock = clock
        self.default_locale = default_locale

    async def create_code(self, member_id: int) -> str:
        """A new one-time code for this member (their older code, claimed or not, is gone)."""
        code = "".join(secrets.choice(_LINK_ALPHABET) for _ in range(8))
        await self.db.transaction(_new_code, member_id, code, self.clock.now() + LINK_CODE_TTL)
        return code

    async def request(self, account: AccountRef, code: str) -> None:
        """`account` typed `code`: claim it, and ask the code's owner to confirm (a message
        on their first reachable account). Invalid for an unknown, expired or claimed code,
        or one of the account's own member."""
        cleaned = "".join(code.split()).upper()
        await self.db.transaction(_claim, account, cleaned, self.clock.now(), self.default_locale)

    async def pending(self, member_id: int) -> LinkRequest | None:
        """The member's code claimed by another account and not expired, if any."""
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(link_codes.c.code, link_codes.c.claimed_by).where(
                        link_codes.c.member_id == member_id,
                        link_codes.c.claimed_by.is_not(None),
                        link_codes.c.expires_at >= self.clock.now(),
                    )
                )
            ).first()
        return None if row is None else LinkRequest(row.code, row.claimed_by)

    async def confirm(self, member_id: int, code: str) -> Member:
        """The owner says yes: the claiming account joins them (with what it had)."""
        return await self.db.transaction(_confirm, member_id, code, self.clock.now())

    async def refuse(self, member_id: int, code: str) -> None:
        """The owner says no: the code is gone, nothing joins."""
        await self.db.transaction(_refuse, member_id, code)


def _new_code(conn: Connection, member_id: int, code: str, expires_at: datetime) -> None:
    conn.execute(delete(link_codes).where(link_codes.c.member_id == member_id))
    conn.execute(insert(link_codes).values(code=code, member_id=member_id, expires_at=expires_at))


def _claim(
    conn: Connection, account: AccountRef, code: str, now: datetime, default_locale: str
) -> None:
    row = conn.execute(select(link_codes).where(link_codes.c.code == code)).first()
    if row is None or row.expires_at < now or row.claimed_by is not None:
        raise Invalid("error.link_code_invalid")
    if _member_of(conn, account) == row.member_id:
        raise Invalid("error.link_code_same")
    conn.execute(
        update(link_codes).where(link_codes.c.code == code).values(claimed_by=str(account))
    )
    owner = conn.execute(
        select(members_table.c.language, accounts.c.platform, accounts.c.external_id)
        .join(accounts, accounts.c.member_id == members_table.c.id)
        .where(
            members_table.c.id == row.member_id,
            accounts.c.unreachable_at.is_(None),
            accounts.c.platform.in_(PUSH_PLATFORMS),
        )
        .order_by(accounts.c.id)
    ).first()
    if owner is None:  # only on the console: they see the request with /link
        return
    conn.execute(
        insert(deliveries).values(
            platform=owner.platform,
            chat_id=owner.external_id,
            is_group=False,
            member_id=row.member_id,
            locale=owner.language or default_locale,
            kind=LINK_REQUEST_KIND,
            payload={"code": code, "account": str(account)},
            dedupe_key=f"link:{code}:{account}",
            priority=LINK_REQUEST_PRIORITY,
            status="pending",
            attempts=0,
            not_before=now,
            created_at=now,
        )
    )


def _confirm(conn: Connection, member_id: int, code: str, now: datetime) -> Member:
    row = conn.execute(
        select(link_codes).where(link_codes.c.code == code, link_codes.c.member_id == member_id)
    ).first()
    if row is None or row.claimed_by is None or row.expires_at < now:
        raise Invalid("error.link_code_invalid")
    conn.execute(delete(link_codes).where(link_codes.c.code == code))
    account = AccountRef.parse(row.claimed_by)
    source = _member_of(conn, account)
    if source is None:
        conn.execute(
            insert(accounts).values(
                platform=account.platform.value,
                external_id=account.external_id,
                member_id=member_id,
                created_at=now,
            )
        )
    elif source != member_id:
        _merge_members(conn, source=source, target=member_id)
    merged = conn.execute(select(members_table).where(members_table.c.id == member_id)).first()
    if merged is None:
        raise NotFound("error.member_not_found")
    return member_from_row(merged)


def _refuse(conn: Connection, member_id: int, code: str) -> None:
    conn.execute(
        delete(link_codes).where(link_codes.c.code == code, link_codes.c.member_id == member_id)
    )


def _member_of(conn: Connection, account: AccountRef) -> int | None:
    found: int | None = conn.execute(
        select(accounts.c.member_id).where(
            accounts.c.platform == account.platform.value,
            accounts.c.external_id == account.external_id,
        )
    ).scalar_one_or_none()
    return found


def _merge_members(conn: Connection, *, source: int, target: int) -> None:
    """Move accounts, pledges and check-ins of `source` onto `target`, then drop `source`.

    A challenge both pledged keeps the target's pledge; the duplicate's count is given back.
    """
    target_challenges = set(
        conn.execute(select(pledges.c.challenge_id).where(pledges.c.member_id == target)).scalars()
    )
    for pledge in conn.execute(select(pledges).where(pledges.c.member_id == source)).all():
        mine = (checkins.c.member_id == source) & (checkins.c.challenge_id == pledge.challenge_id)
        own = (pledges.c.member_id == source) & (pledges.c.challenge_id == pledge.challenge_id)
        if pledge.challenge_id in target_challenges:
            if pledge.withdrawn_at is None:
                release_pledge_counts(conn, pledge.challenge_id, pledge.area_key)
            conn.execute(delete(checkins).where(mine))
            conn.execute(delete(pledges).where(own))
        else:
            conn.execute(update(checkins).where(mine).values(member_id=target))
            conn.execute(update(pledges).where(own).values(member_id=target))
    conn.execute(update(accounts).where(accounts.c.member_id == source).values(member_id=target))
    conn.execute(update(pledges).where(pledges.c.referrer_id == source).values(referrer_id=target))
    conn.execute(delete(members_table).where(members_table.c.id == source))
