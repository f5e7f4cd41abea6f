"""Periodic sweeps, one scheduler for every platform.

No job per member or challenge: each sweep reads what is due from the database, so nothing is
lost across a restart and a tick costs what is due, not what exists. Jobs live in memory only
because their state lives in the tables they sweep. Several instances each run a scheduler, and
each tick of a sweep is claimed in `sweep_ticks` first: it runs once per tick across instances.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import update
from sqlalchemy.engine import Connection

from core.db.tables import sweep_ticks
from core.db.upsert import insert_for
from core.instance import instance_id
from core.metrics import SCHEDULER_TICK_SECONDS
from core.services import Services

log = logging.getLogger(__name__)

EXPIRY_SECONDS = 60
REMINDER_SECONDS = 60
CHALLENGE_REMINDER_SECONDS = 900
BROADCAST_SECONDS = 10
SPONSOR_SECONDS = 60
CONDITIONAL_SECONDS = 10
PURGE_SECONDS = 3600
"""Every instance looks hourly; one of them purges once a day (RetentionService)."""
REFERRAL_SECONDS = 600
TICK_SHARE = 0.9
"""A tick is taken when the last run of its sweep, by any instance, is at least this share of
the interval old (the instances' ticks are not aligned)."""


def build_scheduler(services: Services) -> AsyncIOScheduler:
    """A scheduler with the sweeps: challenges past their deadline expire (with their
    outbox event); due member reminders are queued; deadline reminders, weekly digests and
    organiser nudges are written; scheduled broadcasts are launched; sharers hear who joined
    through their links; sponsors of reached tiers are told and reminded; conditional pledges
    whose condition holds become pledges; old rows are purged once a day."""
    scheduler = AsyncIOScheduler(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    for sweep, seconds, job_id in (
        (services.challenges.expire_due, EXPIRY_SECONDS, "expire-challenges"),
        (services.reminders.sweep, REMINDER_SECONDS, "member-reminders"),
        (services.challenge_reminders.sweep, CHALLENGE_REMINDER_SECONDS, "challenge-reminders"),
        (services.broadcasts.launch_due, BROADCAST_SECONDS, "launch-broadcasts"),
        (services.referrals.sweep, REFERRAL_SECONDS, "referral-feedback"),
        (services.sponsors.sweep, SPONSOR_SECONDS, "tell-sponsors"),
        (services.conditional.sweep, CONDITIONAL_SECONDS, "activate-conditional"),
        (services.retention.purge_daily, PURGE_SECONDS, "purge"),
    ):
        scheduler.add_job(
            _once_per_tick(services, job_id, timedelta(seconds=seconds), sweep),
            "interval",
            seconds=seconds,
            id=job_id,
            next_run_time=services.clock.now(),
        )
    return scheduler


def _once_per_tick(
    services: Services, job: str, every: timedelta, sweep: Callable[[], Awaitable[object]]
) -> Callable[[], Awaitable[None]]:
    """Run a sweep, its duration measured, if no instance ran it this tick; a failure is
    logged and the next tick tries again."""
    name = getattr(sweep, "__qualname__", None) or getattr(sweep, "__name__", str(sweep))

    async def run() -> None:
        started = time.perf_counter()
        try:
            now = services.clock.now()
            if await services.db.transaction(claim_tick, job, now, every, instance_id()):
                await sweep()
        except Exception:
            log.exception("sweep %s failed", name)
        finally:
            SCHEDULER_TICK_SECONDS.labels(name).observe(time.perf_counter() - started)

    return run


def claim_tick(conn: Connection, job: str, now: datetime, every: timedelta, me: str) -> bool:
    """A unit of work: take this tick of `job` for `me`, unless an instance ran it less than
    TICK_SHARE of `every` ago; True when taken."""
    tick = insert_for(conn, sweep_ticks).values(job=job, ran_at=now, ran_by=me)
    first = conn.execute(tick.on_conflict_do_nothing())
    if first.rowcount:
        return True
    taken = conn.execute(
        update(sweep_ticks)
        .where(sweep_ticks.c.job == job, sweep_ticks.c.ran_at <= now - every * TICK_SHARE)
        .values(ran_at=now, ran_by=me)
    )
    return bool(taken.rowcount)
