"""`koom run`: start every adapter whose token is configured, in one asyncio loop; with none,
the console chat."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol, TextIO

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bots.console.app import chat
from bots.logs import quiet_for_chat
from bots.resources import prepare_process
from bots.web.health import Readiness, metrics_server
from bots.web.server import web_server
from core.app import open_services
from core.delivery.protocol import Deliverer
from core.delivery.worker import DeliveryWorker
from core.errors import Misconfigured
from core.i18n import Translator
from core.identity import Platform
from core.pacing import Budget
from core.places import load_places
from core.scheduler import build_scheduler
from core.services import Services
from core.settings import Settings
from core.shared_budget import shared_budgets

log = logging.getLogger(__name__)
REDIS_WAIT = 10.0
"""Seconds KOOM_REDIS_URL's server has to answer at start."""


class Adapter(Deliverer, Protocol):
    """A platform adapter run beside the others: start returns once it is connected; it
    delivers the notices of its platform."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def configured_platforms(settings: Settings) -> list[str]:
    """The platforms whose token is set; the tokens themselves are never shown."""
    tokens = {"Telegram": settings.telegram_token, "Discord": settings.discord_token}
    return [name for name, token in tokens.items() if token and token.get_secret_value().strip()]


def build_adapters(
    services: Services, settings: Settings, budgets: dict[Platform, Budget] | None = None
) -> list[Adapter]:
    """One adapter per configured platform (imported only when configured); `budgets` are
    the platforms' limits shared with other instances."""
    adapters: list[Adapter] = []
    platforms = configured_platforms(settings)
    if "Telegram" in platforms:
        from bots.telegram.app import TelegramAdapter

        budget = (budgets or {}).get(Platform.TELEGRAM)
        adapters.append(TelegramAdapter(services, settings, budget=budget))
    if "Discord" in platforms:
        from bots.discord.app import DiscordAdapter

        adapters.append(DiscordAdapter(services, settings, (budgets or {}).get(Platform.DISCORD)))
    return adapters


async def serve(
    services: Services,
    adapters: list[Adapter],
    stop: asyncio.Event,
    budgets: dict[Platform, Budget] | None = None,
) -> None:
    """Start every adapter, then the delivery worker sending through them (within `budgets`,
    when shared with other instances), then the web pages when KOOM_WEB_PORT is set and the
    scheduler's sweeps; wait for `stop`, then stop them all (the last started first)."""
    started: list[Adapter] = []
    Readiness.wait_for("adapters")
    await load_places()  # the gazetteer, before anyone types a place and waits for it
    try:
        for adapter in adapters:
            await adapter.start()
            started.append(adapter)
            log.info("%s adapter started", adapter.name)
        worker = DeliveryWorker(
            services, {adapter.platform: adapter for adapter in started}, budgets=budgets
        )
        await worker.start()
        try:
            async with web_server(services), sweeping(services):  # web: with KOOM_WEB_PORT
                Readiness.done("adapters")
                await stop.wait()
                Readiness.wait_for("adapters")  # stopping: no new traffic
        finally:
            await worker.stop()
    finally:
        for adapter in reversed(started):
            try:
                await adapter.stop()
            except Exception:
                log.exception("%s adapter did not stop cleanly", adapter.name)


async def run(
    settings: Settings,
    name: str,
    language: str | None,
    language_code: str | None,
    t: Translator,
    err: TextIO | None = None,
) -> int:
    """Run the bot until it is stopped (Ctrl-C or SIGTERM); the exit status."""
    err = err or sys.stderr
    prepare_process(asyncio.get_running_loop())
    adapters_wanted = bool(configured_platforms(settings))
    redis = await reach_redis(settings.redis_url) if settings.redis_url else None
    try:
        services = await open_services(settings, demo=not adapters_wanted)
    except BaseException:
        if redis is not None:
            await redis.aclose()
        raise
    if adapters_wanted and not await services.challenges.list_all():
        print(t("operations.demo_hint"), file=err)
    try:
        budgets = shared_budgets(redis, settings) if redis is not None else {}
        adapters = build_adapters(services, settings, budgets)
        if not adapters:
            quiet_for_chat()
            print(t("console.no_token"), file=err)
            async with web_server(services), metrics_server(services), sweeping(services):
                await chat(services, name, language, language_code)
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(
            t("console.adapters_running", platforms=", ".join(a.name for a in adapters)), file=err
        )
        async with metrics_server(services):  # when KOOM_METRICS_PORT is set
            await serve(services, adapters, stop, budgets)
        return 0
    finally:
        if redis is not None:
            await redis.aclose()
        await services.db.dispose()


async def reach_redis(url: str) -> Redis:
    """A client of the Redis server at `url`, once it answers; Misconfigured when it does not
    (within REDIS_WAIT): every send would fail to take its time from the shared limits."""
    redis = Redis.from_url(url)
    try:
        async with asyncio.timeout(REDIS_WAIT):
            await redis.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        await redis.aclose()
        problem = str(exc) or type(exc).__name__  # a timeout says nothing more
        raise Misconfigured("operations.error.redis_unreachable", problem=problem) from exc
    return redis


@asynccontextmanager
async def sweeping(services: Services) -> AsyncIterator[None]:
    """The scheduler's sweeps while the block runs, started once every port is open (a
    start-up problem then stops nothing half-way)."""
    scheduler = build_scheduler(services)
    scheduler.start()
    try:
        yield
    finally:
        scheduler.shutdown(wait=False)
