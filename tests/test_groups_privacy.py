"""Groups that follow challenges; linking accounts; exporting and forgetting a member."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.db.tables import deliveries, groups
from core.delivery.fanout import fan_out
from core.errors import Invalid
from core.identity import AccountRef, ChatRef, Platform
from core.models import Location
from core.services import Services
from core.services.linking import LINK_REQUEST_KIND, LinkRequest
from tests.factories import member, open_challenge


async def test_follow_unfollow_and_migrate(services: Services) -> None:
    challenge = await open_challenge(services)
    chat = ChatRef(Platform.TELEGRAM, "-100", is_group=True)
    group = await services.groups.register(chat, "Lyon Zéro Déchet", "fr")
    assert await services.groups.register(chat, "Renamed", "fr") == group.__class__(
        group.id, "telegram", "-100", "Renamed", "fr"
    )
    assert await services.groups.follow(group.id, challenge.id)
    assert not await services.groups.follow(group.id, challenge.id)
    for pledger in ("1", "2"):  # 25 %: an announcement is queued for the group
        await services.pledges.pledge((await member(services, pledger)).id, challenge.id)
    assert await fan_out(services) > 0
    moved = await services.groups.migrate(chat, "-100200")
    async with services.db.read() as conn:
        queued = (
            await conn.execute(select(deliveries.c.chat_id).where(deliveries.c.is_group))
        ).scalars()
        assert set(queued) == {"-100200"}  # what was queued follows the group
    assert [g.chat_id for g in await services.groups.followers(challenge.id)] == ["-100200"]
    assert [c.id for c in await services.groups.followed_by(moved.id)] == [challenge.id]
    assert await services.groups.unfollow(moved.id, challenge.id)
    assert await services.groups.followers(challenge.id) == []


async def test_link_code_merges_accounts_and_pledges_once_the_owner_confirms(
    services: Services,
) -> None:
    challenge = await open_challenge(services)
    other = await open_challenge(services, slug="velo")
    tg = await member(services, "42", "telegram")
    dc = await member(services, "77", "discord")
    await services.pledges.pledge(tg.id, challenge.id)
    await services.pledges.pledge(dc.id, challenge.id)  # the same person, twice
    await services.pledges.pledge(dc.id, other.id)
    code = await services.links.create_code(tg.id)
    with pytest.raises(Invalid):
        await services.links.request(AccountRef.parse("discord:77"), "WRONG")
    with pytest.raises(Invalid):  # one's own code
        await services.links.request(AccountRef.parse("telegram:42"), code)
    await services.links.request(AccountRef.parse("discord:77"), code.lower())

    # nothing joined yet: the owner is asked, on their own account, with buttons
    assert [str(a) for a in await services.members.accounts_of(tg.id)] == ["telegram:42"]
    assert await services.links.pending(tg.id) == LinkRequest(code, "discord:77")
    async with services.db.read() as conn:
        asked = (
            await conn.execute(
                select(deliveries.c.chat_id, deliveries.c.kind, deliveries.c.payload).where(
                    deliveries.c.kind == LINK_REQUEST_KIND
                )
            )
        ).all()
    assert [(a.chat_id, a.payload["account"]) for a in asked] == [("42", "discord:77")]
    with pytest.raises(Invalid):  # claimed: nobody else may claim it meanwhile
        await services.links.request(AccountRef.parse("console:x"), code)
    with pytest.raises(Invalid):  # only the owner confirms
        await services.links.confirm(dc.id, code)

    merged = await services.links.confirm(tg.id, code)
    assert merged.id == tg.id
    assert {str(a) for a in await services.members.accounts_of(tg.id)} == {
        "telegram:42",
        "discord:77",
    }
    assert (await services.challenges.get(challenge.id)).pledge_count == 1
    assert {c.slug for _, c in await services.pledges.of_member(tg.id)} == {"tri-lyon", "velo"}
    with pytest.raises(Invalid):  # a code works once
        await services.links.confirm(tg.id, code)


async def test_a_refused_link_joins_nothing(services: Services) -> None:
    owner = await member(services, "42", "telegram")
    stranger = await member(services, "66", "discord")
    code = await services.links.create_code(owner.id)
    await services.links.request(AccountRef.parse("discord:66"), code)
    await services.links.refuse(stranger.id, code)  # not theirs to refuse: no effect
    assert await services.links.pending(owner.id) is not None
    await services.links.refuse(owner.id, code)
    assert await services.links.pending(owner.id) is None
    assert [str(a) for a in await services.members.accounts_of(owner.id)] == ["telegram:42"]
    with pytest.raises(Invalid):
        await services.links.confirm(owner.id, code)


async def test_export_and_forget_keep_anonymous_counts(services: Services) -> None:
    challenge = await open_challenge(services)
    alice = await member(services, "alice")
    await services.members.set_location(alice.id, Location("Lyon", 45.76, 4.84))
    await services.pledges.pledge(alice.id, challenge.id)
    await services.checkins.check_in(alice.id, challenge.id)
    data = await services.privacy.export(alice.id)
    assert data["member"]["location_name"] == "Lyon"
    assert [(a["platform"], a["external_id"]) for a in data["accounts"]] == [("console", "alice")]
    assert [p["challenge"] for p in data["pledges"]] == ["tri-lyon"]
    assert len(data["checkins"]) == 1

    await services.privacy.forget(alice.id)
    assert await services.members.find(AccountRef.parse("console:alice")) is None
    erased = await services.members.get(alice.id)
    assert erased.location is None and erased.display_name == "-"
    assert (await services.challenges.get(challenge.id)).pledge_count == 1
    again = await member(services, "alice")
    assert again.id != alice.id


async def test_reachability_of_accounts_and_groups(services: Services) -> None:
    account = AccountRef.parse("telegram:5")
    await services.members.ensure(account, "Eve")
    assert await services.members.is_reachable(account)
    await services.members.set_reachable(account, False)
    assert not await services.members.is_reachable(account)
    await services.members.set_reachable(account, True)
    assert await services.members.is_reachable(account)
    assert not await services.members.is_reachable(AccountRef.parse("telegram:6"))

    chat = ChatRef(Platform.TELEGRAM, "-7", is_group=True)
    await services.groups.register(chat, "G")
    await services.groups.set_reachable(chat, False)
    async with services.db.read() as conn:
        gone = (await conn.execute(select(groups.c.unreachable_at))).scalar_one()
    assert gone is not None
    await services.groups.register(chat, "G again")  # the bot was added back
    async with services.db.read() as conn:
        back = (await conn.execute(select(groups.c.unreachable_at))).scalar_one()
    assert back is None


async def test_an_update_is_processed_once(services: Services, clock) -> None:
    assert await services.updates.first_time("telegram", "1001")
    assert not await services.updates.first_time("telegram", "1001")
    assert await services.updates.first_time("discord", "1001")
    clock.advance(timedelta(days=3))
    assert (await services.retention.purge()).updates == 2
    assert await services.updates.first_time("telegram", "1001")
