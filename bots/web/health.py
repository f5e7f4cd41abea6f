"""`/metrics` (Prometheus), `/healthz` and `/readyz`: a small aiohttp app of their own on
KOOM_METRICS_PORT, and the same routes beside the public pages when KOOM_WEB_PORT is set."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from core import metrics
from core.db.database import Database
from core.errors import port_taken
from core.services import Services

log = logging.getLogger(__name__)

TIMEOUT = 3.0
NO_STORE = {"Cache-Control": "no-store"}
DATABASE = web.AppKey("health_database", Database)


class Readiness:
    """What this process still waits for before it can take traffic (empty: ready)."""

    waiting: set[str] = set()  # noqa: RUF012 - one process, one readiness

    @classmethod
    def wait_for(cls, what: str) -> None:
        """Not ready until `done(what)`."""
        cls.waiting.add(what)

    @classmethod
    def done(cls, what: str) -> None:
        """`what` is ready."""
        cls.waiting.discard(what)


async def database_answers(db: Database) -> bool:
    """True when the database answers a trivial query within TIMEOUT seconds."""
    try:
        async with asyncio.timeout(TIMEOUT), db.read() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("health check: the database does not answer (%s)", type(exc).__name__)
        return False
    return True


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers, else 503 (liveness)."""
    if await database_answers(request.app[DATABASE]):
        return web.json_response({"status": "ok", "database": "ok"}, headers=NO_STORE)
    return web.json_response(
        {"status": "unavailable", "database": "unreachable"}, status=503, headers=NO_STORE
    )


async def readyz(request: web.Request) -> web.Response:
    """200 once the adapters are started and while the database answers, else 503."""
    answers = await database_answers(request.app[DATABASE])
    waiting = sorted(Readiness.waiting) + ([] if answers else ["database"])
    if waiting:
        return web.json_response(
            {"status": "not ready", "waiting": waiting}, status=503, headers=NO_STORE
        )
    return web.json_response({"status": "ready"}, headers=NO_STORE)


async def metrics_page(request: web.Request) -> web.Response:
    """Every series in Prometheus' text format, the table gauges read just now."""
    try:
        await metrics.refresh(request.app[DATABASE])
    except Exception as exc:
        log.warning("metrics: the tables could not be read (%s)", type(exc).__name__)
    return web.Response(
        body=generate_latest(),
        headers={"Content-Type": CONTENT_TYPE_LATEST, **NO_STORE},
    )


def add_routes(app: web.Application, db: Database) -> None:
    """Mount `/metrics` and `/readyz` (the web pages have their own `/healthz`)."""
    app[DATABASE] = db
    app.router.add_get("/metrics", metrics_page, name="metrics")
    app.router.add_get("/readyz", readyz, name="readyz")


def create_health_app(db: Database) -> web.Application:
    """The app of KOOM_METRICS_PORT: `/metrics`, `/healthz`, `/readyz`."""
    app = web.Application()
    add_routes(app, db)
    app.router.add_get("/healthz", healthz, name="healthz")
    return app


@asynccontextmanager
async def metrics_server(services: Services) -> AsyncIterator[int | None]:
    """Serve the health app on KOOM_METRICS_PORT while the block runs (its port, or None
    when the setting is unset)."""
    settings = services.settings
    if settings.metrics_port is None:
        yield None
        return
    runner = web.AppRunner(create_health_app(services.db), access_log=None)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, settings.metrics_host, settings.metrics_port).start()
        except OSError as exc:
            raise port_taken("KOOM_METRICS_PORT", settings.metrics_port, exc) from exc
        port = int(runner.addresses[0][1])
        log.info("metrics and health on %s:%s", settings.metrics_host, port)
        yield port
    finally:
        await runner.cleanup()
