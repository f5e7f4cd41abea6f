"""A fake Discord on 127.0.0.1 for end-to-end tests: REST v10 and a gateway websocket, with
Discord's JSON shapes, its limits and its error answers.

REST: users/@me, oauth2/applications/@me, gateway(/bot), bulk overwrite of application
commands (global and per guild), interaction callbacks (answered at most once, within 3 s),
webhook follow-ups and edits of the original response, channel messages and DM channels.
Errors: 400 code 50035 (invalid form body, from the same limits Discord checks), 400 code
40060 (already acknowledged), 404 code 10062 (unknown or expired interaction), 403 code 50007
(the member's DMs are closed), 403 code 50001 (no access to a channel), and 429 with
`retry_after` when a test asks for it.

Gateway: HELLO, IDENTIFY (a bad token closes with 4004, a privileged intent with 4014, a
shard id out of its total with 4010), READY, GUILD_CREATE, heartbeats and their ACK, RESUME
(RESUMED for a session it knows, else INVALID_SESSION), and the dispatch of
INTERACTION_CREATE and MESSAGE_CREATE by the test. Several shards may connect (IDENTIFY's
`shard: [id, total]`): each guild's events go to shard `(guild_id >> 22) % total` only, DMs
to shard 0, as Discord routes them; guild ids are snowflakes of successive milliseconds, so
successive guilds fall on successive shards.

Limits: every REST request outside interactions (their callbacks and webhooks are apart, as
on Discord) counts against the global 50 a second, and a message posted in a channel also
against that channel's route, 5 per 5 s, both times an integer `scale`. Counted always (in
`counted`: `limit_violations` tells the windows that held too many), they are enforced only
when asked (`enforce_limits`): a request beyond one is answered 429 with Discord's
`retry_after` and `global` (and Discord's `Via` header, without which discord.py takes it for
a ban and waits for nothing), is kept in `refused` and not counted.

Tests act as members through `slash`, `press`, `choose`, `submit`, `autocomplete` and `type`,
which dispatch an event and return the record of what the bot did with it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.fake_telegram import window_peak

TOKEN = "fake-discord-token"
BOT_ID = 1_000_000_000_000_000_001
APPLICATION_ID = 1_000_000_000_000_000_002
EVERYTHING = (1 << 41) - 1
MANAGE_GUILD = 1 << 5
MEMBER = (1 << 10) | (1 << 11) | (1 << 31)  # view channel, send messages, use app commands
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)  # members, presences, message content
EPHEMERAL = 1 << 6
ACK_DEADLINE = 3.0
# Interaction types, and the callback types each one accepts.
COMMAND, COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
CALLBACKS = {
    COMMAND: {4, 5, 9},
    COMPONENT: {4, 5, 6, 7, 9},
    AUTOCOMPLETE: {8},
    MODAL_SUBMIT: {4, 5, 6, 7},
}
LOCALES = {
    "id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl",
    "no", "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi",
    "th", "zh-CN", "ja", "zh-TW", "ko",
}  # fmt: skip
COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")
CHANNEL_MESSAGES = re.compile(r"^/api/v10/channels/(\d+)/messages$")
"""The route that posts a message in a channel (limited per channel)."""
GUILD_EPOCH_MS = 1_200_000_000_000_000_000 >> 22
"""The milliseconds of the first guild's snowflake (beyond every other id of the fake)."""
GLOBAL, CHANNEL = "global", "channel"
"""The limits the fake counts: the bot's requests overall, and messages per channel."""


def shard_of(guild_id: int | None, total: int) -> int:
    """The shard Discord sends a guild's events to; DMs (no guild) go to shard 0."""
    return 0 if guild_id is None else (guild_id >> 22) % total


@dataclass(frozen=True)
class RateLimits:
    """Discord's limits, as (requests, seconds) windows, every count times `scale`."""

    scale: int = 1

    def window(self, kind: str) -> tuple[int, float]:
        count, per = {GLOBAL: (50, 1.0), CHANNEL: (5, 5.0)}[kind]
        return count * self.scale, per


@dataclass(frozen=True)
class Counted:
    """A request that counts against the limits: when, and the channel it posted in."""

    at: float
    path: str
    channel_id: int | None


@dataclass(frozen=True)
class Limited:
    """A request answered 429 by an enforced limit (GLOBAL or CHANNEL)."""

    at: float
    path: str
    limit: str


def snowflakes(start: int) -> Iterator[int]:
    """Increasing ids, as Discord's snowflakes are."""
    return itertools.count(start)


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """JSON with Discord's exact content type (discord.py reads no other as JSON)."""
    response = web.Response(body=json.dumps(body).encode(), status=status, headers=headers)
    response.content_type = "application/json"
    return response


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def user_payload(user_id: int, name: str) -> dict[str, Any]:
    """A Discord user object."""
    return {
        "id": str(user_id),
        "username": name.lower(),
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": False,
        "public_flags": 0,
    }


BOT_USER = {**user_payload(BOT_ID, "climat-koom"), "bot": True}


class DiscordError(Exception):
    """An error answer of the fake, with Discord's JSON body."""

    def __init__(self, status: int, code: int, message: str, errors: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "code": code}
        if errors:
            self.body["errors"] = errors


def invalid(errors: dict[str, Any]) -> DiscordError:
    return DiscordError(400, 50035, "Invalid Form Body", errors)


@dataclass
class Fault:
    """An error the fake answers instead of serving `times` matching requests."""

    method: str
    path: re.Pattern[str]
    status: int
    body: dict[str, Any]
    times: int = 1
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Where:
    """Where a member acts: a guild channel (with their permissions there) or their DMs."""

    channel_id: int
    guild_id: int | None = None
    permissions: int = MEMBER


@dataclass
class Interaction:
    """One interaction the fake dispatched, and every answer the bot gave to it."""

    id: int
    token: str
    type: int
    payload: dict[str, Any]
    dispatched_at: float
    acked_at: float | None = None
    ack_type: int | None = None
    modal: dict[str, Any] | None = None
    choices: list[dict[str, Any]] | None = None
    original_id: int | None = None
    loading: bool = False
    message_ids: list[int] = field(default_factory=list)
    edited_ids: list[int] = field(default_factory=list)
    attempts: int = 0
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the bot has called back (successfully or not) since the last dispatch."""
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set whenever a message of this interaction is posted or edited."""

    @property
    def ack_seconds(self) -> float:
        """Time from the dispatch of INTERACTION_CREATE to the bot's first answer."""
        assert self.acked_at is not None, "the interaction was never acknowledged"
        return self.acked_at - self.dispatched_at


class FakeDiscord:
    """The fake server; `start()` it, point the bot at `api_url` and `gateway_url`."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.ids = snowflakes(1_100_000_000_000_000_000)
        self.guilds: dict[int, dict[str, Any]] = {}
        self.guild_members: set[tuple[int, int]] = set()
        """(guild, user) of the people in each guild: those who act there, and `join`."""
        self.channels: dict[int, dict[str, Any]] = {}
        self.messages: dict[int, dict[str, Any]] = {}
        self.dm_channels: dict[int, int] = {}  # user id -> DM channel id
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.interactions: dict[int, Interaction] = {}
        self.closed_dms: set[int] = set()
        self.forbidden_channels: set[int] = set()
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[dict[str, Any]] = []
        """The bodies of every message the bot posted, follow-ups included."""
        self.identify: list[dict[str, Any]] = []
        self.heartbeats = 0
        self.sessions: dict[str, int] = {}  # session id -> its shard
        self.resumes = 0
        self.sockets: dict[int, web.WebSocketResponse] = {}  # shard id -> its connection
        self.sequences: dict[int, int] = {}
        self.shard_count = 1
        self.dispatched: list[tuple[int, str]] = []
        """(shard, event) of every event dispatched, in order."""
        self._guild_ms = itertools.count(GUILD_EPOCH_MS)
        self.limits: RateLimits | None = None
        """The enforced limits; None (the default) lets every request through."""
        self.counted: list[Counted] = []
        self.refused: list[Limited] = []
        self._runner: web.AppRunner | None = None
        self._port = 0
        self.uploads: dict[str, bytes] = {}
        """Pictures members sent, by attachment id."""

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        api = "/api/v10"
        app.router.add_get("/gateway", self._gateway_socket)
        app.router.add_get(f"{api}/gateway", self._gateway)
        app.router.add_get(f"{api}/gateway/bot", self._gateway_bot)
        app.router.add_get(f"{api}/users/@me", self._me)
        app.router.add_get(f"{api}/oauth2/applications/@me", self._application)
        app.router.add_put(f"{api}/applications/{{app}}/commands", self._put_commands)
        app.router.add_put(
            f"{api}/applications/{{app}}/guilds/{{guild}}/commands", self._put_commands
        )
        app.router.add_post(f"{api}/interactions/{{id}}/{{token}}/callback", self._callback)
        app.router.add_post(f"{api}/webhooks/{{app}}/{{token}}", self._followup)
        app.router.add_route(
            "*", f"{api}/webhooks/{{app}}/{{token}}/messages/{{message}}", self._webhook_message
        )
        app.router.add_post(f"{api}/channels/{{channel}}/messages", self._channel_message)
        app.router.add_post(f"{api}/users/@me/channels", self._dm_channel)
        app.router.add_get(f"{api}/guilds/{{guild}}/members/{{user}}", self._guild_member)
        app.router.add_get("/attachments/{id}/{name}", self._attachment)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        for socket in list(self.sockets.values()):
            if not socket.closed:
                await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/gateway"

    @property
    def socket(self) -> web.WebSocketResponse | None:
        """The connection of shard 0 (the only one of an unsharded bot)."""
        return self.sockets.get(0)

    # --- the world ------------------------------------------------------------------------

    async def add_guild(self, name: str, channel_name: str = "general") -> Where:
        """A guild the bot joins (GUILD_CREATE when it is connected), with one text channel;
        where its members act."""
        guild_id, channel_id = next(self._guild_ms) << 22, next(self.ids)
        channel = {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id),
            "name": channel_name,
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
        }
        self.channels[channel_id] = channel
        self.guilds[guild_id] = {
            "id": str(guild_id),
            "name": name,
            "icon": None,
            "owner_id": str(next(self.ids)),
            "roles": [
                {
                    "id": str(guild_id),
                    "name": "@everyone",
                    "permissions": str(MEMBER),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "emojis": [],
            "stickers": [],
            "features": [],
            "channels": [channel],
            "threads": [],
            "members": [],
            "voice_states": [],
            "presences": [],
            "member_count": 3,
            "large": False,
            "unavailable": False,
            "preferred_locale": "fr",
            "joined_at": now_iso(),
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "system_channel_flags": 0,
        }
        if self._connected(shard_of(guild_id, self.shard_count)):
            await self.dispatch("GUILD_CREATE", self.guilds[guild_id], guild_id=guild_id)
        return Where(channel_id, guild_id)

    async def remove_guild(self, where: Where) -> None:
        """The bot is removed from a guild (GUILD_DELETE)."""
        assert where.guild_id is not None
        del self.guilds[where.guild_id]
        await self.dispatch("GUILD_DELETE", {"id": str(where.guild_id)}, guild_id=where.guild_id)

    def dm(self, user_id: int) -> Where:
        """The DM channel of a member with the bot (created on first use)."""
        return Where(self._dm_channel_of(user_id))

    def _dm_channel_of(self, user_id: int) -> int:
        if user_id not in self.dm_channels:
            channel_id = next(self.ids)
            self.dm_channels[user_id] = channel_id
            self.channels[channel_id] = {"id": str(channel_id), "type": 1, "recipient": user_id}
        return self.dm_channels[user_id]

    def messages_in(self, channel_id: int) -> list[dict[str, Any]]:
        """The messages of a channel, oldest first (ephemeral ones included)."""
        return [m for m in self.messages.values() if m["channel_id"] == str(channel_id)]

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        code: int,
        message: str,
        *,
        times: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next `times` requests matching `method` and the `path` pattern with an
        error; a 429 carries `retry_after` like Discord's (and a `Via` header)."""
        body: dict[str, Any] = {"message": message, "code": code}
        headers: dict[str, str] = {}
        if status == 429:
            assert retry_after is not None
            body.update(retry_after=retry_after, **{"global": False})
            headers = {
                "Retry-After": str(max(1, round(retry_after))),
                "X-RateLimit-Scope": "user",
                "Via": "1.1 google",
            }
        self.faults.append(Fault(method, re.compile(path), status, body, times, headers))

    # --- members acting -------------------------------------------------------------------

    async def slash(
        self,
        user: dict[str, Any],
        where: Where,
        name: str,
        locale: str = "fr",
        **options: str,
    ) -> Interaction:
        """A member runs `/name option:value`."""
        data = {
            "id": str(next(self.ids)),
            "name": name,
            "type": 1,
            "options": [{"name": k, "type": 3, "value": v} for k, v in options.items()],
        }
        return await self.interact(user, where, COMMAND, data, locale=locale)

    async def autocomplete(
        self, user: dict[str, Any], where: Where, name: str, option: str, typed: str
    ) -> list[dict[str, Any]]:
        """The choices the bot offers while a member types an option."""
        data = {
            "id": str(next(self.ids)),
            "name": name,
            "type": 1,
            "options": [{"name": option, "type": 3, "value": typed, "focused": True}],
        }
        done = await self.interact(user, where, AUTOCOMPLETE, data)
        assert done.choices is not None
        return done.choices

    async def press(
        self,
        user: dict[str, Any],
        where: Where,
        message: dict[str, Any],
        custom_id: str,
        locale: str = "fr",
    ) -> Interaction:
        """A member presses the button `custom_id` of `message`."""
        data = {"custom_id": custom_id, "component_type": 2}
        return await self.interact(user, where, COMPONENT, data, locale=locale, message=message)

    async def choose(
        self,
        user: dict[str, Any],
        where: Where,
        message: dict[str, Any],
        custom_id: str,
        value: str,
        locale: str = "fr",
    ) -> Interaction:
        """A member picks `value` in the select menu `custom_id` of `message`."""
        data = {"custom_id": custom_id, "component_type": 3, "values": [value]}
        return await self.interact(user, where, COMPONENT, data, locale=locale, message=message)

    async def submit(
        self,
        user: dict[str, Any],
        where: Where,
        custom_id: str,
        values: Mapping[str, str],
        locale: str = "fr",
    ) -> Interaction:
        """A member submits a modal with these text input values."""
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
            for k, v in values.items()
        ]
        data = {"custom_id": custom_id, "components": rows}
        return await self.interact(user, where, MODAL_SUBMIT, data, locale=locale)

    async def interact(
        self,
        user: dict[str, Any],
        where: Where,
        kind: int,
        data: dict[str, Any],
        *,
        locale: str = "fr",
        message: dict[str, Any] | None = None,
        interaction_id: int | None = None,
        token: str | None = None,
    ) -> Interaction:
        """Dispatch INTERACTION_CREATE and wait for the bot's callback (at most 5 s).

        An `interaction_id` and `token` already used dispatch the same interaction again.
        """
        interaction_id = interaction_id or next(self.ids)
        token = token or f"itoken-{interaction_id}"
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(APPLICATION_ID),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "locale": locale,
            "app_permissions": str(EVERYTHING),
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(where.guild_id or 0)},
            "attachment_size_limit": 10 * 1024 * 1024,
            "channel_id": str(where.channel_id),
            "channel": self.channels[where.channel_id],
        }
        if where.guild_id is None:
            payload["user"] = user
            payload["context"] = 1
        else:
            self.guild_members.add((where.guild_id, int(user["id"])))
            payload.update(
                guild_id=str(where.guild_id),
                guild_locale="fr",
                context=0,
                member={
                    "user": user,
                    "roles": [],
                    "permissions": str(where.permissions),
                    "joined_at": now_iso(),
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                    "nick": None,
                    "pending": False,
                },
            )
        if message is not None:
            payload["message"] = message
        record = self.interactions.setdefault(
            interaction_id, Interaction(interaction_id, token, kind, payload, time.perf_counter())
        )
        record.answered.clear()
        await self.dispatch("INTERACTION_CREATE", payload, guild_id=where.guild_id)
        await asyncio.wait_for(record.answered.wait(), 5)
        return record

    async def send_picture(
        self, user: dict[str, Any], data: bytes, caption: str = "", filename: str = "proof.png"
    ) -> dict[str, Any]:
        """A member sends a picture (an attachment, served by this fake as Discord's CDN
        would) in their DM channel with the bot, with `caption` as the message's text."""
        channel_id = self._dm_channel_of(int(user["id"]))
        attachment_id = str(next(self.ids))
        self.uploads[attachment_id] = data
        url = f"http://127.0.0.1:{self._port}/attachments/{attachment_id}/{filename}"
        attachment = {
            "id": attachment_id,
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": "image/png",
        }
        message = self._message(channel_id, caption, files=[attachment], author=user)
        await self.dispatch("MESSAGE_CREATE", message)
        return message

    async def _attachment(self, request: web.Request) -> web.Response:
        data = self.uploads.get(request.match_info["id"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="image/png")

    async def type(self, user: dict[str, Any], text: str) -> dict[str, Any]:
        """A member types a message in their DM channel with the bot."""
        channel_id = self._dm_channel_of(int(user["id"]))
        message = self._message(channel_id, text, author=user)
        await self.dispatch("MESSAGE_CREATE", message)
        return message

    async def until(self, record: Interaction, check: Callable[[Interaction], bool]) -> None:
        """Wait until `check` holds for what the bot posted for an interaction (at most 10 s)."""
        async with asyncio.timeout(10):
            while not check(record):
                record.changed.clear()
                await record.changed.wait()

    def bot_message(
        self, channel_id: int, content: str, components: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """A message the bot is said to have posted earlier (for old or forged components)."""
        return self._message(channel_id, content, {"components": components})

    def answers(self, interaction: Interaction) -> list[dict[str, Any]]:
        """The messages the bot posted for an interaction, as they are now."""
        return [self.messages[i] for i in interaction.message_ids if i in self.messages]

    # --- gateway --------------------------------------------------------------------------

    async def dispatch(
        self,
        event: str,
        data: dict[str, Any],
        *,
        guild_id: int | None = None,
        shard: int | None = None,
    ) -> None:
        """Send one DISPATCH event to the shard of `guild_id` (DMs: shard 0), or to `shard`."""
        if shard is None:
            shard = shard_of(guild_id, self.shard_count)
        socket = self.sockets.get(shard)
        assert socket is not None and not socket.closed, f"no bot is connected on shard {shard}"
        self.sequences[shard] = sequence = self.sequences.get(shard, 0) + 1
        self.dispatched.append((shard, event))
        await socket.send_str(json.dumps({"op": 0, "t": event, "s": sequence, "d": data}))

    def _connected(self, shard: int) -> bool:
        socket = self.sockets.get(shard)
        return socket is not None and not socket.closed

    async def wait_connected(self, shard: int = 0) -> None:
        """Wait until a bot has identified on the gateway (as `shard`)."""
        for _ in range(500):
            if self._connected(shard):
                return
            await asyncio.sleep(0.01)
        raise TimeoutError(f"no bot identified on the gateway as shard {shard}")

    async def _gateway_socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json({"op": 10, "d": {"heartbeat_interval": 41250}})
        async for frame in socket:
            if frame.type is not WSMsgType.TEXT:
                continue
            data = json.loads(frame.data)
            if data["op"] == 1:
                self.heartbeats += 1
                await socket.send_json({"op": 11})
            elif data["op"] == 2:
                await self._identified(socket, data["d"])
            elif data["op"] == 6:
                await self._resume(socket, data["d"])
        for shard, connected in list(self.sockets.items()):
            if connected is socket:
                del self.sockets[shard]
        return socket

    async def _resume(self, socket: web.WebSocketResponse, resume: dict[str, Any]) -> None:
        shard = self.sessions.get(resume.get("session_id", ""))
        if resume.get("token") != self.token or shard is None:
            await socket.send_json({"op": 9, "d": False})
            return
        self.sockets[shard] = socket
        self.resumes += 1
        await self.dispatch("RESUMED", {}, shard=shard)

    async def _identified(self, socket: web.WebSocketResponse, identify: dict[str, Any]) -> None:
        self.identify.append(identify)
        if identify.get("token") != self.token:
            await socket.close(code=4004, message=b"Authentication failed.")
            return
        if identify.get("intents", 0) & PRIVILEGED_INTENTS:
            await socket.close(code=4014, message=b"Disallowed intent(s).")
            return
        shard, total = identify.get("shard") or (0, 1)
        if not 0 <= shard < total:
            await socket.close(code=4010, message=b"Invalid shard.")
            return
        self.shard_count = total
        self.sockets[shard], self.sequences[shard] = socket, 0
        session = f"session-{next(self.ids)}"
        self.sessions[session] = shard
        mine = [g for g in self.guilds.values() if shard_of(int(g["id"]), total) == shard]
        await self.dispatch(
            "READY",
            {
                "v": 10,
                "user": BOT_USER,
                "guilds": [{"id": g["id"], "unavailable": True} for g in mine],
                "shard": [shard, total],
                "session_id": session,
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(APPLICATION_ID), "flags": 0},
                "private_channels": [],
                "relationships": [],
            },
            shard=shard,
        )
        for guild in mine:
            await self.dispatch("GUILD_CREATE", guild, shard=shard)

    # --- REST -----------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        self.requests.append((request.method, path))
        open_route = (
            "/webhooks/" in path
            or "/interactions/" in path
            or path == "/gateway"
            or path.startswith("/attachments/")  # the CDN asks for no token
        )
        if not open_route and request.headers.get("Authorization") != f"Bot {self.token}":
            return json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        for fault in self.faults:
            if fault.times and fault.method == request.method and fault.path.search(path):
                fault.times -= 1
                return json_response(fault.body, status=fault.status, headers=fault.headers)
        if not open_route:
            refusal = self._count(request)
            if refusal is not None:
                return refusal
        try:
            return await handler(request)
        except DiscordError as error:
            return json_response(error.body, status=error.status)

    # --- limits ---------------------------------------------------------------------------

    def enforce_limits(self, scale: int = 1) -> RateLimits:
        """From now on, answer 429 to requests beyond Discord's limits times `scale`."""
        self.limits = RateLimits(scale)
        return self.limits

    def _count(self, request: web.Request) -> web.Response | None:
        """Count a request against the limits; the 429 that refuses it, if one is enforced."""
        now = time.monotonic()
        posting = request.method == "POST" and CHANNEL_MESSAGES.match(request.path)
        channel_id = int(posting.group(1)) if posting else None
        if self.limits is not None:
            windows = [(GLOBAL, self._recent(now, self.limits.window(GLOBAL)[1]))]
            if channel_id is not None:
                per = self.limits.window(CHANNEL)[1]
                here = [c for c in self._recent(now, per) if c.channel_id == channel_id]
                windows.append((CHANNEL, here))
            for kind, recent in windows:
                count, per = self.limits.window(kind)
                if len(recent) >= count:
                    retry_after = round(recent[len(recent) - count].at + per - now, 3)
                    self.refused.append(Limited(now, request.path, kind))
                    body = {
                        "message": "You are being rate limited.",
                        "retry_after": retry_after,
                        "global": kind == GLOBAL,
                        "code": 0,
                    }
                    headers = {  # as Discord's: without `Via`, discord.py reads a ban
                        "Retry-After": str(max(1, round(retry_after))),
                        "X-RateLimit-Scope": "user" if kind == GLOBAL else "shared",
                        "Via": "1.1 google",
                    }
                    if kind == GLOBAL:
                        headers["X-RateLimit-Global"] = "true"
                    return json_response(body, status=429, headers=headers)
        self.counted.append(Counted(now, request.path, channel_id))
        return None

    def _recent(self, now: float, per: float) -> list[Counted]:
        """The counted requests of the last `per` seconds, oldest first."""
        first = len(self.counted)
        while first > 0 and self.counted[first - 1].at > now - per:
            first -= 1
        return self.counted[first:]

    def window_peaks(self, limits: RateLimits | None = None) -> dict[str, int]:
        """The most counted requests any window held: overall, and in one channel."""
        limits = limits or self.limits or RateLimits()
        by_channel: dict[int, list[float]] = {}
        for c in self.counted:
            if c.channel_id is not None:
                by_channel.setdefault(c.channel_id, []).append(c.at)
        overall = window_peak([c.at for c in self.counted], limits.window(GLOBAL)[1])
        per = limits.window(CHANNEL)[1]
        return {
            GLOBAL: overall,
            CHANNEL: max((window_peak(t, per) for t in by_channel.values()), default=0),
        }

    def limit_violations(self, limits: RateLimits | None = None) -> dict[str, tuple[int, int]]:
        """The windows that held more counted requests than `limits` allow (the enforced
        ones by default): kind -> (peak, allowed). Empty when every window was kept."""
        limits = limits or self.limits or RateLimits()
        peaks = self.window_peaks(limits)
        allowed = {kind: limits.window(kind)[0] for kind in peaks}
        return {k: (peaks[k], allowed[k]) for k in peaks if peaks[k] > allowed[k]}

    def received(self, user_ids: Iterable[int]) -> dict[int, list[str]]:
        """The contents of the messages in each member's DMs (of those with any)."""
        wanted = {self.dm_channels[u]: u for u in user_ids if u in self.dm_channels}
        found: dict[int, list[str]] = {}
        for message in self.messages.values():
            user = wanted.get(int(message["channel_id"]))
            if user is not None and message["author"]["id"] == str(BOT_ID):
                found.setdefault(user, []).append(message["content"])
        return found

    async def _gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.gateway_url})

    async def _gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return json_response({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    async def _me(self, request: web.Request) -> web.Response:
        return json_response(BOT_USER)

    async def _application(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "id": str(APPLICATION_ID),
                "name": "climat-koom",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": user_payload(next(self.ids), "Owner"),
                "verify_key": "0" * 64,
                "flags": 0,
                "rpc_origins": [],
                "team": None,
            }
        )

    async def _put_commands(self, request: web.Request) -> web.Response:
        body = await request.json()
        errors = {
            str(i): problem
            for i, command in enumerate(body)
            if (problem := command_problems(command))
        }
        if len(body) > 100:
            errors["_errors"] = [
                {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 100 or fewer"}
            ]
        if errors:
            raise invalid(errors)
        guild = request.match_info.get("guild")
        stored = [
            {
                **command,
                "id": str(next(self.ids)),
                "application_id": str(APPLICATION_ID),
                "version": "1",
                "default_member_permissions": (None if permissions is None else str(permissions)),
                "type": command.get("type", 1),
            }
            for command in body
            for permissions in [command.get("default_member_permissions")]
        ]
        self.commands[int(guild) if guild else None] = stored
        return json_response(stored)

    async def _callback(self, request: web.Request) -> web.Response:
        record = self.interactions.get(int(request.match_info["id"]))
        if record is None or record.token != request.match_info["token"]:
            raise DiscordError(404, 10062, "Unknown interaction")
        record.attempts += 1
        try:
            return await self._acknowledge(record, request)
        finally:
            record.answered.set()

    async def _acknowledge(self, record: Interaction, request: web.Request) -> web.Response:
        if record.ack_type is not None:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if time.perf_counter() - record.dispatched_at > ACK_DEADLINE:
            raise DiscordError(404, 10062, "Unknown interaction")
        body, files = await read_body(request)
        kind = body.get("type")
        if kind not in CALLBACKS[record.type]:
            raise invalid(
                {
                    "type": {
                        "_errors": [{"code": "INTERACTION_TYPE_INVALID", "message": "Invalid type"}]
                    }
                }
            )
        data = body.get("data") or {}
        message: dict[str, Any] | None = None
        if kind == 4:
            check_message(data, files)
            message = self._message(
                int(record.payload["channel_id"]), data.get("content", ""), data, files
            )
            record.original_id = int(message["id"])
            record.message_ids.append(record.original_id)
            record.changed.set()
        elif kind == 5:
            message = self._message(
                int(record.payload["channel_id"]), "", {"flags": data.get("flags", 0)}
            )
            message["flags"] |= 1 << 7  # loading
            record.original_id, record.loading = int(message["id"]), True
        elif kind == 7:
            check_message(data, files)
            message = self._edit(int(record.payload["message"]["id"]), data, files)
            record.edited_ids.append(int(message["id"]))
            record.changed.set()
        elif kind == 8:
            record.choices = check_choices(data.get("choices", []))
        elif kind == 9:
            check_modal(data)
            record.modal = data
        record.ack_type, record.acked_at = kind, time.perf_counter()
        resource: dict[str, Any] = {"type": kind}
        if message is not None:
            resource["message"] = message
        flags = (message or {}).get("flags", 0)
        return json_response(
            {
                "interaction": {
                    "id": str(record.id),
                    "type": record.type,
                    "response_message_id": message["id"] if message else None,
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": bool(flags & EPHEMERAL),
                },
                "resource": resource,
            }
        )

    def _by_token(self, request: web.Request) -> Interaction:
        token = request.match_info["token"]
        for record in self.interactions.values():
            if record.token == token and record.ack_type is not None:
                return record
        raise DiscordError(404, 10015, "Unknown Webhook")

    async def _followup(self, request: web.Request) -> web.Response:
        record = self._by_token(request)
        body, files = await read_body(request)
        check_message(body, files)
        self.bodies.append(body)
        if record.loading and record.original_id is not None:
            # The first follow-up after a deferred message edits the "thinking" message.
            record.loading = False
            message = self._edit(record.original_id, {**body, "flags": None}, files)
            message["flags"] &= ~(1 << 7)
            record.message_ids.append(int(message["id"]))
        else:
            message = self._message(
                int(record.payload["channel_id"]), body.get("content", ""), body, files
            )
            record.message_ids.append(int(message["id"]))
        record.changed.set()
        if request.query.get("wait") in ("true", "1", "True"):
            return json_response(message)
        return web.Response(status=204)

    async def _webhook_message(self, request: web.Request) -> web.Response:
        record = self._by_token(request)
        target = request.match_info["message"]
        if target == "@original":
            if record.original_id is not None:
                message_id = record.original_id
            elif "message" in record.payload:
                message_id = int(record.payload["message"]["id"])
            else:
                raise DiscordError(404, 10008, "Unknown Message")
        else:
            message_id = int(target)
        if message_id not in self.messages:
            raise DiscordError(404, 10008, "Unknown Message")
        if request.method == "DELETE":
            del self.messages[message_id]
            record.loading = False
            return web.Response(status=204)
        if request.method == "GET":
            return json_response(self.messages[message_id])
        body, files = await read_body(request)
        check_message(body, files, editing=True)
        message = self._edit(message_id, body, files)
        if record.loading and message_id == record.original_id:
            record.loading = False
            message["flags"] &= ~(1 << 7)
            record.message_ids.append(message_id)
        else:
            record.edited_ids.append(message_id)
        record.changed.set()
        return json_response(message)

    async def _channel_message(self, request: web.Request) -> web.Response:
        channel_id = int(request.match_info["channel"])
        channel = self.channels.get(channel_id)
        if channel is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        if channel_id in self.forbidden_channels:
            raise DiscordError(403, 50001, "Missing Access")
        if channel.get("recipient") in self.closed_dms:
            raise DiscordError(403, 50007, "Cannot send messages to this user")
        body, files = await read_body(request)
        check_message(body, files)
        self.bodies.append(body)
        return json_response(self._message(channel_id, body.get("content", ""), body, files))

    def join(self, where: Where, user_id: int) -> None:
        """The user is a member of the guild of `where` (without acting there)."""
        assert where.guild_id is not None
        self.guild_members.add((where.guild_id, user_id))

    async def _guild_member(self, request: web.Request) -> web.Response:
        guild_id, user_id = int(request.match_info["guild"]), int(request.match_info["user"])
        if guild_id not in self.guilds:
            raise DiscordError(404, 10004, "Unknown Guild")
        if (guild_id, user_id) not in self.guild_members:
            raise DiscordError(404, 10007, "Unknown Member")
        user = user_payload(user_id, f"user{user_id}")
        return json_response(
            {
                "user": user,
                "roles": [],
                "joined_at": now_iso(),
                "deaf": False,
                "mute": False,
                "flags": 0,
                "nick": None,
                "pending": False,
            }
        )

    async def _dm_channel(self, request: web.Request) -> web.Response:
        user_id = int((await request.json())["recipient_id"])
        channel_id = self._dm_channel_of(user_id)
        return json_response(
            {
                "id": str(channel_id),
                "type": 1,
                "last_message_id": None,
                "recipients": [user_payload(user_id, f"user{user_id}")],
            }
        )

    # --- messages -------------------------------------------------------------------------

    def _message(
        self,
        channel_id: int,
        content: str,
        body: Mapping[str, Any] | None = None,
        files: list[dict[str, Any]] | None = None,
        author: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = body or {}
        message_id = next(self.ids)
        channel = self.channels.get(channel_id, {})
        message: dict[str, Any] = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": author or BOT_USER,
            "content": content,
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": files or [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": body.get("flags") or 0,
            "components": body.get("components") or [],
        }
        if "guild_id" in channel:
            message["guild_id"] = channel["guild_id"]
        self.messages[message_id] = message
        return message

    def _edit(
        self, message_id: int, body: Mapping[str, Any], files: list[dict[str, Any]]
    ) -> dict[str, Any]:
        message = self.messages[message_id]
        for key in ("content", "components"):
            if key in body:
                message[key] = body[key] or ([] if key == "components" else "")
        if "attachments" in body or files:
            message["attachments"] = files
        message["edited_timestamp"] = now_iso()
        return message


async def read_body(request: web.Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The JSON body of a request, JSON or multipart (`payload_json` and files)."""
    if not request.content_type.startswith("multipart/"):
        return (await request.json() if request.can_read_body else {}), []
    form = await request.post()
    body = json.loads(str(form.get("payload_json", "{}")))
    files = []
    for name, value in form.items():
        if name.startswith("files[") and hasattr(value, "file"):
            data = value.file.read()
            files.append(
                {
                    "id": str(len(files)),
                    "filename": value.filename,
                    "size": len(data),
                    "url": f"http://127.0.0.1/attachments/{value.filename}",
                    "proxy_url": f"http://127.0.0.1/attachments/{value.filename}",
                    "content_type": value.content_type,
                }
            )
    return body, files


def _error(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


def _too_long(limit: int) -> dict[str, Any]:
    return _error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _length(errors: dict[str, Any], key: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, str) or not low <= len(value) <= high:
        errors[key] = (
            _too_long(high)
            if isinstance(value, str) and value
            else _error("BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")
        )


def check_message(
    body: Mapping[str, Any], files: list[dict[str, Any]], *, editing: bool = False
) -> None:
    """Raise Discord's 50035 for what breaks its message limits (and 50006 when empty)."""
    errors: dict[str, Any] = {}
    content = body.get("content") or ""
    if len(content) > 2000:
        errors["content"] = _too_long(2000)
    rows = body.get("components") or []
    if len(rows) > 5:
        errors["components"] = _too_long(5)
    seen: set[str] = set()
    for r, row in enumerate(rows):
        items = row.get("components", [])
        selects = [c for c in items if c["type"] == 3]
        if row.get("type") != 1 or not 1 <= len(items) <= 5 or (selects and len(items) > 1):
            errors[f"components.{r}"] = _error("COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Bad row")
        for c, item in enumerate(items):
            where = f"components.{r}.components.{c}"
            if item["type"] == 2 and item.get("style") == 5:
                if "custom_id" in item or not item.get("url"):
                    errors[where] = _error("BUTTON_COMPONENT_INVALID_URL", "A link needs a url")
            elif "custom_id" in item:
                _length(errors, f"{where}.custom_id", item["custom_id"], 1, 100)
                if item["custom_id"] in seen:
                    errors[f"{where}.custom_id"] = _error(
                        "COMPONENT_CUSTOM_ID_DUPLICATED", "Duplicate custom id"
                    )
                seen.add(item["custom_id"])
            if item["type"] == 2:
                _length(errors, f"{where}.label", item.get("label"), 1, 80)
            if item["type"] == 3:
                options = item.get("options", [])
                if not 1 <= len(options) <= 25:
                    errors[f"{where}.options"] = _too_long(25)
                values = [o.get("value") for o in options]
                if len(set(values)) != len(values):
                    errors[f"{where}.options"] = _error(
                        "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED", "Duplicate value"
                    )
                for o, option in enumerate(options):
                    _length(errors, f"{where}.options.{o}.label", option.get("label"), 1, 100)
                    _length(errors, f"{where}.options.{o}.value", option.get("value"), 1, 100)
                if len(item.get("placeholder") or "") > 150:
                    errors[f"{where}.placeholder"] = _too_long(150)
    if errors:
        raise invalid(errors)
    if not editing and not content and not rows and not files and not body.get("embeds"):
        raise DiscordError(400, 50006, "Cannot send an empty message")


def check_modal(body: Mapping[str, Any]) -> None:
    """Raise 50035 for a modal Discord would refuse."""
    errors: dict[str, Any] = {}
    _length(errors, "title", body.get("title"), 1, 45)
    _length(errors, "custom_id", body.get("custom_id"), 1, 100)
    rows = body.get("components") or []
    if not 1 <= len(rows) <= 5:
        errors["components"] = _too_long(5)
    for r, row in enumerate(rows):
        for c, item in enumerate(row.get("components", [])):
            where = f"components.{r}.components.{c}"
            _length(errors, f"{where}.label", item.get("label"), 1, 45)
            _length(errors, f"{where}.custom_id", item.get("custom_id"), 1, 100)
            if len(item.get("placeholder") or "") > 100:
                errors[f"{where}.placeholder"] = _too_long(100)
            if not 1 <= item.get("max_length", 4000) <= 4000:
                errors[f"{where}.max_length"] = _too_long(4000)
    if errors:
        raise invalid(errors)


def check_choices(choices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Autocomplete choices as Discord accepts them: at most 25, names 1-100 characters."""
    errors: dict[str, Any] = {}
    if len(choices) > 25:
        errors["choices"] = _too_long(25)
    for i, choice in enumerate(choices):
        _length(errors, f"choices.{i}.name", choice.get("name"), 1, 100)
        _length(errors, f"choices.{i}.value", choice.get("value"), 1, 100)
    if errors:
        raise invalid(errors)
    return choices


def command_problems(command: Mapping[str, Any]) -> dict[str, Any]:
    """What Discord would refuse in one slash command of a bulk overwrite."""
    errors: dict[str, Any] = {}

    def name(key: str, value: object) -> None:
        if not isinstance(value, str) or not COMMAND_NAME.match(value) or value != value.lower():
            errors[key] = _error("APPLICATION_COMMAND_INVALID_NAME", "Invalid name")

    def localised(
        key: str, values: Mapping[str, str] | None, check: Callable[[str, str], None]
    ) -> None:
        for locale, value in (values or {}).items():
            if locale not in LOCALES:
                errors[f"{key}.{locale}"] = _error("LOCALE_INVALID", "Invalid locale")
            check(f"{key}.{locale}", value)

    def description(key: str, value: object) -> None:
        _length(errors, key, value, 1, 100)

    name("name", command.get("name"))
    description("description", command.get("description"))
    localised("name_localizations", command.get("name_localizations"), name)
    localised("description_localizations", command.get("description_localizations"), description)
    options = command.get("options") or []
    if len(options) > 25:
        errors["options"] = _too_long(25)
    required_done = False
    for i, option in enumerate(options):
        name(f"options.{i}.name", option.get("name"))
        description(f"options.{i}.description", option.get("description"))
        localised(f"options.{i}.name_localizations", option.get("name_localizations"), name)
        localised(
            f"options.{i}.description_localizations",
            option.get("description_localizations"),
            description,
        )
        if option.get("required") and required_done:
            errors[f"options.{i}.required"] = _error(
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID", "Required options must be first"
            )
        required_done = required_done or not option.get("required")
    return errors
