"""Periodic sweeps, one scheduler for every platform.

No job per member or challenge: each sweep reads what is due from the database, so nothing is
lost across a restart and a tick costs what is due, not what exists. Jobs live in memory only
because their state lives in the tables they sweep.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.metrics import SCHEDULER_TICK_SECONDS
from core.services import Services

log = logging.getLogger(__name__)

EXPIRY_SECONDS = 60
REMINDER_SECONDS = 60
CHALLENGE_REMINDER_SECONDS = 900
BROADCAST_SECONDS = 10
PURGE_SECONDS = 3600
"""Every instance looks hourly; one of them purges once a day (RetentionService)."""
REFERRAL_SECONDS = 600


def build_scheduler(services: Services) -> AsyncIOScheduler:
    """A scheduler with the sweeps: challenges past their deadline expire (with their
    outbox event); due member reminders are queued; deadline reminders, weekly digests and
    organiser nudges are written; scheduled broadcasts are launched; sharers hear who joined
    through their links; old rows are purged once a day."""
    scheduler = AsyncIOScheduler(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    scheduler.add_job(
        _logged(services.challenges.expire_due),
        "interval",
        seconds=EXPIRY_SECONDS,
        id="expire-challenges",
        next_run_time=services.clock.now(),
    )
    for sweep, seconds, job_id in (
        (services.reminders.sweep, REMINDER_SECONDS, "member-reminders"),
        (services.challenge_reminders.sweep, CHALLENGE_REMINDER_SECONDS, "challenge-reminders"),
        (services.broadcasts.launch_due, BROADCAST_SECONDS, "launch-broadcasts"),
        (services.referrals.sweep, REFERRAL_SECONDS, "referral-feedback"),
    ):
        scheduler.add_job(
            _logged(sweep),
            "interval",
            seconds=seconds,
            id=job_id,
            next_run_time=services.clock.now(),
        )
    scheduler.add_job(
        _logged(services.retention.purge_daily),
        "interval",
        seconds=PURGE_SECONDS,
        id="purge",
        next_run_time=services.clock.now(),
    )
    return scheduler


def _logged(sweep: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
    """Run a sweep, its duration measured; a failure is logged and the next tick tries
    again."""
    name = getattr(sweep, "__qualname__", None) or getattr(sweep, "__name__", str(sweep))

    async def run() -> None:
        started = time.perf_counter()
        try:
            await sweep()
        except Exception:
            log.exception("sweep %s failed", name)
        finally:
            SCHEDULER_TICK_SECONDS.labels(name).observe(time.perf_counter() - started)

    return run
