"""One tick of the member-reminder sweep with 100,000 pledgers, 1,000 of them due.

The data is written in bulk (members with a daily reminder and a Telegram account, their
pledges to one daily challenge and one reminder row each), then a fresh process, which imports
what `koom run` imports, runs `services.reminders.sweep()` once and times it, then a second
time with nothing due, and reports its peak RSS (and its RSS before the sweep).

Run: .venv/bin/python -m benchmarks.reminders [--members 100000] [--due 1000]
Targets: one tick < 1 s, peak RSS < 300 MB.
The last line is `key=value` pairs for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, update

from core.db.database import Database
from core.db.migrate import upgrade
from core.db.tables import accounts, challenges, deliveries, members, pledges, reminders
from core.drafts import ChallengeDraft
from core.models import ChallengeStatus, Frequency
from core.services import Services
from core.settings import Settings

CHUNK = 20_000
"""Rows per bulk insert."""


def _url(database: Path) -> str:
    return f"sqlite+aiosqlite:///{database}"


def _rss_mb() -> float:
    """The process's resident set now, in MB (Linux; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _peak_rss_mb() -> float:
    """The process's peak resident set, in MB (ru_maxrss is in KB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1e3


async def build(database: Path, count: int, due: int) -> float:
    """The challenge, `count` members with a daily reminder, a Telegram account, a pledge and a
    reminder row each, `due` of the rows due in the last half hour; the seconds it took."""
    started = time.perf_counter()
    db = Database(_url(database))
    await upgrade(db)
    services = Services(db=db, settings=Settings(_env_file=None, DATABASE_URL=db.url))  # type: ignore[call-arg]
    now = datetime.now(UTC)
    challenge = await services.challenges.create(
        ChallengeDraft(
            slug="tri-lyon",
            title="Trier mes déchets à Lyon",
            action="trier mes déchets",
            goal=200_000,
            deadline=now + timedelta(days=60),
            frequency=Frequency.DAILY,
            status=ChallengeStatus.OPEN,
        )
    )
    pledged_at = now - timedelta(days=3)
    for start in range(0, count, CHUNK):
        ids = range(start + 1, min(start + CHUNK, count) + 1)
        async with db.write() as conn:
            await conn.execute(
                insert(members),
                [
                    {
                        "id": i,
                        "display_name": f"Member {i}",
                        "language": "fr" if i % 3 else "en",
                        "timezone": "Europe/Paris",
                        "reminder": "daily",
                        "reminder_hour": i % 24,
                        "reminder_minute": (i * 7) % 60,
                        "created_at": pledged_at,
                    }
                    for i in ids
                ],
            )
            await conn.execute(
                insert(accounts),
                [
                    {
                        "platform": "telegram",
                        "external_id": str(1_000_000 + i),
                        "member_id": i,
                        "created_at": pledged_at,
                    }
                    for i in ids
                ],
            )
            await conn.execute(
                insert(pledges),
                [
                    {"member_id": i, "challenge_id": challenge.id, "created_at": pledged_at}
                    for i in ids
                ],
            )
            await conn.execute(
                insert(reminders),
                [
                    {
                        "member_id": i,
                        "challenge_id": challenge.id,
                        # Spread over the half hour just gone (due) or the day to come.
                        "next_due_at": now - timedelta(seconds=1 + i % 1800)
                        if i <= due
                        else now + timedelta(seconds=60 + i % 86_000),
                        "created_at": pledged_at,
                    }
                    for i in ids
                ],
            )
    async with db.write() as conn:
        await conn.execute(
            update(challenges).where(challenges.c.id == challenge.id).values(pledge_count=count)
        )
    await db.dispose()
    return time.perf_counter() - started


async def sweep(database: Path) -> dict[str, float]:
    """In this process: open the services as `koom run` does, then time two sweeps."""
    for module in ("bots.run", "bots.telegram.app", "bots.discord.app"):
        importlib.import_module(module)  # what `koom run` has in memory

    db = Database(_url(database))
    services = Services(db=db, settings=Settings(_env_file=None, DATABASE_URL=db.url))  # type: ignore[call-arg]
    async with db.read() as conn:  # the pool's connection open, as in a running bot
        await conn.execute(select(1))
    rss_before = _rss_mb()
    peak_before = _peak_rss_mb()
    started = time.perf_counter()
    queued = await services.reminders.sweep()
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = await services.reminders.sweep()
    second = time.perf_counter() - started
    await db.dispose()
    return {
        "tick_s": first,
        "queued": queued,
        "idle_tick_s": second,
        "queued_again": again,
        "rss_before_mb": rss_before,
        "peak_before_mb": peak_before,
        "peak_rss_mb": _peak_rss_mb(),
    }


async def check(database: Path) -> tuple[int, int]:
    """(delivery rows written, reminder rows still due)."""
    db = Database(_url(database))
    async with db.read() as conn:
        rows = (await conn.execute(select(func.count()).select_from(deliveries))).scalar_one()
        still_due = (
            await conn.execute(
                select(func.count()).where(reminders.c.next_due_at <= datetime.now(UTC))
            )
        ).scalar_one()
    await db.dispose()
    return rows, still_due


async def main(count: int, due: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "reminders.db"
        built = await build(database, count, due)
        print(
            f"built {count:,} members, pledges and reminders ({due:,} due) in {built:.1f} s; "
            f"builder's peak RSS {_peak_rss_mb():.0f} MB",
            flush=True,
        )
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.reminders",
            "--sweep",
            str(database),
            env=os.environ | {"PYTHONPATH": str(Path.cwd())},
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"the sweep process failed ({child.returncode})")
        result = json.loads(out.decode().strip().splitlines()[-1])
        rows, still_due = await check(database)
    print(
        f"one tick: {result['tick_s'] * 1000:.0f} ms, {result['queued']:.0f} reminders queued "
        f"(target < 1 s); next tick, nothing due: {result['idle_tick_s'] * 1000:.1f} ms"
    )
    print(
        f"sweep process: RSS {result['rss_before_mb']:.0f} MB before the tick, peak "
        f"{result['peak_rss_mb']:.0f} MB (target < 300 MB)"
    )
    print(f"delivery rows {rows}, reminders still due {still_due}")
    print(
        f"members={count} due={due} tick_ms={result['tick_s'] * 1000:.0f} "
        f"queued={result['queued']:.0f} idle_tick_ms={result['idle_tick_s'] * 1000:.1f} "
        f"rss_before_mb={result['rss_before_mb']:.0f} peak_rss_mb={result['peak_rss_mb']:.0f} "
        f"delivery_rows={rows} still_due={still_due}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--sweep", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sweep is not None:
        print(json.dumps(asyncio.run(sweep(args.sweep))))
    else:
        asyncio.run(main(args.members, args.due))
