"""Who may see an organisation's private challenges: its staff and the members it let in with
an invitation (organisation_members, any role), and the people in a Telegram group or Discord
server it owns (organisation_groups), as the platform's adapter answers, cached a while.

core/ stays platform-neutral: each adapter registers one `GroupCheck` ("is this account in
this group?") for its platform.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.clock import Clock
from core.db.database import Database
from core.db.tables import (
    accounts,
    challenges,
    groups,
    organisation_groups,
    organisation_members,
)
from core.models import Challenge, Group, Visibility
from core.services.groups import group_from_row

GroupCheck = Callable[[Group, str], Awaitable[bool | None]]
"""An adapter's answer to "is the account with this external id in this group?" (None: it
cannot tell now, as when the platform is unreachable: read as no, not cached)."""

CACHE_SECONDS = 600.0
"""How long an adapter's answer is kept before the platform is asked again."""


class MembershipService:
    """The organisations whose private challenges a member may see and join."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._checks: dict[str, GroupCheck] = {}
        self._cache: dict[tuple[int, str], tuple[bool, float]] = {}

    def register(self, platform: str, check: GroupCheck) -> None:
        """Let the platform's adapter answer for its groups (replaces an earlier one)."""
        self._checks[platform] = check
        self._cache = {key: kept for key, kept in self._cache.items() if key[1] != platform}

    async def organisations_of(self, member_id: int) -> frozenset[int]:
        """The organisations the member belongs to: by a role in it, or by being in one of
        its groups (only organisations with a private challenge are asked for)."""
        async with self.db.read() as conn:
            direct = await _roles_of(conn, member_id)
            if not self._checks:
                return frozenset(direct)
            private = (
                select(challenges.c.organisation_id)
                .where(challenges.c.visibility == Visibility.MEMBERS.value)
                .distinct()
            )
            owned = (
                await conn.execute(
                    select(groups, organisation_groups.c.organisation_id.label("organisation"))
                    .join(organisation_groups, organisation_groups.c.group_id == groups.c.id)
                    .where(
                        organisation_groups.c.organisation_id.in_(private),
                        groups.c.platform.in_(list(self._checks)),
                    )
                )
            ).all()
            mine = (
                await conn.execute(
                    select(accounts.c.platform, accounts.c.external_id).where(
                        accounts.c.member_id == member_id
                    )
                )
            ).all()
        found = set(direct)
        for row in owned:
            if row.organisation in found:
                continue
            for account in mine:
                if account.platform == row.platform and await self._is_in(row, account.external_id):
                    found.add(row.organisation)
                    break
        return frozenset(found)

    async def invited_to(self, member_id: int) -> frozenset[int]:
        """The organisations the member belongs to by a role in it (its staff, or let in with
        an invitation), not merely by being in one of its groups for now."""
        async with self.db.read() as conn:
            return frozenset(await _roles_of(conn, member_id))

    async def may_see(self, member_id: int | None, challenge: Challenge) -> bool:
        """Whether the member may see (and join) the challenge: a public one, anyone."""
        if not challenge.private:
            return True
        if member_id is None or challenge.organisation_id is None:
            return False
        return challenge.organisation_id in await self.organisations_of(member_id)

    async def of_group(self, group_id: int) -> frozenset[int]:
        """The organisation owning the group (everyone in it is its member), if any."""
        async with self.db.read() as conn:
            owner = (
                await conn.execute(
                    select(organisation_groups.c.organisation_id).where(
                        organisation_groups.c.group_id == group_id
                    )
                )
            ).scalar_one_or_none()
        return frozenset() if owner is None else frozenset((owner,))

    async def _is_in(self, row: Any, external_id: str) -> bool:
        key = (row.id, external_id)
        kept = self._cache.get(key)
        now = time.monotonic()
        if kept is not None and kept[1] > now:
            return kept[0]
        answer = await self._checks[row.platform](group_from_row(row), external_id)
        if answer is None:
            return False
        self._cache[key] = (answer, now + CACHE_SECONDS)
        return answer


async def _roles_of(conn: AsyncConnection, member_id: int) -> set[int]:
    """The organisations where the member has a role (any: staff or member)."""
    found = await conn.execute(
        select(organisation_members.c.organisation_id).where(
            organisation_members.c.member_id == member_id
        )
    )
    return set(found.scalars())
