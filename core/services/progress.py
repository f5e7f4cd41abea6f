"""Where a challenge stands: the numbers a card, a group or an organiser reads."""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.area_counts import CountedAreas
from core.areas import CELL_PREFIX, AreaTotal, visible_areas
from core.clock import Clock
from core.db.database import Database
from core.db.tables import area_counts, challenges, pledges
from core.models import (
    AreaProgress,
    Challenge,
    Frequency,
    Location,
    Member,
    NearCount,
    Progress,
)
from core.places import load_places
from core.services.challenges import load_challenge, open_and_visible
from core.services.conditional import waiting_of

TOP_AREAS = 5
CACHED_CHALLENGES = 64
"""Challenges whose area counts a process keeps (the least recently read go first)."""


@dataclass(frozen=True, slots=True)
class ChallengeStats:
    """An organiser's view of a challenge."""

    progress: Progress
    pledged_last_7_days: int
    referred: int
    withdrawn: int
    top_areas: tuple[AreaTotal, ...]
    """The largest areas as every view shows them: none under the minimum count."""


def progress_of(
    challenge: Challenge,
    clock: Clock,
    near: tuple[NearCount, ...] = (),
    area: AreaProgress | None = None,
) -> Progress:
    """Compute a challenge's progress from its maintained counters."""
    count = challenge.pledge_count
    remaining = challenge.deadline - clock.now()
    days_left = max(0, math.ceil(remaining / timedelta(days=1)))
    next_tier = next((t for t in challenge.tiers if t.threshold > count), None)
    impact = None
    if challenge.impact_per_action is not None:
        actions = count if challenge.frequency == Frequency.ONCE else challenge.checkin_count
        impact = round(challenge.impact_per_action * actions, 1)
    return Progress(
        challenge=challenge,
        count=count,
        percent=count * 100 // challenge.goal,
        next_tier=next_tier,
        days_left=days_left,
        collective_impact=impact,
        near=near,
        area=area,
    )


_CHANGED = (
    select(
        challenges.c.created_at,
        challenges.c.area_goal,
        area_counts.c.area_key,
        area_counts.c.label,
        area_counts.c.pledgers,
        area_counts.c.version,
    )
    .select_from(
        challenges.outerjoin(
            area_counts,
            (area_counts.c.challenge_id == challenges.c.id)
            & (area_counts.c.version > bindparam("seen")),
        )
    )
    .where(challenges.c.id == bindparam("challenge_id"))
)  # built once: building SQL costs more than running it
"""The challenge's goal per area and its area rows changed since version `seen`: none on most
cards, every row (thousands) the first time."""


def _own_area(
    location: Location, count: int, goal: int | None, min_count: int
) -> AreaProgress | None:
    """The member's own place (`count` pledgers) against the goal per area: places only,
    not ~1 km cells, and only once the place counts at least the minimum."""
    if goal is None or location.name is None or location.area_key.startswith(CELL_PREFIX):
        return None
    return AreaProgress(location.name, count, goal) if count >= min_count else None


class ProgressService:
    """Progress of challenges, people near a member, areas on the map, organiser statistics.

    Every count by place goes through `core.areas`: no area under `min_count` pledgers is
    shown, nor merged into a larger area.
    """

    def __init__(self, db: Database, clock: Clock, min_count: int) -> None:
        self.db = db
        self.clock = clock
        self.min_count = min_count
        self._counted: OrderedDict[int, tuple[datetime, CountedAreas]] = OrderedDict()
        """Area counts of the challenges read lately, by id, with the challenge's creation
        (SQLite may give a deleted challenge's id to a new one)."""
        self._first_reads: dict[int, asyncio.Lock] = {}

    async def _areas_of(
        self, conn: AsyncConnection, challenge_id: int
    ) -> tuple[CountedAreas, int | None]:
        """The challenge's area counts brought up to date with the rows changed since this
        process last read them (one statement), and its goal per area. The first read of a
        challenge reads all of its rows, and cards asking at once wait for it rather than each
        read them all (after a restart under load)."""
        if challenge_id in self._counted:
            return await self._read_changed(conn, challenge_id)
        async with self._first_reads.setdefault(challenge_id, asyncio.Lock()):
            found = await self._read_changed(conn, challenge_id)
        self._first_reads.pop(challenge_id, None)
        return found

    async def _read_changed(
        self, conn: AsyncConnection, challenge_id: int
    ) -> tuple[CountedAreas, int | None]:
        cached = self._counted.get(challenge_id)
        seen = -1 if cached is None else cached[1].seen
        rows = (await conn.execute(_CHANGED, {"challenge_id": challenge_id, "seen": seen})).all()
        if not rows:  # no such challenge
            return CountedAreas(self.min_count), None
        born = rows[0].created_at
        if cached is None or cached[0] != born:
            if cached is not None:  # another challenge now: read all of its rows
                del self._counted[challenge_id]
                return await self._read_changed(conn, challenge_id)
            cached = (born, CountedAreas(self.min_count))
        counted = cached[1]
        for row in rows:
            if row.area_key is not None:
                counted.apply(row.area_key, row.label, row.pledgers, row.version)
        self._counted[challenge_id] = cached
        self._counted.move_to_end(challenge_id)
        while len(self._counted) > CACHED_CHALLENGES:
            self._counted.popitem(last=False)
        return counted, rows[0].area_goal

    async def of(self, challenge_id: int, member: Member | None = None) -> Progress:
        """A challenge's progress; with a member who gave a place, the people near them and
        their area against the goal per area."""
        location = None if member is None else member.location
        async with self.db.read() as conn:
            challenge = await conn.run_sync(load_challenge, challenge_id)
            waiting = await conn.run_sync(waiting_of, challenge_id)
            if location is None:
                return replace(progress_of(challenge, self.clock), waiting=waiting)
            counted, area_goal = await self._areas_of(conn, challenge_id)
        gazetteer = await load_places()
        key, label = location.area_key, location.name or ""  # a ~1 km cell has no name
        here = counted.pledgers(key)
        found = counted.near(key, label, gazetteer)
        near = tuple(
            NearCount(name, count, own=index == 0 and here >= self.min_count)
            for index, (name, count) in enumerate(found)
        )
        area = _own_area(location, here, area_goal, self.min_count)
        return replace(progress_of(challenge, self.clock, near, area), waiting=waiting)

    async def areas(self, challenge_id: int) -> list[AreaTotal]:
        """Where the pledgers are, largest first, as the map shows it: places with at least
        the minimum count; smaller ones are left out."""
        async with self.db.read() as conn:
            rows = (await self._areas_of(conn, challenge_id))[0].rows()
        if not rows:
            return []
        gazetteer = await load_places()
        # thousands of rows take tens of ms: off the event loop
        return await asyncio.to_thread(visible_areas, rows, self.min_count, gazetteer)

    async def areas_since(self, challenge_id: int, since: datetime) -> list[AreaTotal]:
        """Where the pledges made since `since` (still standing) come from, largest first,
        under the same minimum count as every other count by place."""
        async with self.db.read() as conn:
            result = await conn.execute(
                select(pledges.c.area_key, func.min(area_counts.c.label), func.count())
                .join(
                    area_counts,
                    (area_counts.c.challenge_id == pledges.c.challenge_id)
                    & (area_counts.c.area_key == pledges.c.area_key),
                )
                .where(
                    pledges.c.challenge_id == challenge_id,
                    pledges.c.created_at > since,
                    pledges.c.withdrawn_at.is_(None),
                )
                .group_by(pledges.c.area_key)
            )
            rows = [(key, label, count) for key, label, count in result]
        if not rows:
            return []
        gazetteer = await load_places()
        return await asyncio.to_thread(visible_areas, rows, self.min_count, gazetteer)

    async def stats(self, challenge_id: int) -> ChallengeStats:
        """Numbers for the organiser: recent pledges, referrals, withdrawals, top areas."""
        since = self.clock.now() - timedelta(days=7)
        async with self.db.read() as conn:
            challenge = await conn.run_sync(load_challenge, challenge_id)
            of_challenge = pledges.c.challenge_id == challenge_id
            recent, referred, withdrawn = (
                await conn.execute(
                    select(
                        func.count().filter(
                            pledges.c.created_at >= since, pledges.c.withdrawn_at.is_(None)
                        ),
                        func.count().filter(
                            pledges.c.referrer_id.is_not(None), pledges.c.withdrawn_at.is_(None)
                        ),
                        func.count().filter(pledges.c.withdrawn_at.is_not(None)),
                    ).where(of_challenge)
                )
            ).one()
            rows = (await self._areas_of(conn, challenge_id))[0].rows()
        top: list[AreaTotal] = []
        if rows:
            gazetteer = await load_places()
            top = await asyncio.to_thread(visible_areas, rows, self.min_count, gazetteer)
        return ChallengeStats(
            progress_of(challenge, self.clock),
            int(recent),
            int(referred),
            int(withdrawn),
            tuple(top[:TOP_AREAS]),
        )

    async def totals(self) -> tuple[int, int]:
        """(open public challenges, pledges across them) for the help and welcome texts:
        private challenges' counts are not public."""
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(func.count(), func.coalesce(func.sum(challenges.c.pledge_count), 0))
                    .select_from(challenges)
                    .where(open_and_visible())
                )
            ).one()
        return int(row[0]), int(row[1])
