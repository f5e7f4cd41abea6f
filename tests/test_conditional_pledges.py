"""Conditional pledges count nowhere while they wait, turn into real pledges exactly when their
condition first holds (right after the pledge that makes it hold), cascade when conditions of
every scope depend on each other without counting anyone twice, and the person hears it once
(SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, update

from conversations.announcements import announcement_replies
from conversations.flows.cards import card_text
from conversations.testing import ChatHarness, choices
from core.db.tables import deliveries, members
from core.delivery.protocol import Notice
from core.errors import Conflict, Invalid
from core.i18n import Translator
from core.identity import AccountRef, ChatRef, Platform
from core.models import ConditionScope, Location, Member
from core.services import Services
from core.services.conditional import CONDITIONAL_KIND
from core.services.organisations import Actor, OrganisationKind, Role
from core.services.pledges import PLEDGE, PledgeRequest
from tests.factories import member, open_challenge

ADMIN = Actor.administrator()
VILLEURBANNE = Location("Villeurbanne", None, None, "fr:69266")


async def people(services: Services, *names: str) -> list[Member]:
    return [await member(services, name, "telegram") for name in names]


def request(services: Services, member_id: int, challenge_id: int) -> PledgeRequest:
    """A pledge written by the unit alone, as if the process died before what follows it."""
    return PledgeRequest(member_id, challenge_id, None, services.clock.now())


async def count(services: Services, challenge_id: int) -> int:
    return (await services.challenges.get(challenge_id)).pledge_count


async def messages(services: Services) -> dict[int, int]:
    async with services.db.read() as conn:
        rows = await conn.execute(
            select(deliveries.c.member_id, func.count())
            .where(deliveries.c.kind == CONDITIONAL_KIND)
            .group_by(deliveries.c.member_id)
        )
        return {r[0]: r[1] for r in rows}


async def test_activates_exactly_when_the_condition_first_holds(services: Services) -> None:
    challenge = await open_challenge(services, goal=100, tiers=())
    waiter, *others = await people(services, "w", "1", "2", "3")
    assert (
        await services.conditional.make(waiter.id, challenge.id, ConditionScope.CHALLENGE, 3) == []
    )
    assert await count(services, challenge.id) == 0  # waiting counts nowhere
    for other in others[:2]:
        await services.pledges.pledge(other.id, challenge.id)
        assert await services.conditional.sweep() == []
    assert await services.pledges.get(waiter.id, challenge.id) is None
    assert await messages(services) == {}

    # The third pledge activates the waiter before it returns: no sweep needed.
    result = await services.pledges.pledge(others[2].id, challenge.id)
    assert result.count == 3
    assert await services.pledges.get(waiter.id, challenge.id) is not None
    assert await count(services, challenge.id) == 4
    assert await messages(services) == {waiter.id: 1}
    assert await services.conditional.sweep() == []
    assert await count(services, challenge.id) == 4
    assert await messages(services) == {waiter.id: 1}
    [reply] = await announcement_replies(
        services, [Notice(CONDITIONAL_KIND, challenge.id, "en", {})]
    )
    assert "your pledge to “Challenge tri-lyon” now counts" in reply.text  # type: ignore[attr-defined]


async def test_dependent_conditions_cascade_counting_each_once(services: Services) -> None:
    challenge = await open_challenge(services, goal=100, tiers=())
    a, b, c, d, e, x, y = await people(services, "a", "b", "c", "d", "e", "x", "y")
    # a and b each wait for the other (2 in all); c needs 4, which only a and b bring; d needs
    # 5, which c brings; e needs 10 and stays waiting.
    for who, threshold in ((a, 2), (b, 2), (c, 4), (d, 5), (e, 10)):
        assert (
            await services.conditional.make(
                who.id, challenge.id, ConditionScope.CHALLENGE, threshold
            )
            == []
        )
    await services.pledges.pledge(x.id, challenge.id)
    assert await services.conditional.sweep() == []
    assert (await services.conditional.waiting(challenge.id)).count == 5

    await services.pledges.pledge(y.id, challenge.id)  # the whole cascade runs at once
    assert await services.conditional.sweep() == []
    assert await count(services, challenge.id) == 6  # x, y, a, b, c, d: no one twice
    waiting = await services.conditional.waiting(challenge.id)
    assert waiting.count == 1
    assert waiting.nearest is not None and waiting.nearest.missing == 4
    assert await messages(services) == {who.id: 1 for who in (a, b, c, d)}
    assert await services.pledges.get(e.id, challenge.id) is None


async def test_concurrent_activations_count_each_member_once(services: Services) -> None:
    challenge = await open_challenge(services, goal=100, tiers=())
    waiters = await people(services, *[f"w{i}" for i in range(6)])
    for i, who in enumerate(waiters):
        await services.conditional.make(who.id, challenge.id, ConditionScope.CHALLENGE, 1 + i)
    [starter] = await people(services, "s")
    await services.db.transaction(PLEDGE, request(services, starter.id, challenge.id))
    results = await asyncio.gather(*(services.conditional.activate(challenge.id) for _ in range(3)))
    assert sorted(m for found in results for m in found) == sorted(w.id for w in waiters)
    assert await count(services, challenge.id) == 7
    assert await messages(services) == {w.id: 1 for w in waiters}


async def test_area_conditions_count_the_commune(services: Services) -> None:
    challenge = await open_challenge(services, goal=100, tiers=())
    waiter, near1, near2, far = await people(services, "w", "n1", "n2", "f")
    for who in (waiter, near1, near2):
        await services.members.set_location(who.id, VILLEURBANNE)
    await services.members.set_location(far.id, Location("Paris", None, None, "fr:75056"))
    await services.conditional.make(waiter.id, challenge.id, ConditionScope.AREA, 2)
    await services.pledges.pledge(near1.id, challenge.id)
    await services.pledges.pledge(far.id, challenge.id)
    waiting = await services.conditional.waiting(challenge.id)
    assert waiting.count == 1 and waiting.nearest is not None
    assert (waiting.nearest.label, waiting.nearest.missing) == ("Villeurbanne", 1)
    assert await services.conditional.sweep() == []  # 2 in all, but 1 in Villeurbanne

    await services.pledges.pledge(near2.id, challenge.id)
    assert await services.pledges.get(waiter.id, challenge.id) is not None
    assert (await services.conditional.waiting(challenge.id)).count == 0


async def test_a_pledge_without_its_mark_is_repaired_once(services: Services) -> None:
    challenge = await open_challenge(services, goal=100, tiers=())
    waiter, other = await people(services, "w", "o")
    await services.conditional.make(waiter.id, challenge.id, ConditionScope.CHALLENGE, 2)
    await services.db.transaction(PLEDGE, request(services, other.id, challenge.id))
    # A crash right after the waiter's pledge committed, before its mark.
    await services.db.transaction(PLEDGE, request(services, waiter.id, challenge.id))
    assert await messages(services) == {}
    assert await services.conditional.sweep() == [waiter.id]
    assert await count(services, challenge.id) == 2
    assert await messages(services) == {waiter.id: 1}


async def test_refusals_change_nothing(services: Services) -> None:
    challenge = await open_challenge(services, goal=100, tiers=())
    who, pledged = await people(services, "w", "p")
    with pytest.raises(Invalid):
        await services.conditional.make(who.id, challenge.id, ConditionScope.CHALLENGE, 0)
    with pytest.raises(Invalid):  # no commune to count
        await services.conditional.make(who.id, challenge.id, ConditionScope.AREA, 3)
    await services.pledges.pledge(pledged.id, challenge.id)
    with pytest.raises(Conflict):
        await services.conditional.make(pledged.id, challenge.id, ConditionScope.CHALLENGE, 3)
    # An erased person's waiting condition never turns into a pledge.
    await services.conditional.make(who.id, challenge.id, ConditionScope.CHALLENGE, 2)
    await services.db.transaction(
        lambda conn: conn.execute(
            update(members).where(members.c.id == who.id).values(erased_at=services.clock.now())
        )
    )
    [other] = await people(services, "o")
    await services.pledges.pledge(other.id, challenge.id)
    assert await services.conditional.sweep() == []
    assert await count(services, challenge.id) == 2  # the two real pledges only


async def test_pledge_if_in_the_chat_and_on_the_card(services: Services) -> None:
    challenge = await open_challenge(services, slug="tri-lyon", goal=100, tiers=())
    harness = ChatHarness(services)
    alice = harness.person("telegram:42", name="Alice", lang="en")
    await alice.command("/start")
    found = await services.members.find(AccountRef.parse("telegram:42"))
    assert found is not None
    await services.members.set_location(found.id, VILLEURBANNE)

    await alice.command("/pledgeif tri-lyon")
    assert "how many people must be in" in alice.last_texts()[0]
    await alice.text("lots")
    assert "whole number" in alice.last_texts()[0]
    await alice.text("2")
    await alice.press("In Villeurbanne")
    assert "once 2 people of Villeurbanne are in" in alice.all_text()
    assert await count(services, challenge.id) == 0

    card = card_text(Translator("en"), await services.progress.of(challenge.id))
    assert "⏳ 1 conditional pledge waits for its condition." in card
    assert "2 more pledges in Villeurbanne unlock the nearest." in card
    french = card_text(Translator("fr"), await services.progress.of(challenge.id))
    assert "2 engagements de plus à Villeurbanne débloquent le plus proche." in french

    for neighbour in await people(services, "n1", "n2"):
        await services.members.set_location(neighbour.id, VILLEURBANNE)
        await services.pledges.pledge(neighbour.id, challenge.id)
    assert await services.pledges.get(found.id, challenge.id) is not None
    assert await count(services, challenge.id) == 3
    assert await messages(services) == {found.id: 1}
    card = card_text(Translator("en"), await services.progress.of(challenge.id))
    assert "conditional" not in card


async def in_group(services: Services, chat_id: str, *who: Member) -> int:
    """A registered Telegram group where `who` were seen acting; its id."""
    chat = ChatRef(Platform.TELEGRAM, chat_id, is_group=True)
    group = await services.groups.register(chat, f"Group {chat_id}")
    for someone in who:
        await services.groups.seen(chat, someone.id)
    return group.id


async def organisation_of(services: Services, slug: str, *who: Member) -> int:
    """An organisation whose people are `who` (the first its owner); its id."""
    owner, *rest = who
    made = await services.organisations.create(
        ADMIN, slug, slug.title(), OrganisationKind.COMPANY, owner.id
    )
    for someone in rest:
        await services.organisations.set_role(ADMIN, made.id, someone.id, Role.ORGANISER)
    return made.id


async def test_group_conditions_count_the_pledgers_seen_in_the_group(services: Services) -> None:
    challenge = await open_challenge(services, goal=100, tiers=())
    waiter, g1, g2, outsider = await people(services, "w", "g1", "g2", "out")
    group = await in_group(services, "-100", waiter, g1, g2)
    with pytest.raises(Invalid):  # only a group one takes part in
        await services.conditional.make(
            outsider.id, challenge.id, ConditionScope.GROUP, 1, key=group
        )
    await services.conditional.make(waiter.id, challenge.id, ConditionScope.GROUP, 2, key=group)
    await services.pledges.pledge(g1.id, challenge.id)
    await services.pledges.pledge(outsider.id, challenge.id)  # 2 in all, 1 in the group
    waiting = await services.conditional.waiting(challenge.id)
    assert waiting.nearest is not None
    assert (waiting.nearest.label, waiting.nearest.missing) == ("Group -100", 1)
    assert await services.pledges.get(waiter.id, challenge.id) is None
    card = card_text(Translator("en"), await services.progress.of(challenge.id))
    assert "1 more pledge among Group -100 unlocks the nearest." in card

    await services.pledges.withdraw(g1.id, challenge.id)  # only active pledges count
    await services.pledges.pledge(g2.id, challenge.id)
    assert await services.pledges.get(waiter.id, challenge.id) is None
    await services.pledges.pledge(g1.id, challenge.id)
    assert await services.pledges.get(waiter.id, challenge.id) is not None
    assert await count(services, challenge.id) == 4
    assert await messages(services) == {waiter.id: 1}


async def test_organisation_conditions_count_its_people(services: Services) -> None:
    challenge = await open_challenge(services, goal=100, tiers=())
    boss, staff, waiter, stranger = await people(services, "boss", "staff", "w", "x")
    acme = await organisation_of(services, "acme", boss, staff, waiter)
    other = await organisation_of(services, "other", stranger)
    with pytest.raises(Invalid):  # not one of the waiter's organisations
        await services.conditional.make(
            waiter.id, challenge.id, ConditionScope.ORGANISATION, 1, key=other
        )
    await services.conditional.make(
        waiter.id, challenge.id, ConditionScope.ORGANISATION, 2, key=acme
    )
    await services.pledges.pledge(stranger.id, challenge.id)
    await services.pledges.pledge(boss.id, challenge.id)
    assert await services.pledges.get(waiter.id, challenge.id) is None
    await services.pledges.pledge(staff.id, challenge.id)
    assert await services.pledges.get(waiter.id, challenge.id) is not None
    assert await count(services, challenge.id) == 4
    assert await messages(services) == {waiter.id: 1}


async def test_conditions_of_every_scope_cascade_counting_each_once(services: Services) -> None:
    challenge = await open_challenge(services, goal=100, tiers=())
    a, b, c, d, e, f, starter = await people(services, "a", "b", "c", "d", "e", "f", "s")
    for who in (b, c, starter):
        await services.members.set_location(who.id, VILLEURBANNE)
    group = await in_group(services, "-7", a, b, d)
    acme = await organisation_of(services, "acme", c, d, e)
    # The group is a, b, d; Villeurbanne b, c and the starter; Acme c, d, e (and m later).
    conditions = (
        (a, ConditionScope.GROUP, 2, group),
        (b, ConditionScope.AREA, 2, None),
        (c, ConditionScope.CHALLENGE, 3, None),
        (d, ConditionScope.ORGANISATION, 3, acme),
        (e, ConditionScope.ORGANISATION, 2, acme),
        (f, ConditionScope.CHALLENGE, 8, None),
    )
    for who, scope, threshold, key in conditions:
        assert await services.conditional.make(who.id, challenge.id, scope, threshold, key) == []
    assert await count(services, challenge.id) == 0

    await services.pledges.pledge(starter.id, challenge.id)  # Villeurbanne 1: nothing yet
    assert await count(services, challenge.id) == 1
    [neighbour] = await people(services, "n")
    await services.members.set_location(neighbour.id, VILLEURBANNE)
    # Villeurbanne 2: b; then 3 in all: c. Acme has 1 (c), the group 1 (b): the rest waits.
    await services.pledges.pledge(neighbour.id, challenge.id)
    assert await count(services, challenge.id) == 4
    assert await messages(services) == {b.id: 1, c.id: 1}

    # One more of Acme: e (2 of Acme), then d (3), then a (the group's b and d), then f (8).
    [member_of_acme] = await people(services, "m")
    await services.organisations.set_role(ADMIN, acme, member_of_acme.id, Role.ORGANISER)
    await services.pledges.pledge(member_of_acme.id, challenge.id)
    activated = {a.id, b.id, c.id, d.id, e.id, f.id}
    assert await count(services, challenge.id) == 9  # starter, n, m and the six: once each
    assert await messages(services) == {who: 1 for who in activated}
    assert (await services.conditional.waiting(challenge.id)).count == 0
    assert await services.conditional.sweep() == []
    assert await count(services, challenge.id) == 9


async def test_pledge_if_offers_my_groups_and_organisations(services: Services) -> None:
    challenge = await open_challenge(services, slug="tri-lyon", goal=100, tiers=())
    harness = ChatHarness(services)
    room = ChatRef(Platform.TELEGRAM, "-500", is_group=True, title="Team Lyon")
    bob_in_group = harness.person("telegram:7", name="Bob", lang="en", chat=room)
    await bob_in_group.command("/following")  # registers the group, and Bob in it
    bob = harness.person("telegram:7", name="Bob", lang="en")
    found = await services.members.find(AccountRef.parse("telegram:7"))
    assert found is not None
    await organisation_of(services, "acme", found)

    await bob.command("/pledgeif tri-lyon")
    await bob.text("2")
    labels = [c.label for c in choices(bob.last_replies())]
    assert labels == ["In all", "In the group Team Lyon", "In Acme"]
    await bob.press("In the group Team Lyon")
    assert "once 2 people of Team Lyon are in" in bob.all_text()
    [other] = await people(services, "o")
    await services.groups.seen(room, other.id)
    await services.pledges.pledge(other.id, challenge.id)
    assert await services.pledges.get(found.id, challenge.id) is None  # 1 of 2


async def test_joining_a_group_activates_at_once_and_cascades(services: Services) -> None:
    """A pledger first seen in a group completes its condition in the unit that notes them:
    no sweep, and what that activation completes (a condition in all) follows."""
    challenge = await open_challenge(services, goal=100, tiers=())
    waiter, member_, newcomer, later = await people(services, "w", "g", "n", "l")
    room = ChatRef(Platform.TELEGRAM, "-900", is_group=True)
    group = await in_group(services, "-900", waiter, member_)
    await services.conditional.make(waiter.id, challenge.id, ConditionScope.GROUP, 2, key=group)
    await services.conditional.make(later.id, challenge.id, ConditionScope.CHALLENGE, 3)
    await services.pledges.pledge(member_.id, challenge.id)
    await services.pledges.pledge(newcomer.id, challenge.id)  # 2 in all, 1 in the group
    assert await count(services, challenge.id) == 2 and await messages(services) == {}

    await services.groups.seen(room, newcomer.id)  # the group's second pledger
    assert await services.pledges.get(waiter.id, challenge.id) is not None
    assert await services.pledges.get(later.id, challenge.id) is not None  # 3 in all now
    assert await count(services, challenge.id) == 4
    assert await messages(services) == {waiter.id: 1, later.id: 1}
    assert await services.conditional.sweep() == []
    assert await count(services, challenge.id) == 4


async def test_joining_without_a_pledge_or_a_waiting_condition_activates_nothing(
    services: Services,
) -> None:
    challenge = await open_challenge(services, goal=100, tiers=())
    waiter, member_, idle, outsider = await people(services, "w", "g", "i", "o")
    group = await in_group(services, "-901", waiter, member_)
    await services.conditional.make(waiter.id, challenge.id, ConditionScope.GROUP, 2, key=group)
    await services.pledges.pledge(member_.id, challenge.id)
    await services.pledges.pledge(outsider.id, challenge.id)
    await services.groups.seen(ChatRef(Platform.TELEGRAM, "-901", is_group=True), idle.id)
    await in_group(services, "-902", outsider)  # another group: not the condition's
    assert await services.pledges.get(waiter.id, challenge.id) is None
    assert await count(services, challenge.id) == 2 and await messages(services) == {}


async def test_joining_an_organisation_activates_at_once(services: Services) -> None:
    """Every way in (a members' code, a staff code, being made staff) activates the
    conditions the newcomer's pledge completes, before the join returns."""
    challenge = await open_challenge(services, goal=100, tiers=())
    boss, waiter, fan, staff, added = await people(services, "boss", "w", "fan", "st", "ad")
    acme = await organisation_of(services, "acme", boss, waiter)
    await services.conditional.make(
        waiter.id, challenge.id, ConditionScope.ORGANISATION, 1, key=acme
    )
    await services.conditional.make(boss.id, challenge.id, ConditionScope.ORGANISATION, 3, key=acme)
    for who in (fan, staff, added):
        await services.pledges.pledge(who.id, challenge.id)
    assert await count(services, challenge.id) == 3 and await messages(services) == {}

    members_code = await services.organisations.invite(ADMIN, acme, Role.MEMBER)
    await services.organisations.join(fan.id, members_code)  # Acme's first pledger
    assert await services.pledges.get(waiter.id, challenge.id) is not None
    assert await services.pledges.get(boss.id, challenge.id) is None  # 2 of 3
    assert await messages(services) == {waiter.id: 1}
    await services.organisations.join(fan.id, members_code)  # again: nothing new
    staff_code = await services.organisations.invite(ADMIN, acme, Role.ORGANISER)
    await services.organisations.join(staff.id, staff_code)  # fan, waiter, staff: the boss
    assert await services.pledges.get(boss.id, challenge.id) is not None
    assert await messages(services) == {waiter.id: 1, boss.id: 1}
    await services.organisations.set_role(ADMIN, acme, added.id, Role.ORGANISER)
    assert await count(services, challenge.id) == 5  # fan, staff, added, waiter, boss
    assert await services.conditional.sweep() == []
    assert await messages(services) == {waiter.id: 1, boss.id: 1}


async def test_joining_by_code_in_the_chat_activates_and_says_so_once(services: Services) -> None:
    """`/org join CODE` and the invitation link `/start join_CODE`: the waiting person is
    told in their own language, once."""
    challenge = await open_challenge(services, slug="tri-lyon", goal=100, tiers=())
    boss, waiter = await people(services, "boss", "w")
    await services.members.update(waiter.id, language="en")
    acme = await organisation_of(services, "acme", boss, waiter)
    await services.conditional.make(
        waiter.id, challenge.id, ConditionScope.ORGANISATION, 2, key=acme
    )
    code = await services.organisations.invite(ADMIN, acme, Role.MEMBER)
    harness = ChatHarness(services)
    first = harness.person("telegram:501", name="First", lang="fr")
    second = harness.person("telegram:502", name="Second", lang="en")
    for name, lang in (("501", "fr"), ("502", "en")):
        pledger = await member(services, name, "telegram")
        await services.members.update(pledger.id, language=lang)
        await services.pledges.pledge(pledger.id, challenge.id)
    await first.command(f"/org join {code}")
    assert await services.pledges.get(waiter.id, challenge.id) is None  # 1 of 2
    await second.command(f"/start join_{code}")
    assert "Acme" in second.all_text()
    assert await services.pledges.get(waiter.id, challenge.id) is not None
    assert await messages(services) == {waiter.id: 1}
    async with services.db.read() as conn:
        [locale] = (
            await conn.execute(
                select(deliveries.c.locale).where(deliveries.c.kind == CONDITIONAL_KIND)
            )
        ).scalars()
    assert locale == "en"


async def test_concurrent_joins_activate_each_condition_once(services: Services) -> None:
    challenge = await open_challenge(services, goal=100, tiers=())
    boss, *waiters = await people(services, "boss", "w1", "w2", "w3")
    acme = await organisation_of(services, "acme", boss, *waiters)
    for i, who in enumerate(waiters):
        await services.conditional.make(
            who.id, challenge.id, ConditionScope.ORGANISATION, 1 + i, key=acme
        )
    newcomers = await people(services, "n1", "n2", "n3", "n4")
    for who in newcomers:
        await services.pledges.pledge(who.id, challenge.id)
    code = await services.organisations.invite(ADMIN, acme, Role.MEMBER)
    await asyncio.gather(*(services.organisations.join(who.id, code) for who in newcomers))
    assert await count(services, challenge.id) == 7
    assert await messages(services) == {who.id: 1 for who in waiters}
    assert await services.conditional.sweep() == []
