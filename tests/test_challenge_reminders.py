"""Challenge reminders (deadline, weekly digest, organiser nudge), who hears each kind of event,
what they read, and the latest announcement for those who join later."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from conversations.announcements import announcement_replies
from conversations.model import Message
from core.clock import FakeClock
from core.db.tables import challenges, deliveries
from core.delivery.fanout import fan_out
from core.delivery.latest import send_latest
from core.delivery.protocol import Notice
from core.identity import ChatRef, Platform
from core.models import Challenge, EventKind
from core.services import Services
from core.services.challenge_reminders import digest_moment, forecast
from tests.factories import events_for, member, open_challenge


async def _kinds(services: Services, challenge_id: int) -> list[str]:
    async with services.db.read() as conn:
        return [e.kind.value for e in await events_for(conn, challenge_id)]


async def _rows(services: Services) -> Counter[tuple[str, str]]:
    """(kind, chat) of every delivery row."""
    async with services.db.read() as conn:
        rows = await conn.execute(select(deliveries.c.kind, deliveries.c.chat_id))
        return Counter((r.kind, r.chat_id) for r in rows)


async def _followed(services: Services, challenge: Challenge) -> None:
    """A Telegram group follows; a Telegram member pledges (goal 8, so no milestone yet)."""
    group = await services.groups.register(ChatRef(Platform.TELEGRAM, "-100", True), "Club")
    await services.groups.follow(group.id, challenge.id)
    alice = await member(services, "1", "telegram")
    await services.pledges.pledge(alice.id, challenge.id)


async def test_deadline_reminders_come_seven_days_and_one_day_before(
    services: Services, clock: FakeClock
) -> None:
    challenge = await open_challenge(services, goal=8, days=10)
    await _followed(services, challenge)
    clock.advance(timedelta(days=2))  # 8 days left
    await services.challenge_reminders.sweep()
    assert "deadline" not in await _kinds(services, challenge.id)
    clock.advance(timedelta(days=1, hours=1))  # 6 days 23 hours left
    await services.challenge_reminders.sweep()
    await services.challenge_reminders.sweep()
    clock.advance(timedelta(days=6))  # 23 hours left
    await services.challenge_reminders.sweep()
    async with services.db.read() as conn:
        deadline = [e for e in await events_for(conn, challenge.id) if e.kind.value == "deadline"]
    assert [e.payload["days"] for e in deadline] == [7, 1]

    await fan_out(services)
    rows = await _rows(services)
    assert rows[("deadline", "-100")] == 2 and rows[("deadline", "1")] == 2
    assert rows[("deadline", "999")] == 0  # organisers get the nudge, not the countdown


async def test_weekly_digest_to_groups_and_nudge_to_organisers(
    services: Services, clock: FakeClock
) -> None:
    creator = await member(services, "555", "telegram")
    challenge = await open_challenge(services, goal=100, days=30)
    async with services.db.write() as conn:
        await conn.execute(
            challenges.update().where(challenges.c.id == challenge.id).values(created_by=creator.id)
        )
    await _followed(services, challenge)
    monday = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)  # 09:00 in Paris
    clock.set(monday - timedelta(minutes=1))
    await services.challenge_reminders.sweep()
    assert "digest" not in await _kinds(services, challenge.id)
    clock.set(monday + timedelta(hours=2))
    await services.challenge_reminders.sweep()
    await services.challenge_reminders.sweep()
    assert sorted(await _kinds(services, challenge.id)) == ["digest", "nudge"]

    await fan_out(services)
    rows = await _rows(services)
    assert rows[("digest", "-100")] == 1 and rows[("digest", "1")] == 0  # groups only
    assert rows[("nudge", "999")] == 1 and rows[("nudge", "888")] == 1  # organisers
    assert rows[("nudge", "555")] == 1  # and the challenge's creator
    assert rows[("nudge", "-100")] == 0 and rows[("nudge", "1")] == 0

    clock.set(monday + timedelta(days=2))  # the same week: nothing new
    await services.challenge_reminders.sweep()
    assert len(await _kinds(services, challenge.id)) == 2


async def test_a_digest_missed_by_more_than_a_day_is_skipped(
    services: Services, clock: FakeClock
) -> None:
    challenge = await open_challenge(services, goal=100, days=30)
    clock.set(datetime(2026, 3, 17, 9, 0, tzinfo=UTC))  # Tuesday after the digest moment
    await services.challenge_reminders.sweep()
    assert "digest" not in await _kinds(services, challenge.id)


def test_forecast_at_the_current_pace() -> None:
    now = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
    on_track = forecast(week=70, count=50, goal=100, now=now, deadline=now + timedelta(days=10))
    assert on_track.forecast == 150
    assert on_track.reached_on == now + timedelta(days=5)
    behind = forecast(week=7, count=50, goal=100, now=now, deadline=now + timedelta(days=10))
    assert (behind.forecast, behind.reached_on, behind.needed_per_day) == (60, None, 5)
    stalled = forecast(week=0, count=10, goal=100, now=now, deadline=now + timedelta(hours=12))
    assert (stalled.forecast, stalled.needed_per_day) == (10, 90)


def test_digest_moment_is_monday_nine_local_time() -> None:
    tuesday = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)  # after the change to summer time
    assert digest_moment(tuesday, "Europe/Paris") == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    early_monday = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)
    assert digest_moment(early_monday, "Europe/Paris") == datetime(2026, 3, 23, 8, 0, tzinfo=UTC)


async def test_the_digest_and_nudge_read_well(services: Services) -> None:
    challenge = await open_challenge(services, goal=100)
    deadline = (services.clock.now() + timedelta(days=10)).isoformat()
    digest = Notice(
        EventKind.DIGEST,
        challenge.id,
        "fr",
        {"week": 7, "count": 50, "goal": 100, "forecast": 60, "deadline": deadline},
    )
    nudge = Notice(
        EventKind.NUDGE,
        challenge.id,
        "en",
        {"count": 50, "goal": 100, "forecast": 60, "deadline": deadline, "needed_per_day": 5},
    )
    [message] = await announcement_replies(services, [digest, nudge])
    assert isinstance(message, Message)
    assert "7 nouveaux engagements" in message.text
    assert "environ 60 engagements à l'échéance (20 mars 2026)" in message.text
    assert "5 new pledges a day" in message.text


async def test_joining_later_brings_the_latest_announcement_once(services: Services) -> None:
    challenge = await open_challenge(services, goal=8, tiers=())
    for name in ("1", "2"):  # the second pledge reaches 25 %
        pledger = await member(services, name, "telegram")
        await services.pledges.pledge(pledger.id, challenge.id)
    await fan_out(services)
    late = await member(services, "3", "discord")
    await services.pledges.pledge(late.id, challenge.id)
    assert await send_latest(services, challenge.id, member_id=late.id)
    assert not await send_latest(services, challenge.id, member_id=late.id)
    early = await member(services, "1", "telegram")
    assert not await send_latest(services, challenge.id, member_id=early.id)  # had it

    group = await services.groups.register(ChatRef(Platform.DISCORD, "555", True), "Club")
    assert await send_latest(services, challenge.id, group_id=group.id)
    rows = await _rows(services)
    assert rows[("milestone", "3")] == rows[("milestone", "555")] == rows[("milestone", "1")] == 1

    quiet = await open_challenge(services, slug="quiet", goal=100, tiers=())
    assert not await send_latest(services, quiet.id, group_id=group.id)  # nothing to tell yet


async def test_an_area_reaching_its_own_goal_is_announced_once_by_name(
    services: Services,
) -> None:
    from core.drafts import ChallengeDraft
    from core.models import ChallengeStatus, Location

    draft = ChallengeDraft(
        slug="velo-communes",
        title="Vélo dans nos communes",
        action="aller au travail à vélo",
        goal=100,
        area_goal=3,
        deadline=services.clock.now() + timedelta(days=30),
        status=ChallengeStatus.OPEN,
    )
    challenge = await services.challenges.create(draft)
    lyon = Location("Lyon", 45.76, 4.83, "fr:69123")
    for name in ("1", "2", "3", "4"):
        pledger = await member(services, name, "telegram")
        await services.members.set_location(pledger.id, lyon)
        await services.pledges.pledge(pledger.id, challenge.id)
    async with services.db.read() as conn:
        [reached] = [e for e in await events_for(conn, challenge.id) if e.kind.value == "area_goal"]
    assert reached.payload == {"area": "Lyon", "count": 3, "goal": 3}
    await fan_out(services)
    rows = await _rows(services)
    assert rows[("area_goal", "1")] == rows[("area_goal", "3")] == 1  # the pledgers hear it
    notice = Notice("area_goal", challenge.id, "fr", reached.payload)
    [message] = await announcement_replies(services, [notice])
    assert isinstance(message, Message)
    assert "Lyon atteint son propre objectif" in message.text and "3 / 3" in message.text


async def test_the_digest_says_where_this_weeks_pledges_come_from(
    services: Services, clock: FakeClock
) -> None:
    from core.models import Location

    challenge = await open_challenge(services, goal=100, days=30)
    lyon = Location("Lyon", 45.76, 4.83, "fr:69123")
    bron = Location("Bron", 45.74, 4.91, "fr:69029")
    people = (("1", lyon), ("2", lyon), ("3", lyon), ("4", bron), ("5", bron), ("6", bron))
    for name, place in people:
        pledger = await member(services, name, "telegram")
        await services.members.set_location(pledger.id, place)
        await services.pledges.pledge(pledger.id, challenge.id)
    clock.set(datetime(2026, 3, 16, 8, 30, tzinfo=UTC))
    await services.challenge_reminders.sweep()
    async with services.db.read() as conn:
        [digest] = [e for e in await events_for(conn, challenge.id) if e.kind.value == "digest"]
    assert digest.payload["areas"] == [["Bron", 3], ["Lyon", 3]]
    notice = Notice("digest", challenge.id, "fr", digest.payload)
    [message] = await announcement_replies(services, [notice])
    assert isinstance(message, Message) and "cette semaine : Bron +3 · Lyon +3" in message.text
