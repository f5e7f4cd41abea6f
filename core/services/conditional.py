"""Conditional pledges: "count me in once N people (in all, of my commune, of this group,
of my organisation) are in".

A waiting conditional pledge lives in its own table and counts nowhere. Its condition counts
the ACTIVE pledges within its scope: everyone's, the commune's (area_counts), those of the
members seen in one group (group_members), or of one organisation's people. When it first
holds it becomes a real pledge through the pledge unit, is marked active once, and its person
gets a message. Activation repeats in one unit until nothing more is due (a fixpoint), so
conditions that depend on each other cascade; a member is counted once whatever happens,
because pledging is idempotent and the mark is set once. It runs right after every pledge
and every new condition, and in the very unit that records someone joining a group or an
organisation (their pledges may complete a condition of that scope); a sweep repeats it as a
safety net.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from core.clock import Clock
from core.db.database import Database
from core.db.tables import (
    accounts,
    area_counts,
    challenges,
    conditional_pledges,
    deliveries,
    group_members,
    groups,
    members,
    organisations,
    pledges,
)
from core.db.upsert import insert_all_new, insert_for
from core.errors import Conflict, Invalid, NotFound
from core.identity import PUSH_PLATFORMS
from core.models import ConditionScope, Unlock, Waiting
from core.places import stored_location
from core.services.challenges import OPEN_FOR_PLEDGES
from core.services.groups import group_people
from core.services.joins import Joinable
from core.services.organisations import organisation_people, organisations_of_person
from core.services.pledges import PledgeRequest, PledgeService, pledge_many

CONDITIONAL_KIND = "conditional"
"""The delivery kind of the message telling a person their conditional pledge is active."""
MAX_THRESHOLD = 1_000_000
_OPEN = [s.value for s in OPEN_FOR_PLEDGES]


def _conditions(conn: Connection, challenge_id: int) -> list[tuple[Any, int]]:
    """Each waiting condition of the challenge with the count it looks at now."""
    rows = conn.execute(
        select(
            conditional_pledges.c.member_id,
            conditional_pledges.c.scope,
            conditional_pledges.c.scope_key,
            conditional_pledges.c.scope_label,
            conditional_pledges.c.threshold,
            members.c.erased_at,
        )
        .join(members, members.c.id == conditional_pledges.c.member_id)
        .where(
            conditional_pledges.c.challenge_id == challenge_id,
            conditional_pledges.c.activated_at.is_(None),
        )
        .order_by(conditional_pledges.c.member_id)
    ).all()
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row.scope, row.scope_key)
        if key not in counts:
            counts[key] = _count(conn, challenge_id, ConditionScope(row.scope), row.scope_key)
    return [(row, counts[(row.scope, row.scope_key)]) for row in rows]


def _count(conn: Connection, challenge_id: int, scope: ConditionScope, key: str) -> int:
    """The active pledges of the challenge within one scope, each member once."""
    if scope is ConditionScope.CHALLENGE:
        found = conn.execute(
            select(challenges.c.pledge_count).where(challenges.c.id == challenge_id)
        ).scalar()
        return int(found or 0)
    if scope is ConditionScope.AREA:
        found = conn.execute(
            select(area_counts.c.pledgers).where(
                area_counts.c.challenge_id == challenge_id, area_counts.c.area_key == key
            )
        ).scalar()
        return int(found or 0)
    people = (
        group_people(int(key)) if scope is ConditionScope.GROUP else organisation_people(int(key))
    )
    return int(
        conn.execute(
            select(func.count()).where(
                pledges.c.challenge_id == challenge_id,
                pledges.c.withdrawn_at.is_(None),
                pledges.c.member_id.in_(people),
            )
        ).scalar_one()
    )


def due_members(conn: Connection, challenge_id: int) -> list[int]:
    """The members whose waiting condition holds now, in id order (none once the challenge
    is closed, and never an erased person)."""
    due = [
        row.member_id
        for row, count in _conditions(conn, challenge_id)
        if row.erased_at is None and count >= row.threshold
    ]
    if not due:  # after most pledges, the one query that runs
        return []
    status = conn.execute(
        select(challenges.c.status).where(challenges.c.id == challenge_id)
    ).scalar()
    return due if status in _OPEN else []


def activate_due(
    conn: Connection, now: datetime, default_locale: str, challenge_id: int
) -> list[int]:
    """Unit: pledge and mark every conditional pledge whose condition holds, again and again
    until none is due; the members activated, in order. Each round's pledges go through the
    pledge unit (counters, areas, milestones), so a cascade counts everyone once."""
    activated: list[int] = []
    while due := due_members(conn, challenge_id):
        outcomes = pledge_many(conn, [PledgeRequest(m, challenge_id, None, now) for m in due])
        if any(isinstance(outcome, Conflict) for outcome in outcomes):
            return activated  # the challenge closed meanwhile
        marked = [m for m in due if mark_active(conn, now, default_locale, m, challenge_id)]
        if not marked:  # another activation marked them
            return activated
        activated += marked
    return activated


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


def activate_joined(
    conn: Connection,
    now: datetime,
    default_locale: str,
    scope: ConditionScope,
    key: int,
    member_id: int,
) -> list[int]:
    """Unit part: the member just joined the group or organisation `key` (`scope`), so their
    active pledges now count for the conditions of that scope: activate, to the fixpoint, in
    each challenge where such a condition waits (one query when none does); the members
    activated."""
    challenge_ids = conn.execute(
        select(conditional_pledges.c.challenge_id)
        .join(pledges, pledges.c.challenge_id == conditional_pledges.c.challenge_id)
        .where(
            pledges.c.member_id == member_id,
            pledges.c.withdrawn_at.is_(None),
            conditional_pledges.c.activated_at.is_(None),
            conditional_pledges.c.scope == scope.value,
            conditional_pledges.c.scope_key == str(key),
        )
        .distinct()
    ).scalars()
    activated: list[int] = []
    for challenge_id in sorted(challenge_ids):
        activated += activate_due(conn, now, default_locale, challenge_id)
    return activated


class ConditionalPledgeService:
    """Make, cancel and activate conditional pledges; tell how many wait."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        pledges: PledgeService,
        default_locale: str,
        joins: Sequence[Joinable] = (),
    ) -> None:
        self.db = db
        self.clock = clock
        self.pledges = pledges
        self.default_locale = default_locale
        pledges.after_pledge.append(self.activate)
        for service in joins:
            service.on_join.append(self.joined)

    def joined(self, conn: Connection, scope: ConditionScope, key: int, member_id: int) -> None:
        """Unit part, in the unit of a join: activate what the newcomer's pledges complete."""
        activate_joined(conn, self.clock.now(), self.default_locale, scope, key, member_id)

    async def make(
        self,
        member_id: int,
        challenge_id: int,
        scope: ConditionScope,
        threshold: int,
        key: int | None = None,
    ) -> list[int]:
        """Pledge "once `threshold` people of `scope` are in": the area is the member's own;
        `key` is the group (one they were seen in) or the organisation (one of theirs).
        Activates what became due in the same unit: the members activated."""
        if not 0 < threshold <= MAX_THRESHOLD:
            raise Invalid("error.conditional.threshold", max=MAX_THRESHOLD)

        def unit(conn: Connection) -> list[int]:
            _check_open(conn, member_id, challenge_id)
            scope_key, label = _scope_of(conn, member_id, scope, key)
            stmt = insert_for(conn, conditional_pledges).values(
                member_id=member_id,
                challenge_id=challenge_id,
                scope=scope.value,
                scope_key=scope_key,
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
                        "scope_key": scope_key,
                        "scope_label": label,
                        "threshold": threshold,
                        "activated_at": None,
                    },
                )
            )
            return activate_due(conn, self.clock.now(), self.default_locale, challenge_id)

        return await self.db.transaction(unit)

    async def activate(self, challenge_id: int) -> list[int]:
        """Turn every conditional pledge of the challenge whose condition holds into a real
        pledge, to the fixpoint, in one unit (written only when something is due): the
        members activated, in order."""
        async with self.db.read() as conn:
            if not await conn.run_sync(due_members, challenge_id):
                return []
        return await self.db.transaction(
            activate_due, self.clock.now(), self.default_locale, challenge_id
        )

    async def sweep(self) -> list[int]:
        """Activate what is due in every open challenge with waiting conditional pledges:
        the safety net for an activation that failed once its pledge was committed (a join's
        activation is part of the join's unit: it cannot fail apart from it)."""
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


def _check_open(conn: Connection, member_id: int, challenge_id: int) -> None:
    """Refuse a condition for an unknown member or challenge, a closed challenge, or a
    member who already pledged."""
    if conn.execute(select(members.c.id).where(members.c.id == member_id)).first() is None:
        raise NotFound("error.member_not_found")
    status = conn.execute(
        select(challenges.c.status, challenges.c.title).where(challenges.c.id == challenge_id)
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


def _scope_of(
    conn: Connection, member_id: int, scope: ConditionScope, key: int | None
) -> tuple[str, str | None]:
    """The stored key and label of a condition's scope, which must be the member's own."""
    if scope is ConditionScope.CHALLENGE:
        return "", None
    if scope is ConditionScope.AREA:
        member = conn.execute(
            select(
                members.c.area_key,
                members.c.location_name,
                members.c.latitude,
                members.c.longitude,
            ).where(members.c.id == member_id)
        ).one()
        if member.area_key is None:
            raise Invalid("error.conditional.no_place")
        place = stored_location(
            member.location_name, member.latitude, member.longitude, member.area_key
        )
        return member.area_key, place.label if place else member.area_key
    if scope is ConditionScope.GROUP:
        title = conn.execute(
            select(groups.c.title)
            .join(group_members, group_members.c.group_id == groups.c.id)
            .where(groups.c.id == key, group_members.c.member_id == member_id)
        ).scalar()
        if title is None:
            raise Invalid("error.conditional.not_in_group")
        return str(key), title[:120]
    name = conn.execute(
        select(organisations.c.name).where(
            organisations.c.id == key,
            organisations.c.id.in_(organisations_of_person(member_id)),
        )
    ).scalar()
    if name is None:
        raise Invalid("error.conditional.not_in_organisation")
    return str(key), name[:120]


def waiting_of(conn: Connection, challenge_id: int) -> Waiting:
    """How many conditional pledges of the challenge wait, and the nearest to unlock."""
    conditions = _conditions(conn, challenge_id)
    nearest: Unlock | None = None
    for row, count in conditions:
        missing = max(row.threshold - count, 0)
        if nearest is None or missing < nearest.missing:
            label = None if row.scope == ConditionScope.CHALLENGE.value else row.scope_label
            nearest = Unlock(ConditionScope(row.scope), label, row.threshold, missing)
    return Waiting(len(conditions), nearest)
