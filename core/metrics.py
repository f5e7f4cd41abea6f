"""Prometheus series of the running bot (prometheus-client, default registry).

Counters and histograms are fed where things happen (the engine, the delivery worker, the
scheduler, the database engine in core/db/watch.py); the state of the tables (deliveries by
status, broadcasts in progress) is read at each scrape by `refresh`.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import func, select

from core.db.database import Database
from core.db.tables import broadcasts, deliveries

UPDATES = Counter(
    "koom_updates_handled",
    "Inputs handled by the conversation engine",
    ["platform", "kind"],
)
UPDATE_SECONDS = Histogram(
    "koom_update_duration_seconds",
    "Time the engine took to answer one input",
    ["platform"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DELIVERIES = Gauge(
    "koom_deliveries",
    "Delivery rows by status (failed: pending again after a failed attempt)",
    ["status"],
)
DELIVERY_ATTEMPTS = Counter(
    "koom_delivery_attempts",
    "Sends tried by the delivery worker, by outcome (sent, gone, retry)",
    ["platform", "outcome"],
)
RATE_LIMITED = Counter(
    "koom_rate_limited",
    "429 (too many requests) answers received from a platform",
    ["platform"],
)
BROADCAST_DELIVERIES = Gauge(
    "koom_broadcast_deliveries",
    "Deliveries of each broadcast being sent, by status",
    ["broadcast", "status"],
)
SCHEDULER_TICK_SECONDS = Histogram(
    "koom_scheduler_tick_duration_seconds",
    "Time one tick of a scheduler sweep took",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
DATABASE_ERRORS = Counter("koom_database_errors", "Errors raised by the database driver")

DELIVERY_STATUSES = ("pending", "failed", "sent", "dead", "cancelled")


async def refresh(db: Database) -> None:
    """Read the delivery and broadcast gauges from the tables (at each scrape)."""
    async with db.read() as conn:
        rows: list[Any] = list(
            await conn.execute(
                select(
                    deliveries.c.status,
                    deliveries.c.attempts > 0,
                    func.count(),
                ).group_by(deliveries.c.status, deliveries.c.attempts > 0)
            )
        )
        live: list[Any] = list(
            await conn.execute(
                select(deliveries.c.broadcast_id, deliveries.c.status, func.count())
                .join(broadcasts, broadcasts.c.id == deliveries.c.broadcast_id)
                .where(broadcasts.c.status == "sending")
                .group_by(deliveries.c.broadcast_id, deliveries.c.status)
            )
        )
    counts = dict.fromkeys(DELIVERY_STATUSES, 0)
    for status, tried, n in rows:
        key = "failed" if status == "pending" and tried else status
        counts[key] = counts.get(key, 0) + int(n)
    for status, n in counts.items():
        DELIVERIES.labels(status).set(n)
    BROADCAST_DELIVERIES.clear()
    for broadcast_id, status, n in live:
        BROADCAST_DELIVERIES.labels(str(broadcast_id), status).set(int(n))
