"""Pledges: joining and leaving a challenge, the counters, and the milestones they cross."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    cast,
    column,
    exists,
    func,
    literal_column,
    null,
    select,
    tuple_,
    update,
    values,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect

from core.clock import Clock
from core.coalesce import Coalesced
from core.db.database import Database
from core.db.driver import DriverStatement
from core.db.tables import (
    area_counts,
    challenges,
    conditional_pledges,
    members,
    milestones,
    pledges,
    tiers,
)
from core.db.types import UTCDateTime
from core.db.upsert import insert_for
from core.db.writer import SetBased
from core.errors import Conflict, NotFound
from core.events import CROSSED_BY, emit, record_event
from core.milestones import next_threshold, percent_thresholds
from core.models import (
    Challenge,
    ChallengeStatus,
    EventKind,
    OutboxEvent,
    Pledge,
    PledgeResult,
)
from core.places import stored_location
from core.services.challenges import OPEN_FOR_PLEDGES, load_challenges


def pledge_from_row(row: Any) -> Pledge:
    """Build a Pledge from a `pledges` row."""
    return Pledge(
        member_id=row.member_id,
        challenge_id=row.challenge_id,
        created_at=row.created_at,
        withdrawn_at=row.withdrawn_at,
        referrer_id=row.referrer_id,
        area_key=row.area_key,
        streak=row.streak,
        best_streak=row.best_streak,
        last_checkin_on=row.last_checkin_on,
        checkin_total=row.checkin_total,
    )


_NEXT_AREA_VERSION = challenges.c.area_version + literal_column("1")  # no parameter
"""Every write of a challenge's area counts first bumps its `area_version` (taking the row
lock until COMMIT) and stamps the rows it changes with it: see `area_counts.version`."""


def release_pledge_counts(conn: Connection, challenge_id: int, area_key: str | None) -> None:
    """Give back one pledge from the challenge's counters (withdrawal, merge)."""
    version = conn.execute(
        update(challenges)
        .where(challenges.c.id == challenge_id)
        .values(pledge_count=challenges.c.pledge_count - 1, area_version=_NEXT_AREA_VERSION)
        .returning(challenges.c.area_version)
    ).scalar_one()
    if area_key is not None:
        conn.execute(
            update(area_counts)
            .where(area_counts.c.challenge_id == challenge_id, area_counts.c.area_key == area_key)
            .values(pledgers=area_counts.c.pledgers - 1, version=version)
        )


def next_area_version(conn: Connection, challenge_id: int) -> int:
    """Number a write of the challenge's area counts that changes no other counter."""
    return int(
        conn.execute(
            update(challenges)
            .where(challenges.c.id == challenge_id)
            .values(area_version=_NEXT_AREA_VERSION)
            .returning(challenges.c.area_version)
        ).scalar_one()
    )


@dataclass(frozen=True, slots=True)
class PledgeRequest:
    """One member's pledge to one challenge, as asked at `now`."""

    member_id: int
    challenge_id: int
    referrer_id: int | None
    now: datetime


_ASKED_CHALLENGES = (
    challenges.c.id,
    challenges.c.title,
    challenges.c.status,
    challenges.c.deadline,
    challenges.c.pledge_count,
    challenges.c.next_threshold,
    challenges.c.area_goal,
)


def _challenges_select(size: int) -> Any:
    """The batch's `size` challenges (i0, i1, ...), with whether conditional pledges wait on
    each, locked on PostgreSQL: the counts read stay exact until COMMIT, whoever else writes."""
    awaited = (
        exists()
        .where(
            conditional_pledges.c.challenge_id == challenges.c.id,
            conditional_pledges.c.activated_at.is_(None),
        )
        .label("awaited")
    )
    ids = [bindparam(f"i{k}", type_=Integer) for k in range(size)]
    return (
        select(*_ASKED_CHALLENGES, awaited)
        .where(challenges.c.id.in_(ids))
        .order_by(challenges.c.id)
        .with_for_update(of=challenges)
    )


@lru_cache(maxsize=64)
def _challenges_read(dialect: Dialect, size: int) -> DriverStatement:
    """The batch's challenges, read and locked."""
    stmt = _challenges_select(size)
    return DriverStatement(stmt, dialect, stmt.selected_columns)


class _Asked(NamedTuple):
    """A challenge of the batch, as read at its start."""

    id: int
    title: str
    status: str
    deadline: datetime
    pledge_count: int
    next_threshold: int | None
    area_goal: int | None
    awaited: bool


@lru_cache(maxsize=8)
def _add_count(dialect: Dialect) -> DriverStatement:
    stmt = (
        update(challenges)
        .where(challenges.c.id == bindparam("challenge_id", type_=Integer))
        .values(
            pledge_count=challenges.c.pledge_count + bindparam("added", type_=Integer),
            area_version=_NEXT_AREA_VERSION,
        )
        .returning(challenges.c.pledge_count, challenges.c.area_version)
    )
    return DriverStatement(stmt, dialect, (challenges.c.pledge_count, challenges.c.area_version))


_OPEN = {s.value for s in OPEN_FOR_PLEDGES}
_OPEN_PARAMS = {f"o{k}": status for k, status in enumerate(sorted(_OPEN))}
"""The open statuses, as parameters of the statement that checks them."""
log = logging.getLogger(__name__)


def pledge_many(
    conn: Connection, requests: Sequence[PledgeRequest]
) -> list[PledgeResult | Exception]:
    """The pledges of one batch as a set: one INSERT ... SELECT for all of them, one counter
    UPDATE per challenge, one upsert for every area (on PostgreSQL the challenges' lock, the
    INSERT and the counters are one statement). Each pledge gets the exact count it brought,
    and the milestones and area goals it crossed are its own events.

    Exactly-once rests on the database: an active pledge is not inserted again, and the
    milestone rows and outbox dedupe keys are unique.
    """
    write = _write_at_once if conn.dialect.name == "postgresql" else _write_in_steps
    found, created, totals, versions, places = write(conn, requests)
    outcomes: list[PledgeResult | Exception | None] = [
        _refusal(found.get(request.challenge_id), request) for request in requests
    ]
    added: dict[int, list[int]] = {}  # challenge -> the requests that added a pledge, in order
    for key, index in _firsts(requests, outcomes).items():
        if key in created:
            added.setdefault(key[1], []).append(index)
    count_of: dict[int, int] = {}
    for challenge_id, indexes in added.items():
        total = totals[challenge_id]
        for offset, index in enumerate(indexes):
            count_of[index] = total - len(indexes) + offset + 1
    events: dict[int, list[OutboxEvent]] = {index: [] for index in count_of}
    _count_areas(conn, requests, created, found, versions, events, places)
    for challenge_id, indexes in added.items():
        next_at = found[challenge_id].next_threshold
        for index in indexes:
            if next_at is not None and count_of[index] >= next_at:
                crossed, next_at = cross_thresholds(
                    conn,
                    requests[index].now,
                    challenge_id,
                    count_of[index],
                    by=requests[index].member_id,
                )
                events[index] += crossed
    for index, count in count_of.items():
        pledge = created[(requests[index].member_id, requests[index].challenge_id)]
        awaited = bool(found[requests[index].challenge_id].awaited)
        outcomes[index] = PledgeResult(pledge, True, count, tuple(events[index]), awaited)
    waiting = [i for i, outcome in enumerate(outcomes) if outcome is None]
    if waiting:
        keys = {(requests[i].member_id, requests[i].challenge_id) for i in waiting}
        existing = {
            (row.member_id, row.challenge_id): row
            for row in conn.execute(_EXISTING, {"keys": sorted(keys)})
        }
        for index in waiting:
            request = requests[index]
            row = existing.get((request.member_id, request.challenge_id))
            outcomes[index] = (
                NotFound("error.member_not_found")
                if row is None
                else PledgeResult(pledge_from_row(row), False, totals[request.challenge_id])
            )
    return [outcome for outcome in outcomes if outcome is not None]


PLEDGE: SetBased[PledgeRequest, PledgeResult] = SetBased(pledge_many)
"""The pledge unit: the pledges of one batch are written together."""

Place = tuple[str | None, float | None, float | None, str | None]
"""A member's place as stored: name, latitude, longitude, area key."""
Written = tuple[
    dict[int, "_Asked"],
    dict[tuple[int, int], Pledge],
    dict[int, int],
    dict[int, int],
    dict[int, Place] | None,
]
"""A batch's challenges as read at its start, the pledges it wrote by (member, challenge),
each challenge's count after it, the area version of the batch of each challenge whose
count it raised, and the places of those pledgers if they were read with them (None: to be
read when needed)."""


def _refusal(challenge: _Asked | None, request: PledgeRequest) -> Exception | None:
    """Why the request cannot be a pledge, if it cannot."""
    if challenge is None:
        return NotFound("error.challenge_not_found", slug=str(request.challenge_id))
    if challenge.status not in _OPEN or challenge.deadline <= request.now:
        return Conflict("error.challenge_not_open", title=challenge.title)
    return None


def _firsts(
    requests: Sequence[PledgeRequest], refused: Sequence[object | None]
) -> dict[tuple[int, int], int]:
    """The first request not refused of each (member, challenge), in request order."""
    first: dict[tuple[int, int], int] = {}
    for index, request in enumerate(requests):
        if refused[index] is None:
            first.setdefault((request.member_id, request.challenge_id), index)
    return first


def _write_in_steps(conn: Connection, requests: Sequence[PledgeRequest]) -> Written:
    """The challenges read, the pledges inserted, then each challenge's counter."""
    ids = sorted({r.challenge_id for r in requests})
    read = _challenges_read(conn.dialect, len(ids))
    found = {
        row[0]: _Asked(*row) for row in read.run(conn, {f"i{k}": i for k, i in enumerate(ids)})
    }
    refused = [_refusal(found.get(r.challenge_id), r) for r in requests]
    created = _insert_pledges(conn, [requests[i] for i in _firsts(requests, refused).values()])
    added: dict[int, int] = {}
    for _member_id, challenge_id in created:
        added[challenge_id] = added.get(challenge_id, 0) + 1
    totals = {challenge_id: row.pledge_count for challenge_id, row in found.items()}
    versions: dict[int, int] = {}
    for challenge_id in sorted(added):
        ((totals[challenge_id], versions[challenge_id]),) = _add_count(conn.dialect).run(
            conn, {"challenge_id": challenge_id, "added": added[challenge_id]}
        )
    return found, created, totals, versions, None


def _insert_pledges(
    conn: Connection, batch: Sequence[PledgeRequest]
) -> dict[tuple[int, int], Pledge]:
    """INSERT the pledges, or reactivate withdrawn ones, copying each member's area; active
    pledges and unknown members are left out. The pledges written, by (member, challenge)."""
    if not batch:
        return {}
    values: list[object] = []  # m0, c0, t0, r0, m1, ...: the statement's order
    # In key order: concurrent batches (PostgreSQL) lock rows in the same order.
    for r in sorted(batch, key=lambda r: (r.member_id, r.challenge_id)):
        referrer = None if r.referrer_id == r.member_id else r.referrer_id
        values += (r.member_id, r.challenge_id, r.now, referrer)
    rows = _pledges_upsert(conn.dialect, len(batch)).run(conn, values)
    return {(row[0], row[1]): Pledge(*row) for row in rows}


_PLEDGE_COLUMNS = tuple(pledges.c[name] for name in Pledge.__slots__)
"""The columns of a Pledge, in the order of its fields."""


@lru_cache(maxsize=256)
def _pledges_upsert(dialect: Dialect, size: int) -> DriverStatement:
    """The INSERT ... SELECT of `size` pledges, built once per size: building SQL constructs
    costs more than running them."""
    upsert = _pledges_insert(dialect.name, size)
    statement = DriverStatement(upsert, dialect, _PLEDGE_COLUMNS)
    if statement.names != tuple(f"{k}{i}" for i in range(size) for k in "mctr"):
        raise AssertionError("the pledges' values are passed as m0, c0, t0, r0, m1, ...")
    return statement


@lru_cache(maxsize=256)
def _pledges_at_once(dialect: Dialect, size: int, challenge_count: int) -> DriverStatement:
    """One PostgreSQL statement for a batch: its challenges locked (in id order, before any
    of their pledges is written), the pledges to the open ones inserted, the counters
    raised. A row per challenge and pledge written: the challenge as read, its count after,
    the pledge and its pledger's place (NULL when it has none)."""
    locked = _challenges_select(challenge_count).cte("locked")
    written = _pledges_insert(dialect.name, size, locked).cte("written")
    added = (
        select(written.c.challenge_id, func.count().label("added"))
        .group_by(written.c.challenge_id)
        .cte("added")
    )
    counted = (
        update(challenges)
        .where(challenges.c.id == added.c.challenge_id)
        .values(
            pledge_count=challenges.c.pledge_count + added.c.added,
            area_version=_NEXT_AREA_VERSION,
        )
        .returning(challenges.c.id, challenges.c.pledge_count, challenges.c.area_version)
        .cte("counted")
    )
    pledgers = members.alias("pledgers")
    place = (pledgers.c.location_name, pledgers.c.latitude, pledgers.c.longitude)
    columns = (
        *locked.c,
        counted.c.pledge_count,
        counted.c.area_version,
        *written.c,
        *place,
        pledgers.c.area_key,
    )
    stmt = select(*columns).select_from(
        locked.outerjoin(counted, counted.c.id == locked.c.id)
        .outerjoin(written, written.c.challenge_id == locked.c.id)
        .outerjoin(pledgers, pledgers.c.id == written.c.member_id)
    )
    return DriverStatement(stmt, dialect, columns)


def _write_at_once(conn: Connection, requests: Sequence[PledgeRequest]) -> Written:
    """The batch in one statement (PostgreSQL: one round trip instead of three)."""
    ids = sorted({r.challenge_id for r in requests})
    firsts: dict[tuple[int, int], PledgeRequest] = {}
    for request in requests:
        firsts.setdefault((request.member_id, request.challenge_id), request)
    params: dict[str, object] = {f"i{k}": challenge_id for k, challenge_id in enumerate(ids)}
    params.update(_OPEN_PARAMS)
    # In key order: concurrent batches lock rows in the same order.
    for i, key in enumerate(sorted(firsts)):
        r = firsts[key]
        params[f"m{i}"], params[f"c{i}"], params[f"t{i}"] = r.member_id, r.challenge_id, r.now
        params[f"r{i}"] = None if r.referrer_id == r.member_id else r.referrer_id
    statement = _pledges_at_once(conn.dialect, len(firsts), len(ids))
    found: dict[int, _Asked] = {}
    created: dict[tuple[int, int], Pledge] = {}
    totals: dict[int, int] = {}
    versions: dict[int, int] = {}
    places: dict[int, Place] = {}
    width = len(_Asked._fields)
    pledge_end = width + 2 + len(_PLEDGE_COLUMNS)
    for row in statement.run(conn, params):
        challenge = found.setdefault(row[0], _Asked(*row[:width]))
        totals[challenge.id] = challenge.pledge_count if row[width] is None else row[width]
        if row[width + 1] is not None:
            versions[challenge.id] = row[width + 1]
        if row[width + 2] is not None:
            created[(row[width + 2], row[width + 3])] = Pledge(*row[width + 2 : pledge_end])
            places[row[width + 2]] = row[pledge_end:]
    return found, created, totals, versions, places


def _pledges_insert(dialect: str, size: int, locked: Any = None) -> Any:
    """The INSERT ... SELECT of `size` pledges (m0, c0, t0, r0, m1, ...) returning them;
    with `locked`, the challenges read, only of those open at each pledge's moment."""

    def typed(value: Any) -> Any:
        # PostgreSQL types a VALUES list from its rows, not from where it goes.
        return cast(value, value.type) if dialect == "postgresql" else value

    asked = (
        values(
            column("member_id", Integer),
            column("challenge_id", Integer),
            column("created_at", UTCDateTime),
            column("referrer_id", Integer),
            name="asked",
        )
        .data(
            [
                (
                    typed(bindparam(f"m{i}", type_=Integer)),
                    typed(bindparam(f"c{i}", type_=Integer)),
                    typed(bindparam(f"t{i}", type_=UTCDateTime)),
                    typed(bindparam(f"r{i}", type_=Integer)),
                )
                for i in range(size)
            ]
        )
        .cte("asked")  # a CTE: SQLite names no columns of a VALUES in FROM
    )
    referrers = members.alias("referrers")
    joined = asked.join(members, members.c.id == asked.c.member_id)
    if locked is not None:
        joined = joined.join(
            locked,
            and_(
                locked.c.id == asked.c.challenge_id,
                locked.c.status.in_([bindparam(name, type_=String) for name in _OPEN_PARAMS]),
                locked.c.deadline > asked.c.created_at,
            ),
        )
    source = (
        select(
            asked.c.member_id,
            asked.c.challenge_id,
            asked.c.created_at,
            # An unknown referrer (a forged or stale link) is simply not credited.
            referrers.c.id,
            members.c.area_key,
        )
        .select_from(joined.outerjoin(referrers, referrers.c.id == asked.c.referrer_id))
        # SQLite would read ON CONFLICT as part of the join's ON without a WHERE between.
        .where(members.c.id.is_not(None))
    )
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(pledges).from_select(
        ["member_id", "challenge_id", "created_at", "referrer_id", "area_key"], source
    )
    return stmt.on_conflict_do_update(
        index_elements=[pledges.c.member_id, pledges.c.challenge_id],
        set_={"withdrawn_at": null(), "area_key": stmt.excluded.area_key},
        where=pledges.c.withdrawn_at.is_not(None),
    ).returning(*_PLEDGE_COLUMNS)


def _count_areas(
    conn: Connection,
    requests: Sequence[PledgeRequest],
    created: dict[tuple[int, int], Pledge],
    found: dict[int, _Asked],
    versions: dict[int, int],
    events: dict[int, list[OutboxEvent]],
    places: dict[int, Place] | None,
) -> None:
    """Count the new pledges in their areas with one upsert; an area reaching its goal is
    the event of the pledge that reached it. `places`: the pledgers' places if already
    read."""
    located: dict[tuple[int, str], list[int]] = {}
    for index in events:
        request = requests[index]
        area_key = created[(request.member_id, request.challenge_id)].area_key
        if area_key is not None:
            located.setdefault((request.challenge_id, area_key), []).append(index)
    if not located:
        return
    # An area is labelled by the place of its last pledger: read only those places.
    last = {requests[indexes[-1]].member_id for indexes in located.values()}
    labels = (
        _labels(conn, last)
        if places is None
        else {member_id: _label(places[member_id]) for member_id in last}
    )
    values: list[object] = []  # c0, a0, l0, n0, v0, c1, ...: the statement's order
    # One row per area (no row hit twice by one ON CONFLICT), in key order.
    for (challenge_id, area_key), indexes in sorted(located.items()):
        label = labels.get(requests[indexes[-1]].member_id) or area_key
        values += (challenge_id, area_key, label, len(indexes), versions[challenge_id])
    for challenge_id, area_key, label, pledgers in _areas_upsert(conn.dialect, len(located)).run(
        conn, values
    ):
        indexes = located[(challenge_id, area_key)]
        goal = found[challenge_id].area_goal
        before = pledgers - len(indexes)
        if goal is None or not before < goal <= pledgers:
            continue
        index = indexes[goal - before - 1]
        reached = record_event(
            conn,
            requests[index].now,
            EventKind.AREA_GOAL,
            challenge_id,
            f"area_goal:{challenge_id}:{area_key}",
            area=label,
            count=goal,
            goal=goal,
        )
        if reached is not None:
            events[index].append(reached)


@lru_cache(maxsize=256)
def _areas_upsert(dialect: Dialect, size: int) -> DriverStatement:
    """The upsert of `size` area counts, built once per size."""
    insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    stmt = insert(area_counts).values(
        [
            {
                "challenge_id": bindparam(f"c{i}", type_=Integer),
                "area_key": bindparam(f"a{i}", type_=String),
                "label": bindparam(f"l{i}", type_=String),
                "pledgers": bindparam(f"n{i}", type_=Integer),
                "version": bindparam(f"v{i}", type_=Integer),
            }
            for i in range(size)
        ]
    )
    returned = (
        area_counts.c.challenge_id,
        area_counts.c.area_key,
        area_counts.c.label,
        area_counts.c.pledgers,
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=[area_counts.c.challenge_id, area_counts.c.area_key],
        set_={
            "pledgers": area_counts.c.pledgers + stmt.excluded.pledgers,
            "label": stmt.excluded.label,
            "version": stmt.excluded.version,
        },
    ).returning(*returned)
    statement = DriverStatement(upsert, dialect, returned)
    if statement.names != tuple(f"{k}{i}" for i in range(size) for k in "calnv"):
        raise AssertionError("the areas' values are passed as c0, a0, l0, n0, v0, c1, ...")
    return statement


@lru_cache(maxsize=256)
def _places(dialect: Dialect, size: int) -> DriverStatement:
    """The places of `size` members."""
    place = (
        members.c.id,
        members.c.location_name,
        members.c.latitude,
        members.c.longitude,
        members.c.area_key,
    )
    ids = [bindparam(f"i{k}", type_=Integer) for k in range(size)]
    return DriverStatement(select(*place).where(members.c.id.in_(ids)), dialect, place)


_EXISTING = select(pledges).where(
    tuple_(pledges.c.member_id, pledges.c.challenge_id).in_(bindparam("keys", expanding=True))
)


def _labels(conn: Connection, member_ids: set[int]) -> dict[int, str | None]:
    """What each member's place reads as, by member."""
    ids = {f"i{k}": member_id for k, member_id in enumerate(sorted(member_ids))}
    rows = _places(conn.dialect, len(ids)).run(conn, ids)
    return {member_id: _label(tuple(place)) for member_id, *place in rows}


def _label(place: Place) -> str | None:
    """What a stored place reads as."""
    location = stored_location(*place)
    return None if location is None else location.label


def _withdraw(conn: Connection, member_id: int, challenge_id: int, now: datetime) -> int:
    row = conn.execute(
        select(pledges.c.area_key, challenges.c.status)
        .join(challenges, challenges.c.id == pledges.c.challenge_id)
        .where(active_pledge(member_id, challenge_id))
    ).first()
    if row is None:
        raise NotFound("error.not_pledged")
    if row.status != ChallengeStatus.OPEN.value:
        raise Conflict("error.withdraw_closed")
    conn.execute(
        update(pledges)
        .where(pledges.c.member_id == member_id, pledges.c.challenge_id == challenge_id)
        .values(withdrawn_at=now)
    )
    release_pledge_counts(conn, challenge_id, row.area_key)
    return int(
        conn.execute(
            select(challenges.c.pledge_count).where(challenges.c.id == challenge_id)
        ).scalar_one()
    )


def active_pledge(member_id: int, challenge_id: int) -> Any:
    """The condition selecting a member's active (not withdrawn) pledge to a challenge."""
    return and_(
        pledges.c.member_id == member_id,
        pledges.c.challenge_id == challenge_id,
        pledges.c.withdrawn_at.is_(None),
    )


class PledgeService:
    """Pledge, withdraw, and read a member's pledges."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.after_pledge: list[Callable[[int], Awaitable[object]]] = []
        """Called with the challenge once a new pledge is committed while conditional
        pledges wait on it (the pledge's own transaction saw them; a condition made at the
        same moment is the sweep's); pledges committed together share one call."""
        self._after = Coalesced(self._run_after)

    async def pledge(
        self, member_id: int, challenge_id: int, referrer_id: int | None = None
    ) -> PledgeResult:
        """Commit the member to the challenge's action; pledging twice changes nothing.
        What waited on this pledge (conditional pledges) is done before it returns."""
        request = PledgeRequest(member_id, challenge_id, referrer_id, self.clock.now())
        result = await self.db.transaction(PLEDGE, request)
        if result.created and result.awaited:
            await self._after(challenge_id)
        return result

    async def _run_after(self, challenge_id: int) -> None:
        """Run what follows a pledge; its failure is logged and left to the sweeps, never
        the pledger's (their pledge is committed)."""
        for then in self.after_pledge:
            try:
                await then(challenge_id)
            except Exception:
                log.exception("after a pledge to challenge %s", challenge_id)

    async def withdraw(self, member_id: int, challenge_id: int) -> int:
        """Withdraw a pledge while the challenge is open; returns the new count."""
        return await self.db.transaction(_withdraw, member_id, challenge_id, self.clock.now())

    async def follow_place(self, member_id: int, challenge_id: int) -> tuple[OutboxEvent, ...]:
        """Count an active pledge in the member's place as it is now (given after the pledge);
        the event of that area reaching its goal, if it does now."""
        events = await self.db.transaction(_follow_place, self.clock, member_id, challenge_id)
        await self._after(challenge_id)  # the area counts one more
        return events

    async def get(self, member_id: int, challenge_id: int) -> Pledge | None:
        """The member's pledge to the challenge (active or withdrawn), or None."""
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(pledges).where(
                        pledges.c.member_id == member_id, pledges.c.challenge_id == challenge_id
                    )
                )
            ).first()
        return None if row is None else pledge_from_row(row)

    async def of_member(self, member_id: int) -> list[tuple[Pledge, Challenge]]:
        """The member's active pledges with their challenges, soonest deadline first."""
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    select(pledges).where(
                        pledges.c.member_id == member_id, pledges.c.withdrawn_at.is_(None)
                    )
                )
            ).all()
            by_id = {r.challenge_id: pledge_from_row(r) for r in rows}
            found = await conn.run_sync(
                load_challenges, challenges.c.id.in_(list(by_id)), challenges.c.deadline
            )
        return [(by_id[c.id], c) for c in found]


def _follow_place(
    conn: Connection, clock: Clock, member_id: int, challenge_id: int
) -> tuple[OutboxEvent, ...]:
    row = conn.execute(
        select(
            pledges.c.area_key.label("counted"),
            members.c.area_key,
            members.c.location_name,
            members.c.latitude,
            members.c.longitude,
            challenges.c.area_goal,
        )
        .join(members, members.c.id == pledges.c.member_id)
        .join(challenges, challenges.c.id == pledges.c.challenge_id)
        .where(active_pledge(member_id, challenge_id))
    ).first()
    if row is None or row.counted == row.area_key:
        return ()
    version = next_area_version(conn, challenge_id)  # first: the lock order of a pledge batch
    mine = active_pledge(member_id, challenge_id)
    conn.execute(update(pledges).where(mine).values(area_key=row.area_key))
    if row.counted is not None:
        conn.execute(
            update(area_counts)
            .where(
                area_counts.c.challenge_id == challenge_id, area_counts.c.area_key == row.counted
            )
            .values(pledgers=area_counts.c.pledgers - 1, version=version)
        )
    if row.area_key is None:
        return ()
    place = stored_location(row.location_name, row.latitude, row.longitude, row.area_key)
    label = place.label if place else row.area_key
    pledgers = conn.execute(
        insert_for(conn, area_counts)
        .values(
            challenge_id=challenge_id,
            area_key=row.area_key,
            label=label,
            pledgers=1,
            version=version,
        )
        .on_conflict_do_update(
            index_elements=[area_counts.c.challenge_id, area_counts.c.area_key],
            set_={"pledgers": area_counts.c.pledgers + 1, "label": label, "version": version},
        )
        .returning(area_counts.c.pledgers)
    ).scalar_one()
    if row.area_goal is None or pledgers != row.area_goal:
        return ()
    payload = {"area": label, "count": pledgers, "goal": row.area_goal}
    event = emit(
        conn,
        clock,
        EventKind.AREA_GOAL,
        challenge_id,
        f"area_goal:{challenge_id}:{row.area_key}",
        **payload,
    )
    return () if event is None else (event,)


def cross_thresholds(
    conn: Connection, now: datetime, challenge_id: int, count: int, *, by: int | None = None
) -> tuple[tuple[OutboxEvent, ...], int | None]:
    """Record every milestone and tier reached at `count`, once each, with its events; the
    events and the next threshold left to reach.

    The unique milestone row decides: under concurrent pledges only the transaction that
    inserts it emits the event. `by` is the member whose pledge crossed them: their thanks
    celebrate these, so the events are not sent to them.
    """
    told = {} if by is None else {CROSSED_BY: by}
    challenge = conn.execute(
        select(challenges.c.goal, challenges.c.status).where(challenges.c.id == challenge_id)
    ).one()
    tier_rows = conn.execute(
        select(tiers).where(tiers.c.challenge_id == challenge_id).order_by(tiers.c.threshold)
    ).all()
    events: list[OutboxEvent] = []

    def reach(kind: str, value: int, dedupe: str, event: EventKind, **payload: object) -> bool:
        inserted = conn.execute(
            insert_for(conn, milestones)
            .values(
                challenge_id=challenge_id, kind=kind, value=value, count_at=count, reached_at=now
            )
            .on_conflict_do_nothing()
        )
        if not inserted.rowcount:
            return False
        emitted = record_event(
            conn, now, event, challenge_id, dedupe, count=count, **payload, **told
        )
        if emitted is not None:
            events.append(emitted)
        return True

    for percent, at in percent_thresholds(challenge.goal).items():
        if count >= at:
            reach(
                "percent",
                percent,
                f"milestone:{challenge_id}:{percent}",
                EventKind.MILESTONE,
                percent=percent,
                goal=challenge.goal,
            )
    for tier in tier_rows:
        if count >= tier.threshold and reach(
            "tier",
            tier.id,
            f"tier:{tier.id}",
            EventKind.TIER_UNLOCKED,
            tier_id=tier.id,
            threshold=tier.threshold,
            sponsor=tier.sponsor,
            reward=tier.reward,
        ):
            conn.execute(update(tiers).where(tiers.c.id == tier.id).values(unlocked_at=now))
    next_at = next_threshold(challenge.goal, [t.threshold for t in tier_rows], count)
    changes: dict[str, object] = {"next_threshold": next_at}
    if count >= challenge.goal and challenge.status == ChallengeStatus.OPEN.value:
        changes["status"] = ChallengeStatus.SUCCEEDED.value
        changes["updated_at"] = now
        succeeded = record_event(
            conn,
            now,
            EventKind.SUCCEEDED,
            challenge_id,
            f"succeeded:{challenge_id}",
            count=count,
            goal=challenge.goal,
            **told,
        )
        if succeeded is not None:
            events.append(succeeded)
    conn.execute(update(challenges).where(challenges.c.id == challenge_id).values(**changes))
    return tuple(events), next_at
