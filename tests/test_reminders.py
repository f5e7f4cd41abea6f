"""The member reminder sweep: due rows become one delivery each, at the member's local time,
never inside quiet hours, across daylight saving, after downtime, exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core.clock import FakeClock
from core.db.tables import deliveries
from core.delivery.worker import DeliveryWorker
from core.identity import Platform
from core.models import Frequency, Member
from core.services import Services
from tests.factories import member, open_challenge
from tests.test_delivery import FakeDeliverer

PARIS_WINTER = timedelta(hours=1)


async def _pledger(
    services: Services,
    *,
    hour: int = 18,
    frequency: Frequency = Frequency.DAILY,
    quiet: tuple[int, int] | None = None,
    name: str = "alice",
) -> tuple[Member, int]:
    """A Telegram member pledged to a challenge, reminded daily at `hour` (Paris time)."""
    challenge = await open_challenge(services, slug=f"c-{name}", frequency=frequency, days=400)
    alice = await member(services, name, "telegram")
    changes: dict[str, object] = {"reminder": "daily", "reminder_hour": hour}
    if quiet is not None:
        changes.update(quiet_start=quiet[0], quiet_end=quiet[1])
    await services.members.update(alice.id, **changes)
    await services.pledges.pledge(alice.id, challenge.id)
    await services.reminders.schedule(alice.id, challenge.id)
    return alice, challenge.id


async def _queued(services: Services) -> list[str]:
    """The due moments (UTC, ISO) of every queued reminder, oldest first."""
    async with services.db.read() as conn:
        rows = await conn.execute(
            select(deliveries.c.payload)
            .where(deliveries.c.kind == "reminder")
            .order_by(deliveries.c.id)
        )
        return [r.payload["due"] for r in rows]


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def test_a_daily_reminder_comes_once_at_the_local_hour(
    services: Services, clock: FakeClock
) -> None:
    alice, challenge_id = await _pledger(services, hour=18)
    due = await services.reminders.due_at(alice.id, challenge_id)
    assert due == _utc(2026, 3, 10, 17, 0)  # 18:00 in Paris, winter time

    clock.set(due - timedelta(minutes=1))
    assert await services.reminders.sweep() == 0
    clock.set(due)
    assert await services.reminders.sweep() == 1
    assert await services.reminders.sweep() == 0
    assert await _queued(services) == [due.isoformat()]
    assert await services.reminders.due_at(alice.id, challenge_id) == due + timedelta(days=1)

    async with services.db.read() as conn:
        row = (await conn.execute(select(deliveries))).one()
    assert (row.platform, row.chat_id, row.member_id) == ("telegram", "alice", alice.id)
    assert row.priority < 10  # before announcements and broadcasts


async def test_daylight_saving_changes_neither_skip_nor_double(
    services: Services, clock: FakeClock
) -> None:
    # 02:30 does not exist on 29 March in Paris and happens twice on 25 October.
    alice, _ = await _pledger(services, hour=2, quiet=(0, 0))
    await services.members.update(alice.id, reminder_minute=30)
    for start in (_utc(2026, 3, 27, 12), _utc(2026, 10, 23, 12)):
        clock.set(start)
        await services.members.update(alice.id, reminder_minute=30)  # reschedule from here
        days = set()
        for _ in range(4 * 24 * 4):  # four days, swept every quarter of an hour
            clock.advance(timedelta(minutes=15))
            await services.reminders.sweep()
        for due in await _queued(services):
            moment = datetime.fromisoformat(due)
            if moment >= start:
                days.add(moment.date())
        assert len(days) == 4
    queued = await _queued(services)
    assert len(queued) == len(set(queued)) == 8
    assert "2026-03-29T01:00:00+00:00" in queued  # 03:00 CEST, the first minute after the gap
    assert "2026-10-25T00:30:00+00:00" in queued  # the first 02:30 (CEST), not the second
    assert "2026-10-25T01:30:00+00:00" not in queued


async def test_quiet_hours_move_a_reminder_to_their_end(services: Services) -> None:
    alice, challenge_id = await _pledger(services, hour=22)  # default quiet: 21:00-08:00
    due = await services.reminders.due_at(alice.id, challenge_id)
    assert due == _utc(2026, 3, 11, 7, 0)  # 08:00 in Paris the next morning
    await services.members.update(alice.id, quiet_start=23 * 60, quiet_end=7 * 60)
    assert await services.reminders.due_at(alice.id, challenge_id) == _utc(2026, 3, 10, 21, 0)


async def test_after_a_short_downtime_the_missed_reminder_is_sent_once(
    services: Services, clock: FakeClock
) -> None:
    alice, challenge_id = await _pledger(services, hour=18)
    clock.set(_utc(2026, 3, 10, 18, 30))  # down from 17:00 to 18:30 UTC
    assert await services.reminders.sweep() == 1
    assert await _queued(services) == ["2026-03-10T17:00:00+00:00"]
    assert await services.reminders.due_at(alice.id, challenge_id) == _utc(2026, 3, 11, 17, 0)


async def test_after_a_long_downtime_only_a_still_relevant_reminder_is_sent(
    services: Services, clock: FakeClock
) -> None:
    await _pledger(services, hour=18)
    clock.set(_utc(2026, 3, 12, 18, 0))  # down two days: the 10th and 11th are stale
    assert await services.reminders.sweep() == 1
    assert await _queued(services) == ["2026-03-12T17:00:00+00:00"]
    clock.set(_utc(2026, 3, 15, 12, 0))  # down again: the 14th's was missed by 20 hours
    assert await services.reminders.sweep() == 0


async def test_no_reminder_once_done_today_or_after_withdrawing(
    services: Services, clock: FakeClock
) -> None:
    alice, challenge_id = await _pledger(services, hour=18)
    clock.set(_utc(2026, 3, 10, 12, 0))
    await services.checkins.check_in(alice.id, challenge_id)
    clock.set(_utc(2026, 3, 10, 17, 0))
    assert await services.reminders.sweep() == 0  # done today already
    await services.pledges.withdraw(alice.id, challenge_id)
    clock.set(_utc(2026, 3, 11, 17, 0))
    assert await services.reminders.sweep() == 0
    assert await services.reminders.due_at(alice.id, challenge_id) is None


async def test_weekly_challenges_remind_on_the_chosen_day(services: Services) -> None:
    alice, challenge_id = await _pledger(services, hour=18, frequency=Frequency.WEEKLY)
    await services.members.update(alice.id, reminder_weekday=4)  # Friday
    assert await services.reminders.due_at(alice.id, challenge_id) == _utc(2026, 3, 13, 17, 0)


async def test_switching_reminders_off_and_on_again(services: Services) -> None:
    alice, challenge_id = await _pledger(services, hour=18)
    await services.members.update(alice.id, reminder="none")
    assert await services.reminders.due_at(alice.id, challenge_id) is None
    await services.members.update(alice.id, reminder="daily", reminder_hour=9)
    assert await services.reminders.due_at(alice.id, challenge_id) == _utc(2026, 3, 11, 8, 0)


async def test_snooze_and_pause(services: Services, clock: FakeClock) -> None:
    alice, challenge_id = await _pledger(services, hour=18)
    clock.set(_utc(2026, 3, 10, 17, 0))
    await services.reminders.sweep()
    back = await services.reminders.snooze(alice.id, challenge_id, hours=1)
    assert back == _utc(2026, 3, 10, 18, 0)
    clock.set(back)
    assert await services.reminders.sweep() == 1
    tomorrow = await services.reminders.snooze(alice.id, challenge_id, tomorrow=True)
    assert tomorrow == _utc(2026, 3, 11, 17, 0)
    late = await services.reminders.snooze(alice.id, challenge_id, hours=3)
    assert late == _utc(2026, 3, 11, 7, 0)  # 21:00 is quiet: the end of the quiet hours
    await services.reminders.pause(alice.id, challenge_id)
    assert await services.reminders.is_paused(alice.id, challenge_id)
    clock.advance(timedelta(days=3))
    assert await services.reminders.sweep() == 0
    await services.reminders.schedule(alice.id, challenge_id)
    assert not await services.reminders.is_paused(alice.id, challenge_id)


async def test_concurrent_sweeps_queue_each_reminder_once(
    services: Services, clock: FakeClock
) -> None:
    for name in ("alice", "bob", "carol", "dan"):
        await _pledger(services, hour=18, name=name)
    clock.set(_utc(2026, 3, 10, 17, 0))
    results = await asyncio.gather(*(services.reminders.sweep() for _ in range(5)))
    assert sum(results) == 4
    assert len(await _queued(services)) == 4


async def test_stop_silences_reminders_and_restart_brings_them_back(
    services: Services, clock: FakeClock
) -> None:
    alice, challenge_id = await _pledger(services, hour=18)
    await services.members.stop(alice.id)
    clock.set(_utc(2026, 3, 10, 17, 0))
    assert await services.reminders.sweep() == 0  # stopped: nothing queued, nothing planned
    assert await services.reminders.due_at(alice.id, challenge_id) is None
    restarted = await services.members.restart(alice.id)
    assert await services.reminders.due_at(alice.id, challenge_id) == _utc(2026, 3, 11, 17, 0)
    assert not restarted.news_opt_out and not restarted.stopped
    clock.set(_utc(2026, 3, 11, 17, 0))
    assert await services.reminders.sweep() == 1


async def test_an_unreachable_member_is_not_queued_but_moves_on(
    services: Services, clock: FakeClock
) -> None:
    alice, challenge_id = await _pledger(services, hour=18)
    accounts = await services.members.accounts_of(alice.id)
    await services.members.set_reachable(accounts[0], False)
    clock.set(_utc(2026, 3, 10, 17, 0))
    assert await services.reminders.sweep() == 0
    assert await services.reminders.due_at(alice.id, challenge_id) == _utc(2026, 3, 11, 17, 0)


async def test_a_queued_reminder_survives_a_news_opt_out_but_not_a_pause(
    services: Services, clock: FakeClock
) -> None:
    telegram = FakeDeliverer(Platform.TELEGRAM)
    worker = DeliveryWorker(services, {Platform.TELEGRAM: telegram})
    alice, challenge_id = await _pledger(services, hour=18)
    bob, bob_challenge = await _pledger(services, hour=18, name="bob")
    clock.set(_utc(2026, 3, 10, 17, 0))
    assert await services.reminders.sweep() == 2
    await services.members.update(alice.id, news_opt_out=True)  # news, not reminders
    await services.reminders.pause(bob.id, bob_challenge)

    assert await worker.run_once() == 1
    [(chat, [notice])] = telegram.calls
    assert (chat.chat_id, notice.kind, notice.challenge_id) == ("alice", "reminder", challenge_id)


async def test_news_switched_back_on_takes_back_a_stop(services: Services) -> None:
    alice, challenge_id = await _pledger(services, hour=18)
    await services.members.stop(alice.id)
    back = await services.members.update(alice.id, news_opt_out=False)
    assert not back.stopped
    assert await services.reminders.due_at(alice.id, challenge_id) == _utc(2026, 3, 10, 17, 0)
