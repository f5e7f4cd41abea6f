"""The Discord bot: a discord.py client beside the other adapters in one asyncio loop.

Every interaction is acknowledged first (Discord allows 3 s) and answered once the engine has
replied: a command or a submitted modal is deferred as "thinking" and answered by follow-ups;
a pressed button is deferred as an update, so that a reply that `replaces` edits the pressed
message. A modal must be the first answer to an interaction, so the buttons that open one
answer with it at once: the answer to a request for text needs nothing from the database; a
form reads what the conversation awaits, within a time limit.

In a server, replies are ephemeral (seen by the member alone) except those of the group flow,
which speak to the channel. The bot asks for no privileged intent: it reads slash commands,
components and modals, and typed messages only in DMs.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from functools import partial
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands

from bots.discord.commands import CatalogueTranslator, build_commands, offered
from bots.discord.inbound import (
    account_of,
    chat_of,
    component_input,
    modal_input,
    picture_input,
    sender_of,
    typed_input,
)
from bots.discord.render import (
    ANSWER,
    FORM,
    Item,
    answer_modal,
    clip,
    form_modal,
    render,
)
from bots.discord.sending import CLOCK, REPLY_DEADLINE, retry_after, send_reply
from conversations.announcements import announcement_replies
from conversations.engine import Engine
from conversations.model import (
    Answer,
    Capabilities,
    Command,
    Envelope,
    FormInput,
    Input,
    Message,
    Reply,
    Sender,
)
from conversations.registry import default_flows
from core.delivery.protocol import DeliveryResult, Notice, Outcome
from core.errors import Misconfigured
from core.i18n import Translator, reading_in
from core.identity import AccountRef, ChatRef, Platform
from core.models import Challenge, Group
from core.pacing import DISCORD_LIMITS, Budget, Pacer, wait_for_send_time
from core.services import Services
from core.settings import Settings

log = logging.getLogger(__name__)

CAPABILITIES = Capabilities(
    forms=True,
    choice_id_max_bytes=100,
    max_buttons_per_row=5,
    max_text_length=2000,
    location_requests=False,
    private_in_groups=True,  # replies in a server are ephemeral, except the group flow's
    # Discord has no link into a bot's DMs that carries a payload: say what to type there.
    share_link_template="/start {payload}",
)
INTENTS = discord.Intents(guilds=True, dm_messages=True)
FORM_BUDGET = 2.0
"""Seconds to read an awaited form before Discord's 3 s are at risk."""
START_TIMEOUT = 60.0
STOP_GRACE = 10.0
CLOSE_WAIT = 5.0
"""Seconds the gateway task gets to end once closed: discord.py retries for ever a shard that
was still connecting when closed, so it is cancelled after that."""
DM_CHANNELS_KEPT = 100_000
"""Members' DM channel ids kept (the least recently used forgotten): a broadcast to members
already written to costs one request each, not two (discord.py keeps 128)."""
GONE_CODES = frozenset({50007, 50001, 50013, 10003, 10013})
"""Refusals for good: DMs closed, missing access or permissions, unknown channel or user."""


def point_at(api_base_url: str, gateway_url: str) -> None:
    """Point discord.py at these REST and gateway addresses (a proxy, or a test's fake).

    discord.py keeps both process-wide: the REST base of every route (the webhook routes of
    interactions included), and the gateway it connects to at first and after an
    invalidated session. It never asks `/gateway/bot` unless sharded.
    """
    discord.http.Route.BASE = api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class Component(discord.ui.DynamicItem[Item], template=r"(?s).{1,100}"):
    """Any button or select menu of ours, found again from its custom_id when pressed, so
    that components keep working after a restart (the ids say everything)."""

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: Item, match: Any, /
    ) -> Component:
        return cls(item)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client = interaction.client
        if isinstance(client, KoomClient):
            await client.adapter.on_component(interaction, self.item)


class KoomClient(discord.Client):
    """The discord.py client: it hands slash commands, components, modals and DM messages to
    the adapter."""

    def __init__(self, adapter: DiscordAdapter, **options: Any) -> None:
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # no voice here
        # Titles and names come from people: they never ping @everyone, a role or a member.
        super().__init__(
            intents=INTENTS, allowed_mentions=discord.AllowedMentions.none(), **options
        )
        self.adapter = adapter
        self.tree = app_commands.CommandTree(self)
        for command in build_commands(offered(adapter.engine.described()), adapter):
            self.tree.add_command(command)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(Component)
        await self.tree.set_translator(CatalogueTranslator())

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.type is discord.InteractionType.modal_submit:
            await self.adapter.on_modal(interaction)

    async def on_message(self, message: discord.Message) -> None:
        if message.guild is None and not message.author.bot:
            await self.adapter.on_dm(message)

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        await self.adapter.on_removed(guild)

    async def on_connect(self) -> None:  # once per shard, at its READY
        self.adapter.shard_connected()


class ShardedKoomClient(KoomClient, discord.AutoShardedClient):
    """The same client running some of the bot's shards (KOOM_DISCORD_SHARDS): Discord sends
    each server's events to one shard, so instances running different shards share them."""


def make_client(adapter: DiscordAdapter, settings: Settings) -> KoomClient:
    """One connection for every server, or the shards named in KOOM_DISCORD_SHARDS."""
    if settings.shards is None:
        return KoomClient(adapter)
    shard_ids, shard_count = settings.shards
    return ShardedKoomClient(adapter, shard_ids=list(shard_ids), shard_count=shard_count)


class DiscordAdapter:
    """Climat-koom on Discord: `start` connects and syncs the commands, `stop` disconnects
    once the interactions in progress are answered; `deliver` posts to a channel or a DM."""

    name = "Discord"
    platform = Platform.DISCORD

    def __init__(
        self, services: Services, settings: Settings, budget: Budget | None = None
    ) -> None:
        """`budget` holds Discord's limits for every request the bot makes outside
        interactions (shared by several instances; else this process's own); answers to
        interactions are apart, as Discord counts them apart."""
        self.services = services
        self.settings = settings
        self.pacer: Budget = budget or Pacer(DISCORD_LIMITS, CLOCK)
        self.reply_deadline = REPLY_DEADLINE
        self.engine = Engine(services, default_flows(), CAPABILITIES)
        self.client = make_client(self, settings)
        self._connection: asyncio.Task[None] | None = None
        self._shards = len(settings.shards[0]) if settings.shards else 1
        self._connects = 0
        self._all_connected = asyncio.Event()
        self._busy: set[asyncio.Task[Any]] = set()
        self._dm_channels: OrderedDict[int, int] = OrderedDict()  # user id -> DM channel id
        services.membership.register(Platform.DISCORD.value, self._in_group)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in, sync the slash commands, connect to the gateway; return once every shard of
        this instance is READY (Discord lets a bot identify one shard per 5 s: returning after
        the first left the others' servers unanswered meanwhile)."""
        token = self.settings.discord_token
        assert token is not None, "DISCORD_TOKEN is not set"
        point_at(self.settings.discord_api_base_url, self.settings.discord_gateway_url)
        try:
            await self.client.login(token.get_secret_value().strip())
            await self._sync()
        except discord.LoginFailure:
            await self.client.close()
            raise Misconfigured("operations.error.discord_token") from None
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            await self.client.close()
            raise Misconfigured("operations.error.discord_unreachable", problem=str(exc)) from exc
        except BaseException:
            await self.client.close()
            raise
        ready = asyncio.ensure_future(self._all_connected.wait())
        connection = asyncio.create_task(self.client.connect(reconnect=True))
        self._connection = connection
        done, _ = await asyncio.wait(
            {ready, connection}, timeout=START_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            await self.client.close()
            error = await self._ended(connection)
            if error is not None:
                raise error
            raise TimeoutError(f"no READY from the Discord gateway in {START_TIMEOUT:.0f} s")
        log.info("Discord: connected as %s", self.client.user)

    async def _sync(self) -> None:
        """Replace the bot's slash commands: in DISCORD_GUILD_ID only, else everywhere."""
        guild_id = self.settings.discord_guild_id
        guild = discord.Object(guild_id) if guild_id else None
        if guild is not None:
            self.client.tree.copy_global_to(guild=guild)
        synced = await self.client.tree.sync(guild=guild)
        log.info("Discord: %d slash commands synced %s", len(synced), guild_id or "globally")

    async def stop(self) -> None:
        """Let the interactions in progress finish (a while), then disconnect."""
        try:
            async with asyncio.timeout(STOP_GRACE):
                await self.idle()
        except TimeoutError:
            log.warning("Discord: stopping with %d interactions unanswered", len(self._busy))
        await self.client.close()
        if self._connection is not None:
            error = await self._ended(self._connection)
            if error is not None:
                log.error("Discord: the gateway connection ended with an error", exc_info=error)

    def shard_connected(self) -> None:
        """One more shard is READY (again, after a new session)."""
        self._connects += 1
        if self._connects >= self._shards:
            self._all_connected.set()

    @staticmethod
    async def _ended(connection: asyncio.Task[None]) -> BaseException | None:
        """Once the client is closed: the gateway task's error, if it ended with one."""
        wait = CLOSE_WAIT
        while not (await asyncio.wait({connection}, timeout=wait))[0]:
            connection.cancel()  # again if its retry swallowed it (inside asyncio.wait_for)
            wait = 0.5
        error = (await asyncio.gather(connection, return_exceptions=True))[0]
        return None if isinstance(error, asyncio.CancelledError) else error

    async def idle(self) -> None:
        """Wait until no interaction or DM is being handled."""
        while self._busy:
            await asyncio.wait(set(self._busy))

    def _track(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._busy.add(task)
        task.add_done_callback(self._busy.discard)

    # --- interactions ---------------------------------------------------------------------

    async def command(self, interaction: discord.Interaction[Any], name: str, args: str) -> None:
        """A slash command: the flow command `name` with its option as arguments."""
        value = Command(name, args.strip())
        await self._answer(interaction, value, public=self.engine.is_public(value))

    async def autocomplete(
        self, interaction: discord.Interaction[Any], typed: str
    ) -> list[app_commands.Choice[str]]:
        """Open challenges matching what was typed (25 at most), as inline mode finds them on
        Telegram, titled in the language of the member's client.

        The choices are the answer to the interaction, so they are given up on (none offered)
        rather than late.
        """
        search = self._search(sender_of(interaction).account, typed)
        try:
            with reading_in(self.engine.locale_of(None, sender_of(interaction))):
                found = await asyncio.wait_for(search, 2.0)
        except Exception:
            log.exception("Discord: no challenges to autocomplete")
            return []
        return [app_commands.Choice(name=clip(c.title, 100), value=c.slug) for c in found]

    async def _search(self, account: AccountRef, typed: str) -> list[Challenge]:
        """The search, with the private challenges of the member's organisations (seen by
        them alone: the command they pick checks again where it answers)."""
        member = await self.services.members.find(account)
        mine = (
            frozenset()
            if member is None
            else await self.services.membership.organisations_of(member.id)
        )
        return await self.services.challenges.search(typed, 25, mine)

    async def _in_group(self, group: Group, external_id: str) -> bool | None:
        """Whether the account is in the server of the channel `group` (asked to Discord:
        one member, which needs no privileged intent), for the private challenges of the
        organisation owning it; None when this connection does not know the channel."""
        channel = self.client.get_channel(int(group.chat_id))
        guild = getattr(channel, "guild", None)
        if guild is None:
            return None
        try:
            await guild.fetch_member(int(external_id))
        except discord.NotFound:
            return False
        except discord.HTTPException:
            return None
        return True

    async def on_component(self, interaction: discord.Interaction[Any], item: Item) -> None:
        """A button or select menu of ours: the adapter's own open a modal, the others are
        the choices they carry."""
        custom_id = getattr(item, "custom_id", "")
        if isinstance(item, discord.ui.Button) and custom_id == ANSWER:
            await self._open_answer(interaction, item.label or "")
        elif isinstance(item, discord.ui.Button) and custom_id == FORM:
            await self._open_form(interaction)
        else:
            choice = component_input(interaction.data or {})
            public = self.engine.is_public(choice)
            await self._answer(interaction, choice, public=public, pressed=True)

    async def on_modal(self, interaction: discord.Interaction[Any]) -> None:
        """A submitted modal: text, or a form, for the step that asked for it."""
        await self._answer(interaction, modal_input(interaction.data or {}), public=False)

    async def _answer(
        self,
        interaction: discord.Interaction[Any],
        value: Input,
        *,
        public: bool,
        pressed: bool = False,
    ) -> None:
        """Acknowledge at once, run the engine, then answer with follow-ups (and an edit)."""
        self._track()
        in_guild = interaction.guild_id is not None
        ephemeral = in_guild and not public
        envelope = Envelope(sender_of(interaction), chat_of(interaction), value)
        try:
            if pressed:
                await interaction.response.defer()
            else:
                await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        except discord.HTTPException as error:
            # 40060: another instance of the bot took it; 10062: it came too late.
            log.warning("Discord: interaction %s not acknowledged: %s", interaction.id, error)
            return
        try:
            answer = await self.engine.answer(envelope)
            message = interaction.message
            editable = not in_guild or public or (message is not None and message.flags.ephemeral)
            await self._deliver(interaction, answer, ephemeral, pressed, editable)
        except Exception:
            log.exception("Discord: interaction %s failed", interaction.id)
            await self._apologise(interaction, envelope.sender)

    async def _deliver(
        self,
        interaction: discord.Interaction[Any],
        answer: Answer,
        ephemeral: bool,
        pressed: bool,
        editable: bool,
    ) -> None:
        """Send the rendered replies as follow-ups; the first may replace the pressed message.

        After "thinking", the first follow-up takes the place of the thinking message, which
        goes away when there is nothing to say. In a channel, what is for the sender alone (a
        refusal) is seen by them alone.
        """
        t = Translator(answer.locale)
        shown, aside = answer.replies, []
        if interaction.guild_id is not None and not ephemeral:
            shown = [r for r in answer.replies if not (isinstance(r, Message) and r.personal)]
            aside = [r for r in answer.replies if isinstance(r, Message) and r.personal]
        out = render(shown, t, Component)
        if not out and not pressed:
            await interaction.delete_original_response()
        for index, outgoing in enumerate(out):
            if index == 0 and outgoing.replaces and pressed and editable:
                await interaction.edit_original_response(**outgoing.edit_kwargs())
            else:
                await interaction.followup.send(**outgoing.send_kwargs(), ephemeral=ephemeral)
        for outgoing in render(aside, t, Component):
            await interaction.followup.send(**outgoing.send_kwargs(), ephemeral=True)

    async def _open_answer(self, interaction: discord.Interaction[Any], label: str) -> None:
        """The modal to answer a request for text, at once (the prompt is the message's)."""
        self._track()
        prompt = interaction.message.content if interaction.message is not None else ""
        try:
            await interaction.response.send_modal(answer_modal(label, prompt))
        except discord.HTTPException:
            log.exception("Discord: no modal for interaction %s", interaction.id)

    async def _open_form(self, interaction: discord.Interaction[Any]) -> None:
        """The modal of the form the conversation awaits; a short note when there is none,
        or when reading it would outlast Discord's 3 s."""
        self._track()
        sender = sender_of(interaction)
        envelope = Envelope(sender, chat_of(interaction), FormInput({}))
        t = self._client_words(sender)
        try:
            form = await asyncio.wait_for(self.engine.awaited_form(envelope), FORM_BUDGET)
        except TimeoutError:
            await interaction.response.send_message(t("discord.busy"), ephemeral=True)
            return
        try:
            if form is None:
                await interaction.response.send_message(t("engine.stale_choice"), ephemeral=True)
            else:
                await interaction.response.send_modal(form_modal(form.title, form.fields))
        except discord.HTTPException:
            log.exception("Discord: no form for interaction %s", interaction.id)

    async def _apologise(self, interaction: discord.Interaction[Any], sender: Sender) -> None:
        """A short translated apology, as an answer or a follow-up; never raises."""
        text = self._client_words(sender)("engine.internal_error")
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException:
            log.exception("Discord: could not apologise for interaction %s", interaction.id)

    # --- DMs ------------------------------------------------------------------------------

    async def on_dm(self, message: discord.Message) -> None:
        """A message typed in the bot's DMs: text for the step awaiting it, or a command."""
        value = picture_input(message) or typed_input(
            message.content, bool(message.attachments or message.stickers)
        )
        if value is None:
            return
        self._track()
        account = account_of(message.author)
        sender = Sender(account, message.author.display_name)
        envelope = Envelope(sender, ChatRef(Platform.DISCORD, account.external_id), value)
        try:
            answer = await self.engine.answer(envelope)
            for outgoing in render(answer.replies, Translator(answer.locale), Component):
                # A reply counts against the limits as a delivery does, and goes before them.
                post = partial(message.channel.send, **outgoing.send_kwargs())
                await send_reply(
                    self.pacer, account.external_id, post, deadline=self.reply_deadline
                )
        except Exception:
            log.exception("Discord: DM message %s failed", message.id)
            try:
                await message.channel.send(self._client_words(sender)("engine.internal_error"))
            except discord.HTTPException:
                log.exception("Discord: could not apologise in DM %s", message.channel.id)

    async def on_removed(self, guild: discord.Guild) -> None:
        """The bot left a server (or was removed): its channels can no longer be posted to."""
        self._track()
        for channel in [*guild.channels, *guild.threads]:
            chat = ChatRef(Platform.DISCORD, str(channel.id), is_group=True)
            await self.services.groups.set_reachable(chat, False)

    # --- sending first --------------------------------------------------------------------

    async def deliver(self, chat: ChatRef, notices: list[Notice]) -> DeliveryResult:
        """Post the notices, coalesced, in a channel or a member's DMs."""
        replies = await announcement_replies(self.services, notices)
        t = Translator(notices[0].locale if notices else self.settings.default_locale)
        return await self.send(chat, replies, t)

    async def send(self, chat: ChatRef, replies: Sequence[Reply], t: Translator) -> DeliveryResult:
        """Post `replies` (with the adapter's words in `t`) in a channel (a group chat) or a
        member's DMs. Short rate limits are waited out (per route, by discord.py); closed DMs
        and channels out of reach are GONE, longer rate limits, network errors and 5xx are
        RETRY (transient), other refusals FAILED. Nothing is marked here: the delivery
        worker does it.

        The worker's send time covers the first request; each further one (opening the DMs
        the first time, a second message) takes its own from the budget, since Discord's
        global limit counts requests, not deliveries."""
        first = True

        async def paced() -> None:
            nonlocal first
            if not first:
                await wait_for_send_time(
                    self.pacer, chat.chat_id, group=chat.is_group, bulk=True, clock=CLOCK
                )
            first = False

        try:
            if chat.is_group:
                channel: discord.abc.Messageable = self.client.get_partial_messageable(
                    int(chat.chat_id)
                )
            else:
                channel = await self._dm_channel(int(chat.chat_id), paced)
            for outgoing in render(replies, t, Component):
                await paced()
                await channel.send(**outgoing.send_kwargs())
        except discord.RateLimited as error:
            delay = timedelta(seconds=error.retry_after)
            return DeliveryResult(Outcome.RETRY, retry_after=delay, detail=str(error))
        except discord.HTTPException as error:
            if error.code in GONE_CODES:
                return DeliveryResult(Outcome.GONE, detail=error.text)
            wait = retry_after(error)
            transient = wait is not None or error.status >= 500
            return DeliveryResult(
                Outcome.RETRY if transient else Outcome.FAILED,
                retry_after=wait,
                detail=f"{error.status} {error.text}",
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            return DeliveryResult(Outcome.RETRY, detail=repr(error))
        return DeliveryResult(Outcome.SENT)

    async def _dm_channel(
        self, user_id: int, paced: Callable[[], Awaitable[None]]
    ) -> discord.abc.Messageable:
        """The member's DM channel: known (a member's never changes), or opened (a request,
        `paced` first) and kept."""
        channel_id = self._dm_channels.get(user_id)
        if channel_id is None:
            await paced()
            channel_id = (await self.client.create_dm(discord.Object(user_id))).id
            self._dm_channels[user_id] = channel_id
            if len(self._dm_channels) > DM_CHANNELS_KEPT:
                self._dm_channels.popitem(last=False)
        else:
            self._dm_channels.move_to_end(user_id)
        return self.client.get_partial_messageable(channel_id, type=discord.ChannelType.private)

    # --- words ----------------------------------------------------------------------------

    def _client_words(self, sender: Sender) -> Translator:
        """Words in the language of the member's Discord client (no database needed)."""
        return Translator(self.engine.locale_of(None, sender))
