"""Several `koom run` instances on one PostgreSQL database, for the tests and benchmarks that
run them: a fresh database, instances in this process (each its own pool, adapters and
delivery worker, sharing the platforms' limits in Redis), `koom run` processes and the kill of
one mid-broadcast, and the state of the deliveries."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from core.clock import SystemClock
from core.db.database import Database
from core.db.tables import deliveries, outbox
from core.delivery.worker import DeliveryWorker
from core.identity import Platform
from core.pacing import DISCORD_LIMITS, TELEGRAM_LIMITS, Budget, Limit, Limits
from core.services import Services
from core.settings import Settings
from core.shared_budget import RedisBudget
from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("KOOM_TEST_REDIS_URL")
needs_postgres_and_redis = pytest.mark.skipif(
    not (POSTGRES_URL and REDIS_URL), reason="needs KOOM_TEST_POSTGRES_URL and KOOM_TEST_REDIS_URL"
)
POLL = 0.2


@asynccontextmanager
async def fresh_database(server: str, prefix: str = "koom_t") -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database on `server` (a database URL), dropped
    at the end."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = Database(server, isolation_level="AUTOCOMMIT")
    async with admin.engine.connect() as conn:
        await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        async with admin.engine.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.dispose()


def on_schema(schema: str, **server: str) -> Database:
    """A pool on the test server whose connections use `schema` (and `server` settings)."""
    assert POSTGRES_URL is not None
    return Database(
        POSTGRES_URL, connect_args={"server_settings": {"search_path": schema, **server}}
    )


def scaled(limits: Limits, scale: int) -> Limits:
    """`limits` with every count times `scale` (as the fakes scale theirs)."""

    def times(limit: Limit) -> Limit:
        return Limit(limit.count * scale, limit.per)

    return Limits(times(limits.overall), times(limits.private_chat), times(limits.group))


@dataclass
class Instance:
    """One `koom run` as far as deliveries go."""

    services: Services
    adapters: dict[Platform, Any]
    worker: DeliveryWorker


MakeAdapters = Callable[[int, Services, Mapping[Platform, Budget]], Awaitable[Sequence[Any]]]
"""The adapters of instance `n`, started, drawing from the shared budgets."""


@asynccontextmanager
async def instances(
    schema: str, count: int, settings: Settings, make: MakeAdapters, *, scale: int, **server: str
) -> AsyncIterator[list[Instance]]:
    """`count` instances on `schema`, sharing Telegram's and Discord's limits (times
    `scale`) in Redis; their workers are made, not started. `server` adds PostgreSQL
    settings to every instance's connections."""
    assert REDIS_URL is not None
    prefix = f"koom-test:{uuid.uuid4().hex[:12]}"
    made: list[Instance] = []
    async with AsyncExitStack() as stack:
        stack.push_async_callback(_drop_keys, prefix)
        for n in range(count):
            db = on_schema(schema, **server)
            stack.push_async_callback(db.dispose)
            redis = Redis.from_url(REDIS_URL)
            stack.push_async_callback(redis.aclose)
            services = Services(db=db, settings=settings, clock=SystemClock())
            budgets: dict[Platform, Budget] = {
                platform: RedisBudget(redis, f"{prefix}:{platform.value}", scaled(limits, scale))
                for platform, limits in (
                    (Platform.TELEGRAM, TELEGRAM_LIMITS),
                    (Platform.DISCORD, DISCORD_LIMITS),
                )
            }
            adapters = {}
            for adapter in await make(n, services, budgets):
                stack.push_async_callback(adapter.stop)
                adapters[adapter.platform] = adapter
            worker = DeliveryWorker(services, adapters, budgets=budgets)
            stack.push_async_callback(worker.stop)
            made.append(Instance(services, adapters, worker))
        yield made


async def _drop_keys(prefix: str) -> None:
    assert REDIS_URL is not None
    redis = Redis.from_url(REDIS_URL)
    keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def until(done: Callable[[], Awaitable[bool]], seconds: float) -> None:
    """Wait until `done()`; TimeoutError after `seconds`."""
    for _ in range(int(seconds / POLL)):
        if await done():
            return
        await asyncio.sleep(POLL)
    raise TimeoutError(f"not done within {seconds} s")


async def all_sent(services: Services) -> bool:
    """Whether every outbox event is fanned out and no delivery is pending."""
    async with services.db.read() as conn:
        unfanned = (
            await conn.execute(select(func.count()).where(outbox.c.fanned_out_at.is_(None)))
        ).scalar_one()
        pending = (
            await conn.execute(select(func.count()).where(deliveries.c.status == "pending"))
        ).scalar_one()
    return unfanned == 0 and pending == 0


async def rows_per_chat(services: Services) -> dict[int, list[str]]:
    """The status of every delivery row, by chat."""
    async with services.db.read() as conn:
        rows = await conn.execute(select(deliveries.c.chat_id, deliveries.c.status))
        found: dict[int, list[str]] = {}
        for row in rows:
            found.setdefault(int(row.chat_id), []).append(row.status)
        return found


async def statuses(db: Database, broadcast_id: int) -> dict[str, str]:
    """chat id -> status of each delivery row of the broadcast."""
    async with db.read() as conn:
        rows = await conn.execute(
            select(deliveries.c.chat_id, deliveries.c.status).where(
                deliveries.c.broadcast_id == broadcast_id
            )
        )
        return {r.chat_id: r.status for r in rows}


# --- `koom run` processes ---------------------------------------------------------------


def koom_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a `koom run` on `database_url` with `settings` (and no token or
    platform setting of this shell's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DISCORD_"))}
    return env | {
        "DATABASE_URL": database_url,
        "KOOM_LOAD_DEMO": "0",
        "KOOM_DEFAULT_LOCALE": "fr",
        "PYTHONPATH": str(ROOT),
        **settings,
    }


async def koom_run(env: dict[str, str], cwd: Path, log: IO[bytes]) -> asyncio.subprocess.Process:
    """`koom run` in a process of its own, writing to `log`."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        "run",
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )


async def kill(
    victim: asyncio.subprocess.Process,
    db: Database,
    broadcast_id: int,
    received: Callable[[], set[int]],
    within: float,
    others: Sequence[asyncio.subprocess.Process] = (),
) -> set[str]:
    """SIGKILL `victim` mid-broadcast; the chats it had in flight (sent, row still claimed by
    it). The `others` are paused (SIGSTOP) until they are counted: one of them could take over
    the dead one's leases (at once on this host) and send those rows again before the count,
    which would then miss them, and its own sends in flight are not the victim's."""
    for other in others:
        os.kill(other.pid, signal.SIGSTOP)
    try:
        os.kill(victim.pid, signal.SIGKILL)
        await asyncio.wait_for(victim.wait(), within)
        await asyncio.sleep(0.5)  # a request already on its way still lands
        before = received()
        async with db.read() as conn:
            rows = await conn.execute(
                select(deliveries.c.chat_id, deliveries.c.claimed_by).where(
                    deliveries.c.broadcast_id == broadcast_id, deliveries.c.status == "pending"
                )
            )
            claimed = {r.chat_id: r.claimed_by or "" for r in rows}
    finally:
        for other in others:
            os.kill(other.pid, signal.SIGCONT)
    pid = str(victim.pid)
    return {c for c, by in claimed.items() if by.split(":")[1:2] == [pid] and int(c) in before}


async def until_sent(db: Database, broadcast_id: int, within: float) -> float:
    """Wait (at most `within`) until no row of the broadcast is pending; the seconds it took."""
    started = time.monotonic()
    for _ in range(int(within / POLL)):
        if "pending" not in (await statuses(db, broadcast_id)).values():
            break
        await asyncio.sleep(POLL)
    return time.monotonic() - started


async def stop_all(children: Sequence[asyncio.subprocess.Process | None], within: float) -> None:
    """Stop the `koom run` processes still running (Ctrl-C) and wait for every one."""
    for child in children:
        if child is not None and child.returncode is None:
            child.send_signal(signal.SIGINT)
    for child in children:
        if child is not None:
            await asyncio.wait_for(child.wait(), within)
