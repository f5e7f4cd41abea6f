"""A broadcast survives the bot's death: `koom run`, in a process of its own, sends a broadcast
through the real Telegram adapter and delivery worker to the fake Bot API (Telegram's flood
limits enforced), is killed with SIGKILL half way, and is started again. Every member gets the
message; the only repeats allowed are the sends that were in flight at the kill (sent, not yet
marked in the database)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from core.db.database import Database
from core.db.migrate import upgrade
from core.delivery.worker import BATCH
from core.services import Services
from core.services.broadcasts import Audience
from core.settings import Settings
from tests.factories import add_members, open_challenge
from tests.fake_telegram import TOKEN, FakeTelegram, Person
from tests.instances import koom_env, koom_run, statuses

MEMBERS = 300
"""At Telegram's real pace (the worker keeps bulk sends to 24 a second) about 13 s of sends."""
FIRST_ID = 20_000
TEXT = "Grande collecte de vêtements dimanche : apportez ce qui dort dans vos placards."
WITHIN = 45.0
"""Seconds allowed to each phase (never a measure of speed)."""
POLL = 0.2


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="the OS has no SIGKILL")
async def test_a_broadcast_killed_half_way_is_finished_after_a_restart_repeating_only_in_flight(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    fake = FakeTelegram()
    await fake.start()
    fake.enforce_limits()  # Telegram's real limits, unscaled
    url = f"sqlite+aiosqlite:///{tmp_path / 'koom.db'}"
    db = Database(url)
    await upgrade(db)
    services = Services(db=db, settings=Settings(_env_file=None, DATABASE_URL=url))
    challenge = await open_challenge(services, slug="collecte-lyon")
    people = [Person(FIRST_ID + i, f"Member {i}", "fr") for i in range(MEMBERS)]
    ids = {p.id for p in people}
    fake.know(*people)
    await add_members(db, people)
    draft = await services.broadcasts.create(None, {Audience.MEMBERS}, TEXT, challenge.id)
    broadcast = await services.broadcasts.confirm(draft.id)  # the sweep launches it

    env = koom_env(url, TELEGRAM_TOKEN=TOKEN, TELEGRAM_BASE_URL=fake.base_url)

    def received() -> int:
        return sum(1 for send in fake.accepted if send.chat_id in ids)

    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    second: asyncio.subprocess.Process | None = None
    with first_log.open("wb") as log:
        first = await koom_run(env, tmp_path, log)
    try:
        try:
            await fake.wait_until(lambda: received() >= MEMBERS // 2, seconds=WITHIN)
        except TimeoutError:
            raise AssertionError(
                f"{received()} of {MEMBERS} received; the bot said:\n{first_log.read_text()}"
            ) from None
        os.kill(first.pid, signal.SIGKILL)
        at_kill = received()
        await asyncio.wait_for(first.wait(), WITHIN)
        await asyncio.sleep(0.5)  # a request already on its way still lands
        before = fake.received(ids)
        after_kill = await statuses(db, broadcast.id)
        assert len(after_kill) == MEMBERS
        # Sent, then killed before the row was marked: these rows are still pending.
        in_flight = [c for c, s in after_kill.items() if s == "pending" and int(c) in before]
        lost = [c for c, s in after_kill.items() if s == "sent" and int(c) not in before]
        assert lost == []

        with second_log.open("wb") as log:
            second = await koom_run(env, tmp_path, log)
        for _ in range(int(WITHIN / POLL)):
            if "pending" not in (await statuses(db, broadcast.id)).values():
                break
            await asyncio.sleep(POLL)
        await asyncio.sleep(1.0)  # for a late repeat to show
    finally:
        for child in (first, second):
            if child is not None and child.returncode is None:
                child.send_signal(signal.SIGINT)
        await asyncio.wait_for(first.wait(), WITHIN)
        if second is not None:
            await asyncio.wait_for(second.wait(), WITHIN)
        await fake.close()

    final = await statuses(db, broadcast.id)
    progress = await services.broadcasts.progress(broadcast.id)
    await db.dispose()

    counts = fake.received(ids)
    missing = [p.id for p in people if counts.get(p.id, 0) == 0]
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    print(
        f"received at the kill {at_kill}/{MEMBERS}, in flight {len(in_flight)}, "
        f"duplicates {duplicates}, 429s {len(fake.refused)}"
    )
    record_property("received_at_kill", at_kill)
    record_property("in_flight", len(in_flight))
    record_property("duplicates", duplicates)
    record_property("refused_429", len(fake.refused))

    assert set(final.values()) == {"sent"}, sorted(set(final.values()))
    assert missing == []
    assert all(TEXT in text for p in people for text in fake.texts(p.id))
    assert duplicates <= len(in_flight) <= BATCH
    assert {int(c) for c, n in counts.items() if n > 1} <= {int(c) for c in in_flight}
    assert fake.limit_violations() == {}
    assert (progress.sent, progress.remaining, progress.broadcast.status) == (MEMBERS, 0, "done")

    assert second is not None and second.returncode == 0, second_log.read_text()
    for path in (first_log, second_log):
        assert TOKEN not in path.read_text()
    assert "Traceback" not in second_log.read_text()
