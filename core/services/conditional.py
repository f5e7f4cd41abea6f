"""Conditional pledges: "count me in once N people of my commune (or in all) are in".

A waiting conditional pledge lives in its own table and counts nowhere. When its condition
first holds it becomes a real pledge through the pledge service, is marked active once, and
its person gets a message. Activation repeats until nothing more is due (a fixpoint), so
conditions that depend on each other cascade; a member is counted once whatever happens,
because pledging is idempotent and the mark is set once. A crash between the pledge and the
mark is repaired by the next round: the condition still holds, the pledge changes nothing,
the mark and the message come then.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Connection

from core.clock import Clock
from core.db.database import Database
from core.db.tables import (
    accounts,
    area_counts,
    challenges,
    conditional_pledges,
    deliveries,
    members,
    pledges,
)
from core.db.upsert import insert_all_new, insert_for
from core.errors import Conflict, Invalid, NotFound
from core.identity import PUSH_PLATFORMS
from core.models import ConditionScope, Unlock, Waiting
from core.places import stored_location
from core.services.challenges import OPEN_FOR_PLEDGES
from core.services.pledges import PledgeService

CONDITIONAL_KIND = "conditional"
"""The delivery kind of the message telling a person their conditional pledge is active."""
MAX_THRESHOLD = 1_000_000
_OPEN = [s.value for s in OPEN_FOR_PLEDGES]


def _current(challenge_id: Any) -> Any:
    """The count each waiting condition of a challenge looks at, by row."""
    area = area_counts.alias("area")
    return (
        select(
            conditional_pledges.c.member_id,
            conditional_pledges.c.scope,
            conditional_pledges.c.scope_key,
            conditional_pledges.c.threshold,
            conditional_pledges.c.scope_label,
            area.c.pledgers.label("area_pledgers"),
            challenges.c.pledge_count,
        )
        .join(challenges, challenges.c.id == conditional_pledges.c.challenge_id)
        .outerjoin(
            area,
            and_(
                conditional_pledges.c.scope == ConditionScope.AREA.value,
                area.c.challenge_id == conditional_pledges.c.challenge_id,
                area.c.area_key == conditional_pledges.c.scope_key,
            ),
        )
        .where(
            conditional_pledges.c.challenge_id == challenge_id,
            conditional_pledges.c.activated_at.is_(None),
        )
    )


def _count_of(row: Any) -> int:
    if row.scope == ConditionScope.AREA.value:
        return int(row.area_pledgers or 0)
    return int(row.pledge_count)


def due_members(conn: Connection, challenge_id: int) -> list[int]:
    """The members whose waiting condition holds now, in id order."""
    area = area_counts.alias("area")
    rows = conn.execute(
        select(conditional_pledges.c.member_id)
        .join(challenges, challenges.c.id == conditional_pledges.c.challenge_id)
        .join(members, members.c.id == conditional_pledges.c.member_id)
        .outerjoin(
            area,
            and_(
                area.c.challenge_id == conditional_pledges.c.challenge_id,
                area.c.area_key == conditional_pledges.c.scope_key,
            ),
        )
        .where(
            conditional_pledges.c.challenge_id == challenge_id,
            conditional_pledges.c.activated_at.is_(None),
            challenges.c.status.in_(_OPEN),
            members.c.erased_at.is_(None),  # an erased person pledges nothing any more
            or_(
                and_(
                    conditional_pledges.c.scope == ConditionScope.CHALLENGE.value,
                    challenges.c.pledge_count >= conditional_pledges.c.threshold,
                ),
                and_(
                    conditional_pledges.c.scope == ConditionScope.AREA.value,
                    func.coalesce(area.c.pledgers, 0) >= conditional_pledges.c.threshold,
                ),
            ),
        )
        .order_by(conditional_pledges.c.member_id)
    )
    return [r.member_id for r in rows]


def mark_active(
    conn: Connection, now: datetime, default_locale: str, member_id: int, challenge_id: int
) -> bool:
    """Unit: mark a conditional pledge active, once, now that its real pledge exists, with the
    message to its person; False when it was marked already (or the pledge is gone)."""
    marked = conn.execute(
        update(conditional_pledges)
        .where(
            conditional_pledges.c.member_id == member_id,
            conditional_pledges.c.challenge_id == challenge_id,
            conditional_pledges.c.activated_at.is_(None),
            select(pledges.c.member_id)
            .where(
                pledges.c.member_id == member_id,
                pledges.c.challenge_id == challenge_id,
                pledges.c.withdrawn_at.is_(None),
            )
            .exists(),
        )
        .values(activated_at=now)
    ).rowcount
    if not marked:
        return False
    target = conn.execute(
        select(accounts.c.platform, accounts.c.external_id, members.c.language)
        .join(members, members.c.id == accounts.c.member_id)
        .where(
            accounts.c.member_id == member_id,
            accounts.c.unreachable_at.is_(None),
            accounts.c.platform.in_(PUSH_PLATFORMS),
            members.c.erased_at.is_(None),
            members.c.stopped_at.is_(None),
        )
        .order_by(accounts.c.id)
        .limit(1)
    ).first()
    if target is not None:
        insert_all_new(
            conn,
            deliveries,
            [
                {
                    "platform": target.platform,
                    "chat_id": target.external_id,
                    "is_group": False,
                    "member_id": member_id,
                    "locale": target.language or default_locale,
                    "kind": CONDITIONAL_KIND,
                    "challenge_id": challenge_id,
                    "payload": {},
                    "dedupe_key": f"conditional:{member_id}:{challenge_id}",
                    "priority": 0,
                    "status": "pending",
                    "attempts": 0,
                    "not_before": now,
                    "created_at": now,
                }
            ],
        )
    return True


class ConditionalPledgeService:
    """Make, cancel and activate conditional pledges; tell how many wait."""

    def __init__(
        self, db: Database, clock: Clock, pledges: PledgeService, default_locale: str
    ) -> None:
        self.db = db
        self.clock = clock
        self.pledges = pledges
        self.default_locale = default_locale

    async def make(
        self, member_id: int, challenge_id: int, scope: ConditionScope, threshold: int
    ) -> list[int]:
        """Pledge "once `threshold` people of `scope` are in" (the area: the member's own);
        activates what became due at once. The members activated by this call."""
        if not 0 < threshold <= MAX_THRESHOLD:
            raise Invalid("error.conditional.threshold", max=MAX_THRESHOLD)

        def unit(conn: Connection) -> None:
            member = conn.execute(
                select(
                    members.c.area_key,
                    members.c.location_name,
                    members.c.latitude,
                    members.c.longitude,
                ).where(members.c.id == member_id)
            ).first()
            if member is None:
                raise NotFound("error.member_not_found")
            status = conn.execute(
                select(challenges.c.status, challenges.c.title).where(
                    challenges.c.id == challenge_id
                )
            ).first()
            if status is None:
                raise NotFound("error.challenge_not_found", slug=str(challenge_id))
            if status.status not in _OPEN:
                raise Conflict("error.challenge_not_open", title=status.title)
            active = conn.execute(
                select(pledges.c.member_id).where(
                    pledges.c.member_id == member_id,
                    pledges.c.challenge_id == challenge_id,
                    pledges.c.withdrawn_at.is_(None),
                )
            ).first()
            if active is not None:
                raise Conflict("error.conditional.pledged")
            if scope is ConditionScope.AREA and member.area_key is None:
                raise Invalid("error.conditional.no_place")
            key, label = "", None
            if scope is ConditionScope.AREA:
                place = stored_location(
                    member.location_name, member.latitude, member.longitude, member.area_key
                )
                key, label = member.area_key, place.label if place else member.area_key
            stmt = insert_for(conn, conditional_pledges).values(
                member_id=member_id,
                challenge_id=challenge_id,
                scope=scope.value,
                scope_key=key,
                scope_label=label,
                threshold=threshold,
                created_at=self.clock.now(),
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[
                        conditional_pledges.c.member_id,
                        conditional_pledges.c.challenge_id,
                    ],
                    set_={
                        "scope": scope.value,
                        "scope_key": key,
                        "scope_label": label,
                        "threshold": threshold,
                        "activated_at": None,
                    },
                )
            )

        await self.db.transaction(unit)
        return await self.activate(challenge_id)

    async def activate(self, challenge_id: int) -> list[int]:
        """Turn every conditional pledge of the challenge whose condition holds into a real
        pledge, again and again until none is due: the members activated, in order."""
        activated: list[int] = []
        while True:
            async with self.db.read() as conn:
                due = await conn.run_sync(due_members, challenge_id)
            if not due:
                return activated
            progressed = False
            for member_id in due:
                try:
                    await self.pledges.pledge(member_id, challenge_id)
                except Conflict:  # the challenge closed meanwhile
                    return activated
                if await self.db.transaction(
                    mark_active, self.clock.now(), self.default_locale, member_id, challenge_id
                ):
                    activated.append(member_id)
                    progressed = True
            if not progressed:  # another activation marked them: it goes on with the rest
                return activated

    async def sweep(self) -> list[int]:
        """Activate what is due in every open challenge with waiting conditional pledges
        (after pledges, and after a crash between a pledge and its mark)."""
        async with self.db.read() as conn:
            ids = (
                await conn.execute(
                    select(conditional_pledges.c.challenge_id)
                    .where(conditional_pledges.c.activated_at.is_(None))
                    .distinct()
                )
            ).scalars()
            pending = sorted(ids)
        activated: list[int] = []
        for challenge_id in pending:
            activated += await self.activate(challenge_id)
        return activated

    async def waiting(self, challenge_id: int) -> Waiting:
        """How many conditional pledges wait, and the one the fewest new pledges unlock."""
        async with self.db.read() as conn:
            return await conn.run_sync(waiting_of, challenge_id)


def waiting_of(conn: Connection, challenge_id: int) -> Waiting:
    """How many conditional pledges of the challenge wait, and the nearest to unlock."""
    rows = conn.execute(_current(challenge_id)).all()
    nearest: Unlock | None = None
    for row in rows:
        missing = max(row.threshold - _count_of(row), 0)
        if nearest is None or missing < nearest.missing:
            label = row.scope_label if row.scope == ConditionScope.AREA.value else None
            nearest = Unlock(ConditionScope(row.scope), label, row.threshold, missing)
    return Waiting(len(rows), nearest)
