"""Forget-me and /mydata walk the schema: every row that refers to the member, in every
table, is exported with every column, then deleted, unlinked or anonymised. A new table or
column that refers to members fails these tests until it has its rule and its test data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from conversations.testing import ChatHarness
from core.db.tables import accounts, conversations, members
from core.delivery.fanout import fan_out
from core.identity import AccountRef, ChatRef, Platform
from core.models import ConditionScope, Location
from core.services import Services
from core.services.broadcasts import Audience
from core.services.organisations import Actor, OrganisationKind
from core.services.privacy import KEPT_MEMBER_COLUMNS, RULES, Forget, member_keys
from tests.factories import member, open_challenge
from tests.test_challenges import draft


def test_every_column_that_refers_to_a_member_has_a_rule() -> None:
    assert set(RULES) == {(table.name, column.name) for table, column in member_keys()}


async def _alice_everywhere(services: Services) -> tuple[int, list[tuple[str, str]]]:
    """Alice with a row in every table that refers to a member; her id and accounts."""
    harness = ChatHarness(services)
    alice = harness.person("telegram:41", name="Alice")  # the console gets no deliveries
    await alice.command("/settings")  # a conversation row
    found = await services.members.find(AccountRef.parse(alice.account))
    assert found is not None
    alice_id = found.id
    await services.members.update(
        alice_id, timezone="America/New_York", quiet_start=60, quiet_end=120, reminder="daily"
    )
    await services.members.set_location(alice_id, Location("Lyon", 45.76, 4.84, "fr:69123"))
    await services.links.create_code(alice_id)
    challenge = await open_challenge(services, goal=4)
    await services.pledges.pledge(alice_id, challenge.id)
    await services.checkins.check_in(alice_id, challenge.id)
    await services.reminders.schedule(alice_id, challenge.id)
    bob = await member(services, "bob")
    await services.pledges.pledge(bob.id, challenge.id, referrer_id=alice_id)  # 50 %
    assert await fan_out(services) > 0  # a delivery of the milestone to Alice
    await services.challenges.create(draft(services, slug="alices-own"), created_by=alice_id)
    await services.broadcasts.create(alice_id, {Audience.MEMBERS}, "Hello all")
    await services.organisations.create(
        Actor.administrator(), "alices-org", "Alice's", OrganisationKind.ASSOCIATION, alice_id
    )
    await services.sponsors.attach(Actor.administrator(), challenge.tiers[0].id, alice_id)
    later = await open_challenge(services, slug="later", goal=50)
    await services.conditional.make(alice_id, later.id, ConditionScope.CHALLENGE, 40)
    room = ChatRef(Platform.TELEGRAM, "-41", is_group=True)
    await services.groups.register(room, "Alice's group")
    await services.groups.seen(room, alice_id)  # a group she was seen in
    await services.members.stop(alice_id)
    return alice_id, [("telegram", "41")]


async def _referring(services: Services, member_id: int) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    async with services.db.read() as conn:
        for table, column in member_keys():
            rows = await conn.execute(select(table).where(column == member_id))
            found[f"{table.name}.{column.name}"] = [dict(r._mapping) for r in rows]
    return found


async def test_my_data_exports_every_column_of_every_row_that_refers_to_me(
    services: Services,
) -> None:
    alice_id, _ = await _alice_everywhere(services)
    data = await services.privacy.export(alice_id)

    assert set(data["member"]) == {column.name for column in members.columns}
    assert data["member"]["quiet_start"] == 60 and data["member"]["stopped_at"] is not None
    for table, column in member_keys():
        rule = RULES[(table.name, column.name)]
        exported = data[rule.section]
        assert exported, f"no test data in {table.name}.{column.name}: add some above"
        if rule.counted_only:
            assert exported == [{"challenge_id": exported[0]["challenge_id"], "count": 1}]
            continue
        for row in exported:
            assert set(row) - {"challenge"} == {c.name for c in table.columns}, table.name
            assert row[column.name] == alice_id
    assert data["conversations"] and set(data["conversations"][0]) == {
        c.name for c in conversations.columns
    }
    assert {c["account_id"] for c in data["conversations"]} == {"41"}
    referred = data["referred_pledges"]
    assert "member_id" not in referred[0]  # Bob's pledge is Bob's: only counted


async def test_forget_me_leaves_nothing_personal_in_any_table(services: Services) -> None:
    alice_id, alice_accounts = await _alice_everywhere(services)
    await services.privacy.forget(alice_id)

    left = await _referring(services, alice_id)
    for table, column in member_keys():
        rule = RULES[(table.name, column.name)]
        rows = left[f"{table.name}.{column.name}"]
        if rule.forget is Forget.ANONYMISE:
            assert rows, f"{table.name}: anonymous rows are kept for the counts"
            assert all(row[name] is None for row in rows for name in rule.cleared)
        else:
            assert rows == [], f"{table.name}.{column.name} still refers to the member"
    async with services.db.read() as conn:
        row = (await conn.execute(select(members).where(members.c.id == alice_id))).one()
        left_conversations = (
            await conn.execute(
                select(conversations).where(
                    conversations.c.account_id.in_([a for _, a in alice_accounts])
                )
            )
        ).all()
        left_accounts = (
            await conn.execute(select(accounts).where(accounts.c.member_id == alice_id))
        ).all()
    assert left_conversations == [] and left_accounts == []
    for column in members.columns:
        value = row._mapping[column.name]
        if column.name in KEPT_MEMBER_COLUMNS:
            continue
        default = column.server_default.arg if column.server_default is not None else None
        assert value is None or str(int(value) if isinstance(value, bool) else value) in {
            str(default),
            "-",
            "UTC",
            "1",  # news_opt_out
        }, column.name
    assert row.timezone == "UTC" and row.quiet_start == 1260 and row.stopped_at is None
    challenge = await services.challenges.by_slug("tri-lyon")
    assert challenge.pledge_count == 2  # anonymous counts stay
