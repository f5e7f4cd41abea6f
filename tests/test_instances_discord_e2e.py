"""Several instances on Discord, on one PostgreSQL database: each instance is its own database
pool, real Discord adapter (discord.py) connecting its own shard of the fake gateway of
`tests/fake_discord.py` (KOOM_DISCORD_SHARDS), and delivery worker, sharing Discord's limits
through Redis. Members act in servers on every shard; a broadcast and the announcements of
their pledges go out once each, within Discord's limits (times SCALE, at the fake and in the
budget alike). A broadcast to members of both platforms at once goes the same way.

Needs KOOM_TEST_POSTGRES_URL and KOOM_TEST_REDIS_URL (`.ci/run` sets both); skipped without.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from bots.discord.app import DiscordAdapter
from bots.telegram.app import TelegramAdapter
from core.i18n import Translator
from core.identity import Platform
from core.models import Challenge
from core.pacing import Budget
from core.services import Services
from core.services.broadcasts import Audience
from core.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.factories import add_members, open_challenge
from tests.fake_discord import MANAGE_GUILD, MEMBER, TOKEN, FakeDiscord, Where, user_payload
from tests.fake_discord import RateLimits as DiscordLimits
from tests.fake_telegram import FakeTelegram, Person
from tests.fake_telegram import Limits as TelegramLimits
from tests.instances import (
    Instance,
    all_sent,
    instances,
    needs_postgres_and_redis,
    rows_per_chat,
    until,
)
from tests.test_discord_e2e import button_id
from tests.test_instances_e2e import telegram_settings

pytestmark = needs_postgres_and_redis
SCALE = 4
"""Discord's limits times this, at the fake and in the budget: 200 requests/s overall."""
MEMBERS = 2_000
SERVERS = 6
"""Servers, on every shard, each with a channel following the challenge."""
FIRST_ID = 500_000
TEXT = "Vélorution vendredi 18 h devant l'hôtel de ville : venez à vélo !"
WITHIN = 180.0
"""Seconds a test waits for the broadcast to finish (never a measure of speed)."""
FR = Translator("fr")


@dataclass
class Discord:
    """The fake Discord and the instances connected to it, each on its shard."""

    fake: FakeDiscord
    instances: list[Instance]

    @property
    def services(self) -> Services:
        return self.instances[0].services

    async def idle(self) -> None:
        """Wait until no instance is handling an interaction."""
        for instance in self.instances:
            await instance.adapters[Platform.DISCORD].idle()


def discord_settings(fake: FakeDiscord) -> Settings:
    assert POSTGRES_URL is not None
    return Settings(
        _env_file=None,
        DATABASE_URL=POSTGRES_URL,
        DISCORD_TOKEN=TOKEN,
        DISCORD_API_BASE_URL=fake.api_url,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        KOOM_LOAD_DEMO="0",
        KOOM_DEFAULT_LOCALE="fr",
    )


@asynccontextmanager
async def on_discord(schema: str, count: int) -> AsyncIterator[Discord]:
    """`count` instances on `schema`, instance n running shard n of `count`; the fake
    enforces Discord's limits times SCALE."""
    fake = FakeDiscord()
    await fake.start()
    fake.enforce_limits(SCALE)
    settings = discord_settings(fake)

    async def discord(
        n: int, services: Services, budgets: Mapping[Platform, Budget]
    ) -> list[DiscordAdapter]:
        mine = settings.model_copy(update={"discord_shards": f"{n}/{count}"})
        adapter = DiscordAdapter(services, mine, budgets[Platform.DISCORD])
        await adapter.start()
        return [adapter]

    try:
        async with instances(schema, count, settings, discord, scale=SCALE) as made:
            yield Discord(fake, made)
    finally:
        await fake.close()


async def pledge_in(d: Discord, where: Where, user: dict[str, Any], slug: str) -> None:
    """A member pledges in a server's channel: /pledge, then "Yes" on its (private) answer."""
    asked = await d.fake.slash(user, where, "pledge", challenge=slug)
    await d.idle()
    [card] = d.fake.answers(asked)
    await d.fake.press(user, where, card, button_id(card, FR("pledge.button_yes")))
    await d.idle()


async def follow_and_pledge(d: Discord) -> tuple[Challenge, list[Person], list[Where]]:
    """MEMBERS Discord members; SERVERS servers whose channel a manager makes follow a
    challenge and where four members pledge (25 %, 50 % and the tier at 4), every act an
    interaction on the shard of its server."""
    services = d.services
    people = [Person(FIRST_ID + i, f"Member {i}", "fr") for i in range(MEMBERS)]
    await add_members(services.db, people, "discord")
    challenge = await open_challenge(services, goal=8)
    servers = [await d.fake.add_guild(f"Climat {n}") for n in range(SERVERS)]
    for n, server in enumerate(servers):
        manager = Where(server.channel_id, server.guild_id, MEMBER | MANAGE_GUILD)
        await d.fake.slash(
            user_payload(900 + n, f"Manager {n}"), manager, "follow", challenge=challenge.slug
        )
    await d.idle()
    assert len(await services.groups.followers(challenge.id)) == SERVERS
    for n in range(4):
        user = user_payload(FIRST_ID + n, f"Member {n}")
        await pledge_in(d, servers[n % SERVERS], user, challenge.slug)
    assert (await services.challenges.get(challenge.id)).pledge_count == 4
    return challenge, people, servers


async def broadcast(services: Services, challenge: Challenge) -> None:
    """A broadcast to every member who accepts news, launched."""
    draft = await services.broadcasts.create(None, {Audience.MEMBERS}, TEXT, challenge.id)
    await services.broadcasts.confirm(draft.id)
    await services.broadcasts.launch_due()


async def send_everything(made: list[Instance], services: Services) -> list[int]:
    """Every instance's worker sends until nothing is left; what each sent."""
    for instance in made:
        await instance.worker.start()
    await until(lambda: all_sent(services), WITHIN)
    for instance in made:
        await instance.worker.stop()
    return [instance.worker.sent for instance in made]


def check_discord_once_each(
    fake: FakeDiscord, people: list[Person], rows: dict[int, list[str]]
) -> None:
    """Every member got the broadcast exactly once in their DMs; no DM or channel of the
    rows got more posts than it has rows (several rows of one chat may go as one message); Discord's
    limits were kept with no 429 to teach the instances."""
    assert {s for statuses in rows.values() for s in statuses} == {"sent"}
    got = fake.received(p.id for p in people)
    assert [p.id for p in people if sum(TEXT in t for t in got.get(p.id, [])) != 1] == []
    dms = {fake.dm_channels[chat]: chat for chat in rows if chat in fake.dm_channels}
    posts: dict[int, int] = {}
    for request in fake.counted:
        if request.channel_id is not None:
            chat = dms.get(request.channel_id, request.channel_id)
            if chat in rows:  # not a reply to someone writing
                posts[chat] = posts.get(chat, 0) + 1
    assert set(posts) == set(rows)
    assert [chat for chat, n in posts.items() if n > len(rows[chat])] == []
    assert fake.refused == []
    assert fake.limit_violations(DiscordLimits(SCALE)) == {}


@pytest.mark.parametrize("count", [2, 3])
async def test_instances_on_their_shards_share_a_broadcast_and_announcements_once_each(
    pg_schema: str, count: int
) -> None:
    async with on_discord(pg_schema, count) as d:
        challenge, people, servers = await follow_and_pledge(d)
        # Each server's interactions reached its own shard, and every shard had some.
        interactions = [
            shard for shard, event in d.fake.dispatched if event == "INTERACTION_CREATE"
        ]
        assert set(interactions) == set(range(count))
        # Every interaction was answered once, by the one instance that received it.
        assert {(i.attempts, i.ack_type is not None) for i in d.fake.interactions.values()} == {
            (1, True)
        }
        await broadcast(d.services, challenge)
        senders = await send_everything(d.instances, d.services)
        rows = await rows_per_chat(d.services)
        for server in servers:
            assert len(rows[server.channel_id]) == 3  # 25 %, 50 % and the tier
        check_discord_once_each(d.fake, people, rows)
        print(f"{count} instances: sent {senders}, peaks {d.fake.window_peaks()}")
    assert all(n > 0 for n in senders), senders  # every instance took a share


async def test_two_instances_broadcast_to_members_of_both_platforms_at_once(
    pg_schema: str,
) -> None:
    """Half the members on Telegram, half on Discord: each gets the broadcast once, and each
    platform's limits are kept by both instances together."""
    telegram_fake, discord_fake = FakeTelegram(), FakeDiscord()
    await telegram_fake.start()
    await discord_fake.start()
    discord_fake.enforce_limits(SCALE)
    settings = discord_settings(discord_fake).model_copy(
        update=telegram_settings(telegram_fake).model_dump(
            include={"telegram_token", "telegram_base_url"}
        )
    )

    async def both(n: int, services: Services, budgets: Mapping[Platform, Budget]) -> list[Any]:
        mine = settings.model_copy(update={"discord_shards": f"{n}/2"})
        discord = DiscordAdapter(services, mine, budgets[Platform.DISCORD])
        await discord.start()
        telegram = TelegramAdapter(services, mine, budget=budgets[Platform.TELEGRAM])
        await telegram.application.initialize()
        return [discord, telegram]

    half = MEMBERS // 2
    on_telegram = [Person(FIRST_ID + i, f"T {i}", "fr") for i in range(half)]
    on_discord = [Person(FIRST_ID + half + i, f"D {i}", "en") for i in range(half)]
    telegram_fake.know(*on_telegram)
    try:
        async with instances(pg_schema, 2, settings, both, scale=SCALE) as made:
            services = made[0].services
            await add_members(services.db, on_telegram, "telegram")
            await add_members(services.db, on_discord, "discord")
            await broadcast(services, await open_challenge(services, goal=8))
            senders = await send_everything(made, services)
            rows = await rows_per_chat(services)
    finally:
        await discord_fake.close()
        await telegram_fake.close()
    assert set(rows) == {p.id for p in on_telegram + on_discord}
    got = [sum(TEXT in t for t in telegram_fake.texts(p.id)) for p in on_telegram]
    assert set(got) == {1}
    assert telegram_fake.limit_violations(TelegramLimits(SCALE)) == {}
    check_discord_once_each(discord_fake, on_discord, {p.id: rows[p.id] for p in on_discord})
    assert all(n > 0 for n in senders), senders


CHATTERS = 100
CHATS_EACH = 3
BUSY_MEMBERS = 1_500
HELP = "Voici ce que je sais faire"


@pytest.mark.slow
async def test_people_writing_in_private_during_a_broadcast_get_every_reply(
    pg_schema: str,
) -> None:
    """100 people each type /help three times in the bot's private messages (the next once
    answered) while two instances send a broadcast to 1,500 members at the full (scaled)
    rate: every reply arrives, none is an apology, the replies and the broadcast together
    keep Discord's limits, and the broadcast reaches everyone once."""
    async with on_discord(pg_schema, 2) as d:
        people = [Person(FIRST_ID + i, f"Member {i}", "fr") for i in range(BUSY_MEMBERS)]
        talkers = [user_payload(50_000 + i, f"Talker {i}") for i in range(CHATTERS)]
        await add_members(d.services.db, people, "discord")
        await broadcast(d.services, await open_challenge(d.services, goal=8))
        for instance in d.instances:
            await instance.worker.start()
        ids = [p.id for p in people]

        async def started() -> bool:
            return len(d.fake.received(ids)) >= 100

        await until(started, WITHIN)

        async def talk(user: dict[str, Any]) -> None:
            for n in range(1, CHATS_EACH + 1):
                await d.fake.type(user, "/help")

                async def answered(n: int = n) -> bool:
                    texts = d.fake.received([int(user["id"])]).get(int(user["id"]), [])
                    return sum(HELP in t for t in texts) >= n

                await until(answered, WITHIN)

        await asyncio.gather(*(talk(user) for user in talkers))
        broadcasting = len(d.fake.received(ids)) < BUSY_MEMBERS
        await until(lambda: all_sent(d.services), WITHIN)
        for instance in d.instances:
            await instance.worker.stop()
        replies = d.fake.received(int(user["id"]) for user in talkers)
        for texts in replies.values():
            assert sum(HELP in t for t in texts) == CHATS_EACH
            assert not [t for t in texts if "Désolé" in t], texts
        assert len(replies) == CHATTERS
        assert broadcasting  # the chat really happened during the broadcast
        check_discord_once_each(d.fake, people, await rows_per_chat(d.services))
