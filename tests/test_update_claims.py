"""The shared log of platform updates: an update is claimed before it is handled, a copy in
flight elsewhere is not handled twice, and the claim of an instance that died mid-way is taken
over (at once when it ran on this host, else when its lease runs out)."""

from __future__ import annotations

import socket
import subprocess
from datetime import timedelta

from sqlalchemy import update

from core.clock import FakeClock
from core.db.tables import processed_updates
from core.services import Services
from core.services.updates import LEASE, Claim, UpdateLog


def _dead_instance() -> str:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return f"{socket.gethostname()[:40]}:{gone.pid}:0000"


async def test_an_update_is_claimed_once_and_skipped_once_done(services: Services) -> None:
    log = services.updates
    other = UpdateLog(services.db, services.clock)  # another instance on the same database
    assert await log.claim("telegram", "1:10", "7", 10) is Claim.NEW
    assert await other.claim("telegram", "1:10", "7", 10) is Claim.BUSY
    assert not await other.wait_done("telegram", "1:10", 0.1)
    await log.take_turn("telegram", "1:10")
    await log.done("telegram", "1:10")
    assert await other.wait_done("telegram", "1:10", 0.1)
    assert await other.claim("telegram", "1:10", "7", 10) is Claim.DONE
    assert not await other.first_time("telegram", "1:10")


async def test_a_claim_whose_instance_died_is_taken_over(
    services: Services, clock: FakeClock
) -> None:
    log, other = services.updates, UpdateLog(services.db, services.clock)
    assert await log.claim("telegram", "1:11", "7", 11) is Claim.NEW
    assert await other.claim("telegram", "1:11", "7", 11) is Claim.BUSY
    clock.advance(LEASE + timedelta(seconds=1))  # a host we cannot look into: the lease ends
    assert await other.claim("telegram", "1:11", "7", 11) is Claim.NEW

    assert await log.claim("telegram", "1:12", "7", 12) is Claim.NEW
    await services.db.transaction(
        lambda conn: conn.execute(
            update(processed_updates)
            .where(processed_updates.c.update_key == "1:12")
            .values(claimed_by=_dead_instance())
        )
    )
    # Killed on this host mid-way: Telegram's retry is handled at once, not after the lease.
    assert await other.claim("telegram", "1:12", "7", 12) is Claim.NEW
