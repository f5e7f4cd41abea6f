"""Outbox events: written in the transaction of the change, exactly once per dedupe key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Connection

from core.clock import Clock
from core.db.tables import outbox
from core.db.upsert import insert_for
from core.models import EventKind, OutboxEvent

CROSSED_BY = "by"
"""The payload key of the member whose own action caused an event (and who was told of it)."""


def emit(
    conn: Connection,
    /,
    clock: Clock,
    kind: EventKind,
    challenge_id: int,
    dedupe_key: str,
    **payload: object,
) -> OutboxEvent | None:
    """Write one event row; None when an event with this dedupe key already exists."""
    return record_event(conn, clock.now(), kind, challenge_id, dedupe_key, **payload)


def record_event(
    conn: Connection,
    now: datetime,
    kind: EventKind,
    challenge_id: int,
    dedupe_key: str,
    **payload: object,
) -> OutboxEvent | None:
    """`emit` as of `now` (a batch of pledges dates each event by its own pledge)."""
    stmt = (
        insert_for(conn, outbox)
        .values(
            kind=kind.value,
            challenge_id=challenge_id,
            payload=payload,
            dedupe_key=dedupe_key,
            created_at=now,
        )
        .on_conflict_do_nothing()
        .returning(outbox.c.id)
    )
    event_id = conn.execute(stmt).scalar_one_or_none()
    if event_id is None:
        return None
    return OutboxEvent(event_id, kind, challenge_id, dict(payload), now)
