"""A kill -9 during batches of pledges loses no pledge that was confirmed to anyone."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from core.db.tables import members, pledges
from core.services import Services
from tests.factories import open_challenge

ROOT = Path(__file__).resolve().parent.parent
MEMBERS = 3000
KILL_AFTER = 500
"""Confirmed pledges before the kill: batches are being written by then."""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="the OS has no SIGKILL")
async def test_a_kill_during_batches_loses_no_confirmed_pledge(services: Services) -> None:
    db = services.db
    challenge = await open_challenge(services, goal=MEMBERS * 2, tiers=())
    now = services.clock.now()
    async with db.write() as conn:
        await conn.execute(
            insert(members),
            [
                {"display_name": f"m{i}", "timezone": "UTC", "created_at": now}
                for i in range(MEMBERS)
            ],
        )
        first, last = (
            await conn.execute(select(func.min(members.c.id), func.max(members.c.id)))
        ).one()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.pledge_until_killed",
        db.url,
        json.dumps(db.engine_options),
        now.isoformat(),
        str(challenge.id),
        str(first),
        str(last),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    confirmed: list[int] = []
    async with asyncio.timeout(60):
        while len(confirmed) < KILL_AFTER:
            line = await child.stdout.readline()
            assert line, "the pledging process stopped on its own"
            confirmed.append(int(line))
        child.send_signal(signal.SIGKILL)
        confirmed += [int(line) for line in (await child.stdout.read()).split()]
        await child.wait()
    assert child.returncode == -signal.SIGKILL
    assert len(confirmed) < MEMBERS  # killed during the work, not after it
    async with db.read() as conn:
        stored = set(
            (
                await conn.execute(
                    select(pledges.c.member_id).where(pledges.c.challenge_id == challenge.id)
                )
            ).scalars()
        )
    assert set(confirmed) <= stored
    # Whatever committed is whole: the counter matches the pledges.
    assert (await services.challenges.get(challenge.id)).pledge_count == len(stored)
