"""Pledges, counters, milestones exactly once, and the outbox rows they write."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, update

from core.db.tables import area_counts, challenges, milestones, outbox
from core.errors import Conflict, NotFound
from core.models import ChallengeStatus, ConditionScope, EventKind, Location
from core.services import Services
from tests.factories import events_for, member, open_challenge


async def kinds(services: Services, challenge_id: int) -> list[tuple[str, object]]:
    async with services.db.read() as conn:
        found = await events_for(conn, challenge_id)
    return [(e.kind.value, e.payload.get("percent") or e.payload.get("threshold")) for e in found]


async def test_pledge_counts_once_and_twice_is_harmless(services: Services) -> None:
    challenge = await open_challenge(services)
    alice = await member(services, "alice")
    first = await services.pledges.pledge(alice.id, challenge.id)
    again = await services.pledges.pledge(alice.id, challenge.id)
    assert first.created and first.count == 1
    assert not again.created and again.count == 1
    assert (await services.challenges.get(challenge.id)).pledge_count == 1


async def test_milestones_tiers_and_success_are_written_once(services: Services) -> None:
    challenge = await open_challenge(
        services, goal=8, tiers=((4, "Acme", "€1,000"), (6, "City", "trees"))
    )
    people = [await member(services, f"p{i}") for i in range(9)]
    results = [await services.pledges.pledge(p.id, challenge.id) for p in people]
    # 25% at 2, 50% and tier 4 at 4, 75% at 6 with tier 6, 100% and success at 8.
    assert [r.count for r in results if r.events] == [2, 4, 6, 8]
    assert await kinds(services, challenge.id) == [
        ("milestone", 25),
        ("milestone", 50),
        ("tier_unlocked", 4),
        ("milestone", 75),
        ("tier_unlocked", 6),
        ("milestone", 100),
        ("succeeded", None),
    ]
    updated = await services.challenges.get(challenge.id)
    assert updated.status == ChallengeStatus.SUCCEEDED
    assert all(t.unlocked_at is not None for t in updated.tiers)


async def test_withdraw_and_repledge_never_repeats_a_milestone(services: Services) -> None:
    challenge = await open_challenge(services, goal=8, tiers=((2, "Acme", "€500"),))
    alice, bob = await member(services, "alice"), await member(services, "bob")
    await services.pledges.pledge(alice.id, challenge.id)
    crossing = await services.pledges.pledge(bob.id, challenge.id)
    assert {e.kind for e in crossing.events} == {EventKind.MILESTONE, EventKind.TIER_UNLOCKED}
    assert await services.pledges.withdraw(bob.id, challenge.id) == 1
    again = await services.pledges.pledge(bob.id, challenge.id)
    assert again.created and again.count == 2 and again.events == ()
    assert len(await kinds(services, challenge.id)) == 2


async def test_fifty_concurrent_pledges_cross_a_tier_exactly_once(services: Services) -> None:
    challenge = await open_challenge(services, goal=100, tiers=((25, "Acme", "€1,000"),))
    people = [await member(services, f"m{i}") for i in range(50)]
    results = await asyncio.gather(*(services.pledges.pledge(p.id, challenge.id) for p in people))
    assert sorted(r.count for r in results) == list(range(1, 51))
    tier_events = [e for r in results for e in r.events if e.kind == EventKind.TIER_UNLOCKED]
    assert len(tier_events) == 1
    async with services.db.read() as conn:
        rows = (
            await conn.execute(select(outbox.c.kind, func.count()).group_by(outbox.c.kind))
        ).all()
        reached = (await conn.execute(select(func.count()).select_from(milestones))).scalar_one()
    assert dict(rows) == {"milestone": 2, "tier_unlocked": 1}  # 25 % (=25 pledges) and 50 %
    assert reached == 3
    assert (await services.challenges.get(challenge.id)).pledge_count == 50


async def test_the_same_member_pledging_concurrently_counts_once(services: Services) -> None:
    challenge = await open_challenge(services)
    alice = await member(services, "alice")
    results = await asyncio.gather(
        *(services.pledges.pledge(alice.id, challenge.id) for _ in range(5))
    )
    assert sum(r.created for r in results) == 1
    assert (await services.challenges.get(challenge.id)).pledge_count == 1


async def test_withdraw_refused_after_success_and_for_non_pledgers(services: Services) -> None:
    challenge = await open_challenge(services, goal=1, tiers=())
    alice, bob = await member(services, "alice"), await member(services, "bob")
    with pytest.raises(NotFound):
        await services.pledges.withdraw(alice.id, challenge.id)
    await services.pledges.pledge(alice.id, challenge.id)
    with pytest.raises(Conflict):
        await services.pledges.withdraw(alice.id, challenge.id)
    # A succeeded challenge still welcomes pledges.
    assert (await services.pledges.pledge(bob.id, challenge.id)).count == 2


async def test_pledge_refused_on_draft_expired_and_unknown(services: Services, clock) -> None:
    challenge = await open_challenge(services, days=1)
    alice = await member(services, "alice")
    with pytest.raises(NotFound):
        await services.pledges.pledge(alice.id, 9999)
    clock.advance(timedelta(days=2))
    with pytest.raises(Conflict):
        await services.pledges.pledge(alice.id, challenge.id)
    assert (await services.challenges.get(challenge.id)).pledge_count == 0


async def test_area_counts_follow_pledges_and_withdrawals(services: Services) -> None:
    challenge = await open_challenge(services)
    lyon = Location("Lyon", 45.76, 4.84)
    for name in ("a", "b", "c"):
        m = await member(services, name)
        await services.members.set_location(m.id, lyon)
        await services.pledges.pledge(m.id, challenge.id)
    await services.pledges.withdraw((await member(services, "c")).id, challenge.id)
    async with services.db.read() as conn:
        row = (await conn.execute(select(area_counts))).one()
    assert (row.area_key, row.label, row.pledgers) == ("lyon", "Lyon", 2)
    viewer = await services.members.get((await member(services, "a")).id)
    progress = await services.progress.of(challenge.id, viewer)
    assert (progress.count, progress.near) == (2, ())  # 2: under the minimum count, not shown


async def test_expiry_writes_one_event(services: Services, clock) -> None:
    challenge = await open_challenge(services, days=1)
    clock.advance(timedelta(days=1, seconds=1))
    expired = await services.challenges.expire_due()
    assert [c.status for c in expired] == [ChallengeStatus.EXPIRED]
    assert await services.challenges.expire_due() == []
    assert await kinds(services, challenge.id) == [("expired", None)]


async def test_an_unknown_referrer_is_not_credited(services: Services) -> None:
    challenge = await open_challenge(services)
    alice, bob = await member(services, "alice"), await member(services, "bob")
    assert (await services.pledges.pledge(alice.id, challenge.id, referrer_id=424242)).created
    credited = await services.pledges.pledge(bob.id, challenge.id, referrer_id=alice.id)
    own = await services.pledges.get(alice.id, challenge.id)
    assert own is not None and own.referrer_id is None
    assert credited.pledge.referrer_id == alice.id


async def test_a_batch_of_pledges_crosses_each_threshold_at_its_exact_count(
    services: Services,
) -> None:
    challenge = await open_challenge(services, goal=40, tiers=((15, "Acme", "€1,000"),))
    async with services.db.write() as conn:
        await conn.execute(
            update(challenges).where(challenges.c.id == challenge.id).values(area_goal=7)
        )
    people = [await member(services, f"m{i}") for i in range(30)]
    lyon, bron = Location("Lyon", 45.76, 4.84), Location("Bron", 45.74, 4.91)
    for i, person in enumerate(people):
        await services.members.set_location(person.id, lyon if i % 3 else bron)
    commits: list[int] = []
    event.listen(services.db.writer_engine, "commit", lambda _conn: commits.append(1))
    results = await asyncio.gather(*(services.pledges.pledge(p.id, challenge.id) for p in people))
    assert len(commits) < 10  # batches, not a transaction per pledge
    assert sorted(r.count for r in results) == list(range(1, 31))
    # Each event belongs to the pledge that crossed it and carries that pledge's count.
    crossed = {
        (e.kind.value, e.payload.get("percent") or e.payload.get("area")): r.count
        for r in results
        for e in r.events
    }
    assert crossed == {
        ("milestone", 25): 10,
        ("tier_unlocked", None): 15,
        ("milestone", 50): 20,
        ("milestone", 75): 30,
        ("area_goal", "Lyon"): crossed[("area_goal", "Lyon")],
        ("area_goal", "Bron"): crossed[("area_goal", "Bron")],
    }
    for r in results:
        for e in r.events:
            assert e.payload["count"] == (7 if e.kind == EventKind.AREA_GOAL else r.count)
    async with services.db.read() as conn:
        areas = dict(
            (await conn.execute(select(area_counts.c.label, area_counts.c.pledgers))).all()
        )
        reached = (await conn.execute(select(func.count()).select_from(milestones))).scalar_one()
        outbox_rows = (await conn.execute(select(func.count()).select_from(outbox))).scalar_one()
    assert areas == {"Lyon": 20, "Bron": 10}
    assert reached == 4 and outbox_rows == 6
    assert (await services.challenges.get(challenge.id)).pledge_count == 30


async def test_in_one_batch_a_refused_pledge_leaves_the_others_counted(
    services: Services, clock
) -> None:
    open_one = await open_challenge(services, slug="open", days=30)
    closing = await open_challenge(services, slug="closing", days=1)
    people = [await member(services, f"m{i}") for i in range(6)]
    clock.advance(timedelta(days=2))  # `closing` is past its deadline now
    calls = [services.pledges.pledge(p.id, open_one.id) for p in people]
    calls += [
        services.pledges.pledge(people[0].id, closing.id),
        services.pledges.pledge(people[1].id, 4242),
        services.pledges.pledge(424242, open_one.id),
        services.pledges.pledge(people[2].id, open_one.id),  # twice in the same batch
    ]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert [r.count for r in outcomes[:6]] == [1, 2, 3, 4, 5, 6]  # in the order asked
    assert isinstance(outcomes[6], Conflict) and isinstance(outcomes[7], NotFound)
    assert isinstance(outcomes[8], NotFound) and outcomes[8].key == "error.member_not_found"
    assert not outcomes[9].created and outcomes[9].count == 6
    assert (await services.challenges.get(open_one.id)).pledge_count == 6
    assert (await services.challenges.get(closing.id)).pledge_count == 0


async def test_pledges_committed_together_share_the_check_that_follows_them(
    services: Services,
) -> None:
    challenge = await open_challenge(services, goal=100)
    waiter = await member(services, "waiter")
    await services.conditional.make(waiter.id, challenge.id, ConditionScope.CHALLENGE, 90)
    people = [await member(services, f"m{i}") for i in range(30)]
    seen: list[int] = []  # the count each check read, in the order they finished

    async def check(challenge_id: int) -> None:
        seen.append((await services.challenges.get(challenge_id)).pledge_count)

    services.pledges.after_pledge[:] = [check]

    async def pledge(person_id: int) -> None:
        result = await services.pledges.pledge(person_id, challenge.id)
        # Returned only after a check that saw this pledge.
        assert seen and max(seen) >= result.count

    await asyncio.gather(*(pledge(p.id) for p in people))
    assert len(seen) < 10  # one per batch, not one per pledge
    assert seen[-1] == 30


async def test_a_pledge_nobody_waits_on_is_followed_by_no_check(services: Services) -> None:
    challenge = await open_challenge(services, goal=100)
    alice, bob, waiter = [await member(services, n) for n in ("alice", "bob", "waiter")]
    checked: list[int] = []

    async def check(challenge_id: int) -> None:
        checked.append(challenge_id)

    services.pledges.after_pledge[:] = [check]
    assert not (await services.pledges.pledge(alice.id, challenge.id)).awaited
    assert checked == []  # no conditional pledge: no read after the commit
    await services.conditional.make(waiter.id, challenge.id, ConditionScope.CHALLENGE, 90)
    assert (await services.pledges.pledge(bob.id, challenge.id)).awaited
    assert checked == [challenge.id]
