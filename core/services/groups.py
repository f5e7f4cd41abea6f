"""Groups and channels that follow challenges for announcements."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.engine import Connection

from core.clock import Clock
from core.db.database import Database
from core.db.tables import challenges, deliveries, group_follows, group_members, groups
from core.db.upsert import insert_for, insert_ignore
from core.errors import NotFound
from core.identity import PUSH_PLATFORMS, ChatRef
from core.models import Challenge, ConditionScope, Group
from core.services.challenges import load_challenges
from core.services.joins import JoinHook, joined

SEEN_CACHE = 100_000
"""(group, member) pairs remembered as noted, so a busy group is not written at each input."""


def group_from_row(row: Any) -> Group:
    """Build a Group from a `groups` row."""
    return Group(row.id, row.platform, row.chat_id, row.title, row.language)


class GroupService:
    """Register groups, follow and unfollow challenges, list followers."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._seen: set[tuple[str, str, int]] = set()
        self.on_join: list[JoinHook] = []
        """Run in the unit that first notes a member in a group (conditional pledges)."""

    async def register(self, chat: ChatRef, title: str, language: str | None = None) -> Group:
        """The group for this chat, created or renamed."""

        def unit(conn: Connection) -> Group:
            stmt = insert_for(conn, groups).values(
                platform=chat.platform.value,
                chat_id=chat.chat_id,
                title=title[:200],
                language=language,
                created_at=self.clock.now(),
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[groups.c.platform, groups.c.chat_id],
                    set_={"title": title[:200], "unreachable_at": None},
                )
            )
            return group_from_row(conn.execute(_by_chat(chat)).one())

        return await self.db.transaction(unit)

    async def seen(self, chat: ChatRef, member_id: int) -> None:
        """Note that the member acts in this (registered) group: "N people of this group"
        counts them from now on, and what their pledges complete is activated in the same
        unit. Once per group and member; an unregistered chat notes nothing."""
        if (chat.platform.value, chat.chat_id, member_id) in self._seen:
            return

        def unit(conn: Connection) -> bool:
            found = conn.execute(select(groups.c.id).where(_chat_is(chat))).scalar()
            if found is None:
                return False
            now = self.clock.now()
            if insert_ignore(conn, group_members, group_id=found, member_id=member_id, seen_at=now):
                joined(self.on_join, conn, ConditionScope.GROUP, found, member_id)
            return True

        if await self.db.transaction(unit):
            if len(self._seen) > SEEN_CACHE:
                self._seen.clear()
            self._seen.add((chat.platform.value, chat.chat_id, member_id))

    async def of_member(self, member_id: int) -> list[Group]:
        """The groups the member was seen in, by title."""
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(groups)
                .join(group_members, group_members.c.group_id == groups.c.id)
                .where(group_members.c.member_id == member_id)
                .order_by(groups.c.title, groups.c.id)
            )
            return [group_from_row(r) for r in rows]

    async def find(self, chat: ChatRef) -> Group | None:
        """The group registered for this chat, or None."""
        async with self.db.read() as conn:
            row = (await conn.execute(_by_chat(chat))).first()
        return None if row is None else group_from_row(row)

    async def set_language(self, group_id: int, language: str) -> None:
        """The language the bot speaks on its own in the group (announcements, digests)."""

        def unit(conn: Connection) -> None:
            conn.execute(update(groups).where(groups.c.id == group_id).values(language=language))

        await self.db.transaction(unit)

    async def set_reachable(self, chat: ChatRef, reachable: bool) -> None:
        """Mark a group reachable (the bot is in it) or not (removed, may not post)."""

        def unit(conn: Connection) -> None:
            conn.execute(
                update(groups)
                .where(groups.c.platform == chat.platform.value, groups.c.chat_id == chat.chat_id)
                .values(unreachable_at=None if reachable else self.clock.now())
            )

        await self.db.transaction(unit)

    async def follow(self, group_id: int, challenge_id: int) -> bool:
        """Follow a challenge; False when the group already followed it."""
        return await self.db.transaction(
            insert_ignore,
            group_follows,
            group_id=group_id,
            challenge_id=challenge_id,
            created_at=self.clock.now(),
        )

    async def unfollow(self, group_id: int, challenge_id: int) -> bool:
        """Stop following; False when the group did not follow it."""

        def unit(conn: Connection) -> bool:
            result = conn.execute(
                delete(group_follows).where(
                    group_follows.c.group_id == group_id,
                    group_follows.c.challenge_id == challenge_id,
                )
            )
            return bool(result.rowcount)

        return await self.db.transaction(unit)

    async def followed_by(self, group_id: int) -> list[Challenge]:
        """The challenges a group follows."""
        async with self.db.read() as conn:
            ids = select(group_follows.c.challenge_id).where(group_follows.c.group_id == group_id)
            return await conn.run_sync(
                load_challenges, challenges.c.id.in_(ids), challenges.c.deadline
            )

    async def followers(self, challenge_id: int) -> list[Group]:
        """The groups that follow a challenge, on every platform."""
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(groups)
                .join(group_follows, group_follows.c.group_id == groups.c.id)
                .where(group_follows.c.challenge_id == challenge_id)
                .order_by(groups.c.id)
            )
            return [group_from_row(r) for r in rows]

    async def migrate(self, old: ChatRef, new_chat_id: str) -> Group:
        """A group got a new chat id (Telegram supergroup migration): keep its follows, and
        send what is queued for it to the new id."""

        def unit(conn: Connection) -> Group:
            result = conn.execute(
                update(groups)
                .where(groups.c.platform == old.platform.value, groups.c.chat_id == old.chat_id)
                .values(chat_id=new_chat_id)
            )
            if not result.rowcount:
                raise NotFound("error.group_not_found")
            conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.platform == old.platform.value,
                    deliveries.c.chat_id == old.chat_id,
                    deliveries.c.status == "pending",
                )
                .values(chat_id=new_chat_id)
            )
            new = ChatRef(old.platform, new_chat_id, is_group=True)
            return group_from_row(conn.execute(_by_chat(new)).one())

        return await self.db.transaction(unit)


def _chat_is(chat: ChatRef) -> Any:
    return and_(groups.c.platform == chat.platform.value, groups.c.chat_id == chat.chat_id)


def _by_chat(chat: ChatRef) -> Any:
    return select(groups).where(_chat_is(chat))


def group_people(group_id: int) -> Any:
    """The members a "N people of this group" condition counts: those seen in the group."""
    return select(group_members.c.member_id).where(group_members.c.group_id == group_id)


def reachable_followers(challenge_id: int | None) -> Any:
    """The groups following a challenge that the bot may post to, on the platforms where it
    can speak first: id, platform, chat_id and language."""
    return (
        select(groups.c.id, groups.c.platform, groups.c.chat_id, groups.c.language)
        .join(group_follows, group_follows.c.group_id == groups.c.id)
        .where(
            group_follows.c.challenge_id == challenge_id,
            groups.c.unreachable_at.is_(None),
            groups.c.platform.in_(PUSH_PLATFORMS),
        )
        .order_by(groups.c.id)
    )
