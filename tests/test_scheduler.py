"""The scheduler's sweeps run on their own and expire challenges past their deadline."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.clock import FakeClock
from core.models import ChallengeStatus
from core.scheduler import build_scheduler
from core.services import Services
from tests.factories import open_challenge


async def test_the_expiry_sweep_runs_at_start(services: Services, clock: FakeClock) -> None:
    challenge = await open_challenge(services, days=1)
    clock.advance(timedelta(days=2))
    scheduler = build_scheduler(services)
    scheduler.start()
    assert {job.id for job in scheduler.get_jobs()} == {
        "expire-challenges",
        "member-reminders",
        "challenge-reminders",
        "launch-broadcasts",
        "referral-feedback",
        "tell-sponsors",
        "activate-conditional",
        "purge",
    }
    try:
        for _ in range(100):  # the first run is due now; wait for it without a fixed delay
            if (await services.challenges.get(challenge.id)).status == ChallengeStatus.EXPIRED:
                break
            await asyncio.sleep(0.02)
    finally:
        scheduler.shutdown(wait=False)
    assert (await services.challenges.get(challenge.id)).status == ChallengeStatus.EXPIRED
