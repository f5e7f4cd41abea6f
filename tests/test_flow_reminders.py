"""A reminder as the member reads it, and its one-tap answers through the real engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conversations.announcements import announcement_replies
from conversations.model import Choice, Message
from conversations.testing import ChatHarness, Person, choices
from core.clock import FakeClock
from core.delivery.protocol import Notice
from core.drafts import ChallengeDraft
from core.identity import AccountRef
from core.models import Challenge, ChallengeStatus, Frequency, Member
from core.services import Services
from tests.factories import open_challenge


async def _reminded(
    services: Services, person: Person, frequency: Frequency = Frequency.DAILY
) -> tuple[Challenge, Member, list[Choice]]:
    """`person` pledged, with daily reminders at 18:00; the buttons of their reminder."""
    challenge = await open_challenge(services, frequency=frequency)
    found = await services.members.ensure(AccountRef.parse(person.account), person.name)
    found = await services.members.update(found.id, reminder="daily", reminder_hour=18)
    await services.pledges.pledge(found.id, challenge.id)
    await services.reminders.schedule(found.id, challenge.id)
    notice = Notice("reminder", challenge.id, person.lang, {})
    [reminder] = await announcement_replies(services, [notice])
    assert isinstance(reminder, Message)
    assert challenge.action in reminder.text
    return challenge, found, choices([reminder])


def _button(offered: list[Choice], label: str) -> str:
    return next(c.id for c in offered if label in c.label)


async def test_done_records_the_check_in(services: Services) -> None:
    harness = ChatHarness(services)
    alice = harness.alice
    challenge, found, offered = await _reminded(services, alice)
    labels = [c.label for c in offered]
    assert labels == ["✅ Fait", "Pas encore", "⏰ Dans 1 h", "⏰ Demain", "⏸ Pause"]

    await alice.press_id(_button(offered, "Fait"))  # never offered in a session: unsolicited

    assert "Bravo" in alice.all_text() or "👏" in alice.all_text()
    pledge = await services.pledges.get(found.id, challenge.id)
    assert pledge is not None and pledge.checkin_total == 1
    await alice.press_id(_button(offered, "Fait"))
    pledge = await services.pledges.get(found.id, challenge.id)
    assert pledge is not None and pledge.checkin_total == 1  # once a day
    assert "déjà" in alice.last_texts()[0]


async def test_snooze_pause_and_resume(services: Services, clock: FakeClock) -> None:
    harness = ChatHarness(services)
    bob = harness.person("console:bob", lang="en")
    challenge, found, offered = await _reminded(services, bob)

    await bob.press_id(_button(offered, "1 h"))
    assert await services.reminders.due_at(found.id, challenge.id) == datetime(
        2026, 3, 10, 10, 0, tzinfo=UTC
    )
    assert "Tue, March 10, 11:00" in bob.last_texts()[0]  # on Bob's clock (Paris)

    await bob.press_id(_button(offered, "Tomorrow"))
    assert "Wed, March 11, 6:00" in bob.last_texts()[0]

    await bob.press_id(_button(offered, "Pause"))
    assert await services.reminders.is_paused(found.id, challenge.id)
    await bob.press("Resume")
    assert not await services.reminders.is_paused(found.id, challenge.id)
    assert "March 10, 6:00" in bob.last_texts()[0]

    await bob.press_id(_button(offered, "Not yet"))
    assert challenge.action in bob.last_texts()[0]


async def test_not_yet_on_a_one_off_action_reminds_tomorrow(services: Services) -> None:
    harness = ChatHarness(services)
    challenge, found, offered = await _reminded(services, harness.alice, Frequency.ONCE)
    await harness.alice.press_id(_button(offered, "Pas encore"))
    assert await services.reminders.due_at(found.id, challenge.id) == datetime(
        2026, 3, 11, 17, 0, tzinfo=UTC
    )


async def test_someone_elses_reminder_buttons_change_nothing_for_them(
    services: Services,
) -> None:
    harness = ChatHarness(services)
    challenge, found, offered = await _reminded(services, harness.alice)
    mallory = harness.person("console:mallory", lang="en")

    await mallory.press_id(_button(offered, "Pause"))
    await mallory.press_id(_button(offered, "Fait"))

    assert not await services.reminders.is_paused(found.id, challenge.id)
    pledge = await services.pledges.get(found.id, challenge.id)
    assert pledge is not None and pledge.checkin_total == 0
    assert "pledge" in mallory.last_texts()[0].lower()
    forged = offered[0].id.replace(str(challenge.id), "9999")
    await harness.alice.press_id(forged)
    assert harness.alice.last_texts()  # a clear answer, no crash


async def test_forged_reminder_buttons_reveal_nothing_without_an_active_pledge(
    services: Services,
) -> None:
    """A reminder button made up for a challenge one never pledged (a draft here) or has
    withdrawn from neither reveals its action nor changes anything."""
    harness = ChatHarness(services)
    mallory = harness.person("console:mallory", lang="en")
    draft = await services.challenges.create(
        ChallengeDraft(
            slug="secret-plan",
            title="Secret plan",
            action="the unannounced secret action",
            goal=10,
            deadline=services.clock.now() + timedelta(days=30),
            frequency=Frequency.DAILY,
        )
    )
    assert draft.status is ChallengeStatus.DRAFT
    me = await services.members.ensure(AccountRef.parse(mallory.account), "Mallory")
    for action, *args in (["notyet"], ["snooze", "1h"], ["snooze", "tmr"], ["pause"], ["done"]):
        await mallory.press_id(":".join(["remind", action, str(draft.id), *args]))
        assert "secret action" not in mallory.all_text()
        assert "Secret plan" not in mallory.all_text()
        assert await services.reminders.due_at(me.id, draft.id) is None
        assert await services.pledges.get(me.id, draft.id) is None

    # withdrawn: the buttons of an old reminder no longer act
    challenge, found, offered = await _reminded(services, harness.person("console:zed"))
    await services.pledges.withdraw(found.id, challenge.id)
    zed = harness.person("console:zed")
    due = await services.reminders.due_at(found.id, challenge.id)
    await zed.press_id(_button(offered, "Pas encore"))
    assert challenge.action not in zed.last_texts()[0]
    await zed.press_id(_button(offered, "Demain"))
    assert await services.reminders.due_at(found.id, challenge.id) == due
