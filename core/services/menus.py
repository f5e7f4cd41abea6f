"""Command menus that follow a person's roles. When someone joins or leaves an organisation's
staff, each of their accounts on a platform with menus of their own (`MENU_PLATFORMS`) gets a
delivery row of `MENU_KIND`: its adapter sets the menu the person's roles call for *when it
sends the row*, so rows sent out of order or twice still end on the right menu, and every
instance sees the request. The core never calls a platform. The rows name no member: news
switched off, STOP or /forgetme (which asks for the menu to go) never cancel them."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from core.db.tables import accounts, deliveries, members
from core.identity import MENU_PLATFORMS

MENU_KIND = "menu"
MENU_PRIORITY = 0
"""The person's role just changed: their menu follows at once, before bulk news."""


def ask_menus(conn: Connection, member_id: int, now: datetime, default_locale: str) -> None:
    """Part of a unit of work: ask for the member's menu to be set again on each of their
    reachable accounts where menus are per person."""
    for account in conn.execute(
        select(accounts.c.platform, accounts.c.external_id, members.c.language)
        .join(members, members.c.id == accounts.c.member_id)
        .where(
            accounts.c.member_id == member_id,
            accounts.c.platform.in_(MENU_PLATFORMS),
            accounts.c.unreachable_at.is_(None),
        )
    ):
        key = f"{MENU_KIND}:{account.platform}:{account.external_id}:{secrets.token_hex(8)}"
        conn.execute(
            insert(deliveries).values(
                platform=account.platform,
                chat_id=account.external_id,
                locale=account.language or default_locale,
                kind=MENU_KIND,
                payload={},
                dedupe_key=key,
                priority=MENU_PRIORITY,
                status="pending",
                attempts=0,
                not_before=now,
                created_at=now,
            )
        )
