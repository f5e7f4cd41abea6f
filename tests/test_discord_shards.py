"""KOOM_DISCORD_SHARDS splits the bot's Discord shards between instances."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from bots.discord.app import DiscordAdapter, KoomClient, ShardedKoomClient
from core.services import Services
from core.settings import Settings


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
