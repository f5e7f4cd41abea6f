"""Roles that one instance at a time may hold among those sharing a database (the Telegram
long poller), as leases renewed by their holder: a holder that stops renewing loses its role
to whoever asks after the lease, or at once when it was a process of this host that is gone
(a restart after a kill need not wait the lease out)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.engine import Connection

from core.db.tables import sweep_ticks
from core.db.upsert import insert_for
from core.instance import dead_here


def hold_role(conn: Connection, role: str, me: str, now: datetime, lease: timedelta) -> bool:
    """A unit of work: take or renew `role` for `me`, unless another instance, still running
    or not known to be gone, renewed it less than `lease` ago; True when `me` holds it."""
    taken = conn.execute(
        insert_for(conn, sweep_ticks)
        .values(job=role, ran_at=now, ran_by=me)
        .on_conflict_do_nothing()
    )
    if taken.rowcount:
        return True
    renewed = conn.execute(
        update(sweep_ticks)
        .where(
            sweep_ticks.c.job == role,
            or_(sweep_ticks.c.ran_by == me, sweep_ticks.c.ran_at <= now - lease),
        )
        .values(ran_at=now, ran_by=me)
    )
    if renewed.rowcount:
        return True
    holder = conn.execute(select(sweep_ticks.c.ran_by).where(sweep_ticks.c.job == role)).scalar()
    if holder is None or not dead_here(holder):
        return False
    taken = conn.execute(
        update(sweep_ticks)
        .where(sweep_ticks.c.job == role, sweep_ticks.c.ran_by == holder)
        .values(ran_at=now, ran_by=me)
    )
    return bool(taken.rowcount)


def release_role(conn: Connection, role: str, me: str) -> None:
    """A unit of work: give up `role` if `me` holds it, so the next instance need not wait."""
    conn.execute(delete(sweep_ticks).where(sweep_ticks.c.job == role, sweep_ticks.c.ran_by == me))
