"""Where a challenge stands: the numbers a card, a group or an organiser reads."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.areas import CELL_PREFIX, AreaTotal, locate, near_counts, visible_areas
from core.clock import Clock
from core.db.database import Database
from core.db.tables import area_counts, challenges, pledges
from core.geo import Gazetteer
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
LOCATED_CACHE = 50_000  # area keys whose larger areas are remembered (they never change)

AreaRow = tuple[str, str, int]
"""(area key, label, pledgers): one `area_counts` row."""


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


_AREA_ROWS = select(area_counts.c.area_key, area_counts.c.label, area_counts.c.pledgers).where(
    area_counts.c.challenge_id == bindparam("challenge_id"), area_counts.c.pledgers > 0
)  # built once: a card reads thousands of rows, and building SQL costs more than running it


async def _area_rows(conn: AsyncConnection, challenge_id: int) -> list[AreaRow]:
    result = await conn.execute(_AREA_ROWS, {"challenge_id": challenge_id})
    return [(key, label, pledgers) for key, label, pledgers in result]


@lru_cache(maxsize=LOCATED_CACHE)
def _larger_areas(key: str, label: str) -> frozenset[str] | None:
    """The keys of the larger areas an area counted under `key` lies in; None when it cannot
    be placed. Needs the gazetteer loaded (`load_places`)."""
    located = locate(key, label, Gazetteer.default())
    return None if located is None else frozenset(parent for parent, _ in located.parents)


def _rows_near(key: str, label: str, rows: list[AreaRow], min_count: int) -> list[AreaRow]:
    """The rows `near_counts` needs for a member counted under `key`, summed up front: the
    member's own row as it is; every other row shown on the map (`min_count` or more)
    added to those lying in exactly the same of
    the member's larger areas, under one of their keys. `near_counts` sums rows by the larger
    areas they lie in, so it answers the same from these few rows as from all of them, without
    placing thousands of rows on every card."""
    own = [row for row in rows if row[0] == key]
    mine = _larger_areas(key, label)
    if not mine:
        return own
    summed: dict[frozenset[str], AreaRow] = {}
    for row_key, row_label, pledgers in rows:
        if pledgers < min_count:
            continue
        larger = None if row_key == key else _larger_areas(row_key, row_label)
        shared = mine & larger if larger else None
        if shared:
            first_key, first_label, total = summed.get(shared, (row_key, row_label, 0))
            summed[shared] = (first_key, first_label, total + pledgers)
    return own + list(summed.values())


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

    async def of(self, challenge_id: int, member: Member | None = None) -> Progress:
        """A challenge's progress; with a member who gave a place, the people near them and
        their area against the goal per area."""
        location = None if member is None else member.location
        async with self.db.read() as conn:
            challenge = await conn.run_sync(load_challenge, challenge_id)
            waiting = await conn.run_sync(waiting_of, challenge_id)
            if location is None:
                return replace(progress_of(challenge, self.clock), waiting=waiting)
            rows = await _area_rows(conn, challenge_id)
            area_goal = (
                await conn.execute(
                    select(challenges.c.area_goal).where(challenges.c.id == challenge_id)
                )
            ).scalar_one()
        gazetteer = await load_places()
        key, label = location.area_key, location.name or ""  # a ~1 km cell has no name
        here = sum(pledgers for k, _, pledgers in rows if k == key)
        found = near_counts(
            key, label, _rows_near(key, label, rows, self.min_count), self.min_count, gazetteer
        )
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
            rows = await _area_rows(conn, challenge_id)
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
            rows = await _area_rows(conn, challenge_id)
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
