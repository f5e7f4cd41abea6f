"""Creating, validating, publishing, editing and closing challenges; tiers and promises kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from core.clock import FakeClock
from core.drafts import ChallengeDraft, TierDraft, slugify
from core.errors import Conflict, Invalid
from core.models import ChallengeStatus, EventKind
from core.services import Services
from tests.factories import events_for, member, open_challenge


def draft(services: Services, **changes: object) -> ChallengeDraft:
    values: dict[str, object] = {
        "title": "Trier mes déchets à Lyon",
        "action": "trier mes déchets",
        "goal": 1000,
        "deadline": services.clock.now() + timedelta(days=30),
        "tiers": [{"threshold": 500, "sponsor": "Acme", "reward": "1 000 €"}],
    }
    values.update(changes)
    return ChallengeDraft.model_validate(values)


async def test_create_draft_then_publish(services: Services) -> None:
    created = await services.challenges.create(draft(services))
    assert created.slug == "trier-mes-dechets-a-lyon"
    assert created.status == ChallengeStatus.DRAFT
    assert [t.threshold for t in created.tiers] == [500]
    assert await services.challenges.list_open() == []
    published = await services.challenges.publish(created.id)
    assert published.status == ChallengeStatus.OPEN
    assert [c.slug for c in await services.challenges.list_open()] == [created.slug]
    with pytest.raises(Conflict):
        await services.challenges.publish(created.id)


@pytest.mark.parametrize(
    "bad",
    [
        {"goal": 0},
        {"goal": -5},
        {"title": "x" * 121},
        {"description": "x" * 4001},
        {"tiers": [{"threshold": 0, "sponsor": "A", "reward": "B"}]},
        {"tiers": [{"threshold": 5, "sponsor": "A", "reward": "B"}] * 2},
        {"slug": "Not A Slug"},
        {"unknown": 1},
    ],
)
def test_draft_validation(services: Services, bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        draft(services, **bad)


async def test_deadline_in_the_past_and_taken_slug(services: Services) -> None:
    with pytest.raises(Invalid) as past:
        await services.challenges.create(
            draft(services, deadline=services.clock.now() - timedelta(days=1))
        )
    assert past.value.key == "error.deadline_past"
    await services.challenges.create(draft(services))
    with pytest.raises(Conflict) as taken:
        await services.challenges.create(draft(services))
    assert taken.value.key == "error.slug_taken"


def test_slugify_keeps_ascii_and_length() -> None:
    assert slugify("Éteindre la lumière — 2 000 foyers !") == "eteindre-la-lumiere-2-000-foyers"
    assert len(slugify("a" * 100)) == 40


async def test_edit_close_and_nothing_after_close(services: Services) -> None:
    challenge = await open_challenge(services)
    edited = await services.challenges.edit(challenge.id, title="  New title ")
    assert edited.title == "New title"
    with pytest.raises(Invalid):
        await services.challenges.edit(challenge.id, goal="3")
    with pytest.raises(Invalid):
        await services.challenges.edit(
            challenge.id, deadline=services.clock.now() - timedelta(hours=1)
        )
    closed = await services.challenges.close(challenge.id)
    assert closed.status == ChallengeStatus.CLOSED
    with pytest.raises(Conflict):
        await services.challenges.edit(challenge.id, title="Again")


async def test_stretch_tier_after_success_and_promise_kept(services: Services) -> None:
    challenge = await open_challenge(services, goal=2, tiers=((1, "Acme", "€100"),))
    for name in ("a", "b"):
        await services.pledges.pledge((await member(services, name)).id, challenge.id)
    assert (await services.challenges.get(challenge.id)).status == ChallengeStatus.SUCCEEDED
    with pytest.raises(Invalid):
        await services.challenges.add_tier(
            challenge.id, TierDraft(threshold=2, sponsor="City", reward="trees")
        )
    stretched = await services.challenges.add_tier(
        challenge.id, TierDraft(threshold=3, sponsor="City", reward="50 trees")
    )
    assert [t.threshold for t in stretched.tiers] == [1, 3]
    result = await services.pledges.pledge((await member(services, "c")).id, challenge.id)
    assert [e.kind for e in result.events] == [EventKind.TIER_UNLOCKED]

    tier = stretched.tiers[0]
    with pytest.raises(Invalid):
        await services.challenges.record_promise_kept(tier.id, "   ")
    kept = await services.challenges.record_promise_kept(tier.id, "Receipt #42")
    assert kept.kept_at is not None and kept.proof == "Receipt #42"
    with pytest.raises(Conflict):
        await services.challenges.record_promise_kept(tier.id, "again")
    async with services.db.read() as conn:
        found = [
            e for e in await events_for(conn, challenge.id) if e.kind == EventKind.PROMISE_KEPT
        ]
    assert len(found) == 1 and found[0].payload["proof"] == "Receipt #42"


async def test_promise_cannot_be_kept_before_unlock(services: Services) -> None:
    challenge = await open_challenge(services)
    with pytest.raises(Conflict):
        await services.challenges.record_promise_kept(challenge.tiers[0].id, "too early")


async def test_progress_numbers(services: Services) -> None:
    challenge = await open_challenge(services, goal=8, tiers=((4, "Acme", "€1,000"),), impact=2.5)
    alice = await member(services, "alice")
    await services.pledges.pledge(alice.id, challenge.id)
    await services.checkins.check_in(alice.id, challenge.id)
    progress = await services.progress.of(challenge.id)
    assert (progress.count, progress.percent, progress.days_left) == (1, 12, 30)
    assert progress.next_tier is not None and progress.next_tier.threshold == 4
    assert progress.collective_impact == 2.5
    assert progress.near == () and progress.area is None


async def test_expiry_expires_every_due_challenge_at_once_and_no_other(
    services: Services, clock: FakeClock
) -> None:
    soon = await open_challenge(services, slug="soon", days=1)
    sooner = await open_challenge(services, slug="sooner", days=1)
    later = await open_challenge(services, slug="later", days=3)
    clock.advance(timedelta(days=1, seconds=1))
    expired = await services.challenges.expire_due()
    assert [(c.id, c.status) for c in expired] == [
        (soon.id, ChallengeStatus.EXPIRED),
        (sooner.id, ChallengeStatus.EXPIRED),
    ]
    assert expired[0].tiers == soon.tiers  # whole challenges, tiers included
    assert (await services.challenges.get(later.id)).status == ChallengeStatus.OPEN
    async with services.db.read() as conn:
        for challenge in (soon, sooner, later):
            found = [e.kind for e in await events_for(conn, challenge.id)]
            assert found == ([] if challenge is later else [EventKind.EXPIRED])


async def test_an_area_goal_below_the_minimum_count_is_refused(services: Services) -> None:
    """Whatever creates it (import, chat), a goal per area under KOOM_MAP_MIN_COUNT (3 here)
    would announce "Villeurbanne reaches its own goal: 1/1" publicly."""
    assert services.settings.map_min_count == 3
    with pytest.raises(Invalid) as refused:
        await services.challenges.create(draft(services, slug="tiny", area_goal=1))
    assert refused.value.key == "error.area_goal_below_minimum"
    assert refused.value.params == {"minimum": 3}
    assert await services.challenges.list_open(0, 10) == []
    created = await services.challenges.create(draft(services, slug="fine", area_goal=3))
    assert created.slug == "fine"
