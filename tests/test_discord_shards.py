"""KOOM_DISCORD_SHARDS splits the bot's Discord shards between instances."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr, ValidationError

from bots.discord.app import DiscordAdapter, KoomClient, ShardedKoomClient
from core.db.database import Database
from core.services import Services
from core.settings import Settings
from tests.fake_discord import TOKEN, FakeDiscord, shard_of, user_payload


def test_shards_are_read_as_ids_out_of_a_total() -> None:
    settings = Settings(_env_file=None, KOOM_DISCORD_SHARDS="2, 0/4")
    assert settings.shards == ((0, 2), 4)
    assert Settings(_env_file=None, KOOM_DISCORD_SHARDS="").shards is None
    for wrong in ("4/4", "a/2", "1", "0/0", "/3"):
        with pytest.raises(ValidationError, match="KOOM_DISCORD_SHARDS"):
            Settings(_env_file=None, KOOM_DISCORD_SHARDS=wrong)


async def test_an_instance_connects_only_its_shards(services: Services, settings: Settings) -> None:
    token = {"discord_token": SecretStr("x")}
    sharded = settings.model_copy(update={**token, "discord_shards": "1,3/4"})
    client = DiscordAdapter(services, sharded).client
    assert isinstance(client, ShardedKoomClient)
    assert (client.shard_ids, client.shard_count) == ([1, 3], 4)
    whole = DiscordAdapter(services, settings.model_copy(update=token)).client
    assert type(whole) is KoomClient and whole.shard_count is None


async def test_a_multi_shard_instance_starts_once_every_shard_is_connected(db: Database) -> None:
    fake = FakeDiscord()
    await fake.start()
    servers = [await fake.add_guild(f"Climat {n}") for n in range(2)]
    assert {shard_of(s.guild_id, 2) for s in servers} == {0, 1}
    settings = Settings(
        _env_file=None,
        DATABASE_URL=db.url,
        DISCORD_TOKEN=TOKEN,
        DISCORD_API_BASE_URL=fake.api_url,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        KOOM_DISCORD_SHARDS="0,1/2",
        KOOM_DEFAULT_LOCALE="fr",
    )
    adapter = DiscordAdapter(Services(db=db, settings=settings), settings)
    try:
        await adapter.start()
        # Started: every shard hears its servers' interactions at once (Discord identifies a
        # bot's shards 5 s apart; returning after the first left the others deaf meanwhile).
        for n, server in enumerate(servers):
            done = await fake.slash(user_payload(500 + n, f"Membre {n}"), server, "help")
            await adapter.idle()
            assert fake.answers(done)
    finally:
        await adapter.stop()
        await fake.close()


async def test_stopping_while_a_shard_still_connects_ends(db: Database) -> None:
    fake = FakeDiscord()
    await fake.start()
    settings = Settings(
        _env_file=None,
        DATABASE_URL=db.url,
        DISCORD_TOKEN=TOKEN,
        DISCORD_API_BASE_URL=fake.api_url,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        KOOM_DISCORD_SHARDS="0,1/2",
    )
    adapter = DiscordAdapter(Services(db=db, settings=settings), settings)
    starting = asyncio.create_task(adapter.start())
    try:
        await fake.wait_connected(0)  # shard 1 waits its turn to identify
        # discord.py retries for ever a shard closed while connecting: a stop (SIGTERM
        # during start-up) hung on it.
        await asyncio.wait_for(adapter.stop(), 30)
        await asyncio.wait_for(asyncio.gather(starting, return_exceptions=True), 30)
    finally:
        starting.cancel()
        await fake.close()
