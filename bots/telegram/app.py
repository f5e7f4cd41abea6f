"""The Telegram bot: python-telegram-bot fetches updates (long polling or a webhook), the
engine answers them, `render` shows the replies.

Updates run concurrently across people and in order for one person; an update seen before
is skipped; a person who blocked the bot, or a group that removed it, is marked unreachable.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
import secrets
from collections.abc import Awaitable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    LinkPreviewOptions,
    Update,
    User,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    BaseUpdateProcessor,
    ContextTypes,
    Defaults,
    TypeHandler,
)

from bots.http_headers import hide_server_version
from bots.telegram.inbound import (
    Blocked,
    Incoming,
    InlineSearch,
    Migrated,
    RemovedFromGroup,
    parse,
    sender_of,
)
from bots.telegram.outage import OutageLog
from bots.telegram.render import TEXT_LIMIT, execute, fit_text, plan
from bots.telegram.request import AiohttpRequest
from bots.telegram.sending import RepliesFirst, unthrottled
from conversations.announcements import announcement_replies
from conversations.deeplinks import make_payload
from conversations.engine import Engine
from conversations.flow import CommandSpec
from conversations.flows.cards import card_text
from conversations.model import Capabilities, Reply, Sender
from conversations.registry import default_flows
from conversations.state import Write
from core.clock import SystemClock
from core.delivery.protocol import DeliveryResult, Notice, Outcome
from core.errors import Misconfigured, NotFound, port_taken
from core.i18n import SUPPORTED_LOCALES, Translator, reading_in, resolve_locale
from core.identity import AccountRef, ChatRef, Platform
from core.instance import instance_id
from core.keyed_locks import KeyedLocks
from core.models import Group, Progress
from core.pacing import TELEGRAM_LIMITS, Budget, Pacer
from core.roles import hold_role, release_role
from core.services import Services
from core.services.menus import MENU_KIND
from core.services.progress import progress_of
from core.services.updates import Claim
from core.settings import Settings
from core.sharing import encouragement, encourages

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ("message", "callback_query", "inline_query", "my_chat_member")
MAX_CONCURRENT_UPDATES = 32
"""Updates handled at once: more only adds contention (one SQLite writer, one HTTP pool)."""
UNBOUNDED = 1_000_000
POLL_TIMEOUT = 30
POLLER_ROLE = "telegram-poller"
POLLER_LEASE = 20.0
"""Seconds the long-polling role stays with an instance that stopped renewing it (killed)."""
POLLER_RENEW = 5.0
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
BUSY_WAIT = 10.0
"""Seconds a retried webhook update waits for its copy in flight in another instance, before
answering 503 so that Telegram posts it again later."""
INLINE_RESULTS = 20
INLINE_CACHE_SECONDS = 30
ADMIN_STATUSES = frozenset({ChatMember.ADMINISTRATOR, ChatMember.OWNER})
IN_GROUP_STATUSES = ADMIN_STATUSES | {ChatMember.MEMBER}
TOKEN_LOGGERS = (
    __name__,
    "httpx",
    "telegram",
    "telegram.Bot",
    "telegram.ext",
    "telegram.ext.Application",
    "telegram.ext.ExtBot",
    "telegram.ext.Updater",
    "telegram.ext.AIORateLimiter",
    "telegram.request.BaseRequest",
    "telegram.request.HTTPXRequest",
)
"""Loggers whose records may hold the token (a logger's filter sees only its own records)."""
CHAT_NOT_FOUND = "chat not found"
MENU_ROUNDS = 3
"""Times a person's menu is set again while their roles keep changing under it."""


@dataclass(frozen=True, slots=True)
class Menus:
    """The command menus, derived from the commands as their flows describe them."""

    private: tuple[str, ...]
    organiser: tuple[str, ...]
    group: tuple[str, ...]
    admin: tuple[str, ...]

    @classmethod
    def of(cls, described: Sequence[tuple[CommandSpec, bool]]) -> Menus:
        """Private chats: the private menu's commands (organisers add theirs); groups: the
        group menu's; group administrators: theirs, then the group's."""
        private = tuple(spec.name for spec, org in described if spec.private_menu and not org)
        group = tuple(spec.name for spec, _ in described if spec.group_menu)
        return cls(
            private=private,
            organiser=private
            + tuple(spec.name for spec, org in described if spec.private_menu and org),
            group=group,
            admin=tuple(spec.name for spec, _ in described if spec.admin) + group,
        )


def capabilities(bot_username: str) -> Capabilities:
    """What Telegram shows: 64-byte callback data, 4,096-character texts, location buttons."""
    return Capabilities(
        forms=False,
        choice_id_max_bytes=64,
        max_text_length=TEXT_LIMIT,
        location_requests=True,
        share_link_template=f"https://t.me/{bot_username}?start={{payload}}",
    )


class PerPersonOrder(BaseUpdateProcessor):
    """At most `running` updates are handled at once, and one person's (or chat's) in the
    order they came.

    Each update first queues behind the same person's earlier ones, then for a free slot, so
    a person who sends many updates at once holds one slot, not all of them. (The lock is
    taken before anything awaits, in the order python-telegram-bot starts the updates.)
    """

    def __init__(self, running: int) -> None:
        super().__init__(UNBOUNDED)
        self._running = asyncio.Semaphore(running)
        self._order: KeyedLocks[int] = KeyedLocks()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _order_key(update)
        if key is None:
            async with self._running:
                await coroutine
            return
        async with self._order.hold(key), self._running:
            await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free."""


def _inline_description(t: Translator, progress: Progress) -> str:
    """An inline result's line under the title: the percentage of the goal and the action,
    or who started while the percentage says next to nothing."""
    challenge = progress.challenge
    if encourages(progress.count, challenge.goal):
        started = encouragement(t, progress.count)
        return t("telegram.inline_description_started", started=started, action=challenge.action)
    return t("telegram.inline_description", percent=progress.percent, action=challenge.action)


def _order_key(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat is not None else None


class TokenRefused(Misconfigured):
    """Telegram does not know the configured token."""

    def __init__(self) -> None:
        super().__init__("operations.error.telegram_token")


class HideToken(logging.Filter):
    """Replaces the bot token in a record's message and traceback."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.token in record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, "<token>")
        return True


def file_url(base_url: str) -> str:
    """Where the Bot API serves files, after its URL: `.../bot` -> `.../file/bot` (the
    convention of api.telegram.org and of a self-hosted Bot API server)."""
    head, _, _ = base_url.rstrip("/").rpartition("/")
    return f"{head}/file/bot"


class TelegramAdapter:
    """The bot on Telegram, started beside the other adapters in one asyncio loop."""

    name = "Telegram"
    platform = Platform.TELEGRAM

    def __init__(
        self,
        services: Services,
        settings: Settings,
        *,
        rate_limiter: BaseRateLimiter[Any] | None = None,
        webhook_listen: str = "0.0.0.0",
        budget: Budget | None = None,
    ) -> None:
        """`budget` holds Telegram's flood limits for replies and deliveries (shared by several
        instances; None: this process's own); `rate_limiter` replaces the replies' limiter;
        `webhook_listen` is the webhook server's address."""
        if settings.telegram_token is None or not settings.telegram_token.get_secret_value():
            raise ValueError("TELEGRAM_TOKEN is not set")
        token = settings.telegram_token.get_secret_value().strip()
        self.services = services
        self.settings = settings
        self.webhook_listen = webhook_listen
        # Send times are waited out in real seconds: wall-clock time, whatever clock the
        # domain runs on (a test's frozen clock made every reply to a chat wait one more second).
        self.pacer: Budget | None = budget or Pacer(TELEGRAM_LIMITS, SystemClock())
        self._hide_token = HideToken(token)
        for name in TOKEN_LOGGERS:  # before python-telegram-bot logs its URLs
            logging.getLogger(name).addFilter(self._hide_token)
        self.application: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(token)
            .base_url(settings.telegram_base_url)
            .base_file_url(file_url(settings.telegram_base_url))
            .rate_limiter(rate_limiter or RepliesFirst(self.pacer))
            .request(AiohttpRequest())
            .get_updates_request(AiohttpRequest(pool_size=1))
            .concurrent_updates(PerPersonOrder(MAX_CONCURRENT_UPDATES))
            .defaults(Defaults(link_preview_options=LinkPreviewOptions(is_disabled=True)))
            .job_queue(None)
            .build()
        )
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self._engine: Engine | None = None
        self._keyboards: set[int] = set()
        self._webhook: web.AppRunner | None = None
        self.outage = OutageLog()
        self._poller: asyncio.Task[None] | None = None
        self.told_second_poller = False
        self._told_conflict = False
        self._me = f"{instance_id()}:{secrets.token_hex(2)}"  # this adapter, as a poller
        services.membership.register(Platform.TELEGRAM.value, self._in_group)
        self._unfinished: set[int] = set()  # update ids in flight elsewhere, still not done
        self._claimed: set[int] = set()  # update ids the webhook claimed before handing them on

    @property
    def engine(self) -> Engine:
        """The engine, once `start` has learnt the bot's username."""
        if self._engine is None:
            raise RuntimeError("the Telegram adapter is not started")
        return self._engine

    @property
    def _menus(self) -> Menus:
        return Menus.of(self.engine.described())

    @property
    def me(self) -> User:
        """The bot's own user (after `start`)."""
        user: User = self.application.bot.bot
        return user

    @property
    def username(self) -> str:
        """The bot's username, without @ (after `start`)."""
        return self.me.username or ""

    async def start(self) -> None:
        """Connect, set the command menus, then poll (or serve the webhook); returns once
        updates flow."""
        app = self.application
        try:
            try:
                await app.initialize()
            except InvalidToken:  # its message holds the token
                raise TokenRefused() from None
            except NetworkError as exc:
                raise Misconfigured(
                    "operations.error.telegram_unreachable",
                    problem=str(exc).replace(self._hide_token.token, "<token>"),
                ) from None
            self._engine = Engine(self.services, default_flows(), capabilities(self.username))
            await self._set_commands()
            await app.start()
            if self.settings.telegram_webhook_url:
                await self._start_webhook(self.settings.telegram_webhook_url)
            else:
                assert app.updater is not None
                if await self._hold_poller():
                    await self._poll()
                else:  # a poller runs, or was killed: it may free the role within its lease
                    self._poller = asyncio.create_task(self._poll_when_free())
        except BaseException:
            await self.stop()
            raise
        log.info("Telegram bot @%s is running", self.username)

    async def stop(self) -> None:
        """Stop fetching updates, finish those in progress, disconnect."""
        app = self.application
        if self._poller is not None:
            self._poller.cancel()
            with suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
            with suppress(Exception):  # the next poller need not wait for the lease
                await self.services.db.transaction(release_role, POLLER_ROLE, self._me)
        if self._webhook is not None:
            await self._webhook.cleanup()
            self._webhook = None
        if app.running:
            await app.stop()
        await app.shutdown()
        await app.bot.shutdown()  # also when starting failed half-way
        for name in TOKEN_LOGGERS:
            logging.getLogger(name).removeFilter(self._hide_token)

    async def _hold_poller(self) -> bool:
        """Take or renew the long-polling role among the instances on this database."""
        now = self.services.clock.now()
        lease = timedelta(seconds=POLLER_LEASE)
        return await self.services.db.transaction(hold_role, POLLER_ROLE, self._me, now, lease)

    async def _poll(self) -> None:
        """Long-poll Telegram, renewing the poller's role while at it."""
        updater = self.application.updater
        assert updater is not None
        await updater.start_polling(
            timeout=POLL_TIMEOUT,
            bootstrap_retries=3,
            allowed_updates=ALLOWED_UPDATES,
            error_callback=self._on_poll_error,
        )
        self._poller = asyncio.create_task(self._keep_poller())

    async def _keep_poller(self) -> None:
        while True:
            await asyncio.sleep(POLLER_RENEW)
            try:
                held = await self._hold_poller()
            except Exception as exc:  # the database is away: keep polling meanwhile
                log.warning("the Telegram poller's role was not renewed: %s", exc)
                continue
            if not held:
                log.error(Translator(self.settings.default_locale)("telegram.second_poller"))
                assert self.application.updater is not None
                await self.application.updater.stop()
                return

    async def _poll_when_free(self) -> None:
        """Poll once the role is free (a killed poller's lease ran out, or it stopped), however
        late; if another instance keeps polling past a lease, say so once and leave it the
        updates meanwhile (deliveries go on here). A database error is retried."""
        patience = int(POLLER_LEASE * 1.5 / POLLER_RENEW) + 1
        for tries in itertools.count(1):
            await asyncio.sleep(POLLER_RENEW)
            try:
                held = await self._hold_poller()
            except Exception as exc:
                log.warning("the Telegram poller's role could not be asked for: %s", exc)
                continue
            if held:
                log.info("Telegram: this instance now receives the updates (long polling)")
                await self._poll()
                return
            if tries == patience:
                self.told_second_poller = True
                log.error(Translator(self.settings.default_locale)("telegram.second_poller"))

    def _on_poll_error(self, error: TelegramError) -> None:
        """A failed poll, in one line; a program polling with this token elsewhere (not on
        this database) is named once, not at every 409."""
        if isinstance(error, Conflict) and "webhook" not in error.message.lower():
            if not self._told_conflict:
                self._told_conflict = True
                log.error(Translator(self.settings.default_locale)("telegram.another_poller_came"))
            return
        self.outage.failed(error)

    # --- updates ----------------------------------------------------------------------

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Claim the update across instances, wait for the same person's earlier ones, handle
        it and mark it done (not done if this process dies: Telegram's retry takes it over)."""
        self.outage.recovered()
        updates, platform = self.services.updates, Platform.TELEGRAM.value
        key = self._update_key(update)
        if update.update_id in self._claimed:  # by the webhook, before it came here
            self._claimed.discard(update.update_id)
        elif await self._claim(update) is not Claim.NEW:
            log.info("Telegram update %s was handled elsewhere: skipped", update.update_id)
            return
        try:
            await updates.take_turn(platform, key)
            marked = await self._handle(update, updates.marking_done(platform, key))
        except Exception:  # a failed update is apologised for, not handled again
            await updates.done(platform, key)
            raise
        if not marked:
            await updates.done(platform, key)

    def _update_key(self, update: Update) -> str:
        return f"{self.me.id}:{update.update_id}"

    async def _claim(self, update: Update) -> Claim:
        """Claim the update in the shared log; one in flight elsewhere is waited for (a while)
        and, if still not done, noted so that the webhook asks Telegram to post it again."""
        updates, platform, key = (
            self.services.updates,
            Platform.TELEGRAM.value,
            self._update_key(update),
        )
        order = _order_key(update)
        claim = await updates.claim(
            platform, key, None if order is None else str(order), update.update_id
        )
        if claim is Claim.BUSY and not await updates.wait_done(platform, key, BUSY_WAIT):
            self._unfinished.add(update.update_id)
        return claim

    async def _handle(self, update: Update, done: Write) -> bool:
        """Handle the update; True when `done` (marking it handled) was written with the
        conversation turn it was."""
        match parse(update, self.me):
            case Incoming() as incoming:
                await self._converse(incoming, done)
                return True
            case Blocked(account=account):
                await self.services.members.set_reachable(account, False)
            case RemovedFromGroup(chat=chat):
                await self.services.groups.set_reachable(chat, False)
            case Migrated(chat=chat, new_chat_id=new_chat_id):
                with suppress(NotFound):  # a group that never used the bot
                    await self.services.groups.migrate(chat, new_chat_id)
            case InlineSearch() as search:
                await self._inline(search)
        return False

    async def _converse(self, incoming: Incoming, done: Write) -> None:
        """Run one input through the engine (the update marked handled with the turn's state)
        and show the replies; then answer a pressed button."""
        envelope = incoming.envelope
        sender, chat = envelope.sender, envelope.chat
        try:
            if chat.is_group:
                admin = incoming.anonymous_admin or await self._is_admin(incoming.chat_id, sender)
                envelope = replace(envelope, sender=replace(sender, is_chat_admin=admin))
            answer = await self.engine.answer(envelope, also=[done])
            await self._show(incoming, answer.replies, Translator(answer.locale))
        finally:
            if incoming.callback_id is not None:
                await self._answer(incoming.callback_id)

    async def _show(self, incoming: Incoming, replies: Sequence[Reply], t: Translator) -> None:
        envelope = incoming.envelope
        chat_id = incoming.chat_id
        private = not envelope.chat.is_group
        calls = plan(
            replies,
            t,
            private=private,
            pressed=incoming.pressed,
            keyboard_shown=chat_id in self._keyboards,
        )
        if calls.keyboard_shown and private:
            self._keyboards.add(chat_id)
        else:
            self._keyboards.discard(chat_id)
        try:
            await execute(self.application.bot, chat_id, calls.calls)
        except Forbidden as error:
            log.info("Telegram chat %s refuses messages: %s", chat_id, error.message)
            await self._unreachable(envelope.chat, envelope.sender)

    async def _unreachable(self, chat: ChatRef, sender: Sender) -> None:
        if chat.is_group:
            await self.services.groups.set_reachable(chat, False)
        else:
            await self.services.members.set_reachable(sender.account, False)

    async def _is_admin(self, chat_id: int, sender: Sender) -> bool:
        """Whether Telegram says the person administers the chat, asked now."""
        try:
            member = await self.application.bot.get_chat_member(
                chat_id, int(sender.account.external_id)
            )
        except (BadRequest, Forbidden) as error:
            log.warning("getChatMember failed in chat %s: %s", chat_id, error.message)
            return False
        return member.status in ADMIN_STATUSES

    async def _in_group(self, group: Group, external_id: str) -> bool | None:
        """Whether Telegram says the account is in the group (a restricted member still is),
        for the private challenges of the organisation owning it; None when unreachable."""
        try:
            member = await self.application.bot.get_chat_member(
                int(group.chat_id), int(external_id)
            )
        except (BadRequest, Forbidden) as error:  # the bot left the group: no one is let in
            log.warning("getChatMember failed in chat %s: %s", group.chat_id, error.message)
            return False
        except NetworkError:
            return None
        return member.status in IN_GROUP_STATUSES or bool(getattr(member, "is_member", False))

    async def _answer(self, callback_id: str) -> None:
        """Stop the button's spinner; a query too old to answer is no matter."""
        try:
            await self.application.bot.answer_callback_query(callback_id)
        except BadRequest as error:
            log.info("callback query not answered: %s", error.message)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the failure with the update id, then apologise briefly where someone waits."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("Telegram update %s failed", update_id, exc_info=context.error)
        if not isinstance(update, Update) or isinstance(context.error, Forbidden):
            return
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None:
            return
        try:
            t = Translator(await self.engine.locale_for(sender_of(user)))
            await self.application.bot.send_message(chat.id, t("telegram.sorry"))
        except Exception:
            log.exception("the apology for update %s failed too", update_id)

    # --- deliveries -------------------------------------------------------------------

    async def deliver(self, chat: ChatRef, notices: list[Notice]) -> DeliveryResult:
        """Send the notices as one batch of messages to a group or a private chat (a request
        for the person's command menu sets it); Telegram's answer says whether it went, never
        will, or may later."""
        messages = [n for n in notices if n.kind != MENU_KIND]
        replies = await announcement_replies(self.services, messages) if messages else []
        t = Translator(notices[0].locale if notices else self.settings.default_locale)
        calls = plan(replies, t, private=not chat.is_group).calls
        token = unthrottled.set(True)
        try:
            if len(messages) < len(notices):
                await self._follow_roles(AccountRef(Platform.TELEGRAM, chat.chat_id))
            if calls:
                await execute(self.application.bot, int(chat.chat_id), calls)
        except RetryAfter as error:
            wait = error.retry_after
            delay = wait if isinstance(wait, timedelta) else timedelta(seconds=wait)
            return DeliveryResult(Outcome.RETRY, retry_after=delay, detail=error.message)
        except Forbidden as error:
            return DeliveryResult(Outcome.GONE, detail=error.message)
        except ChatMigrated as error:  # the group became a supergroup: next time, there
            with suppress(NotFound):
                await self.services.groups.migrate(chat, str(error.new_chat_id))
            return DeliveryResult(Outcome.RETRY, detail=error.message)
        except BadRequest as error:  # before NetworkError, its base class
            gone = CHAT_NOT_FOUND in error.message.lower()
            return DeliveryResult(Outcome.GONE if gone else Outcome.FAILED, detail=error.message)
        except NetworkError as error:  # timeouts, 5xx, connection errors
            return DeliveryResult(Outcome.RETRY, detail=error.message)
        finally:
            unthrottled.reset(token)
        return DeliveryResult(Outcome.SENT)

    # --- inline mode ------------------------------------------------------------------

    async def _inline(self, search: InlineSearch) -> None:
        """Challenge cards matching the typed words, each with a button that opens the bot
        on that challenge (crediting the person who shares it, when they are a member).
        Public challenges only: the card goes to a chat of the sender's choosing."""
        member = await self.services.members.find(search.sender.account)
        t = Translator(self.engine.locale_of(member, search.sender))
        with reading_in(t.locale):
            found = await self.services.challenges.search(search.query, INLINE_RESULTS)
        results = []
        for challenge in found:
            progress = progress_of(challenge, self.services.clock)
            payload = make_payload(challenge.slug, member.id if member is not None else None)
            link = f"https://t.me/{self.username}?start={payload}"
            button = InlineKeyboardButton(t("telegram.inline_open"), url=link)
            results.append(
                InlineQueryResultArticle(
                    id=str(challenge.id),
                    title=challenge.title,
                    description=_inline_description(t, progress),
                    input_message_content=InputTextMessageContent(
                        fit_text(card_text(t, progress))[0]
                    ),
                    reply_markup=InlineKeyboardMarkup([[button]]),
                )
            )
        await self.application.bot.answer_inline_query(
            search.query_id, results, cache_time=INLINE_CACHE_SECONDS, is_personal=True
        )

    # --- start-up ---------------------------------------------------------------------

    async def _set_commands(self) -> None:
        """The command menus in each language: private chats, groups, group administrators,
        and the organisers' own (administrators and every organisation's staff)."""
        menus = self._menus
        scopes: list[tuple[BotCommandScope, Sequence[str]]] = [
            (BotCommandScopeAllPrivateChats(), menus.private),
            (BotCommandScopeAllGroupChats(), menus.group),
            (BotCommandScopeAllChatAdministrators(), menus.admin),
        ]
        bot = self.application.bot
        for scope, names in scopes:
            for language in (None, *SUPPORTED_LOCALES):
                commands = self._commands(names, language or self.settings.default_locale)
                await bot.set_my_commands(commands, scope=scope, language_code=language)
        admins = [a for a in self.settings.organisers if a.platform is Platform.TELEGRAM]
        staff = await self.services.organisations.staff_accounts(Platform.TELEGRAM)
        for account in dict.fromkeys([*admins, *staff]):
            try:
                await self._follow_roles(account)
            except BadRequest as error:  # e.g. an organiser who never wrote to the bot
                log.warning("command menu for %s not set: %s", account, error.message)

    def _commands(self, names: Sequence[str], locale: str) -> list[BotCommand]:
        t = Translator(locale)
        return [BotCommand(name, t(f"telegram.command.{name}")) for name in names]

    async def _follow_roles(self, account: AccountRef) -> None:
        """Give the person the menu their roles call for: the organisers' to administrators
        and organisation staff (in each language, the person's own by default), else the
        private chats' (their own menu deleted). Their roles are read again after each change
        until they hold: another instance may have set the other menu meanwhile."""
        if not account.external_id.lstrip("-").isdigit():
            return
        scope = BotCommandScopeChat(int(account.external_id))
        bot = self.application.bot
        applied: bool | None = None
        for _ in range(MENU_ROUNDS):
            organises = account in self.settings.organisers or (
                await self.services.organisations.is_staff(account)
            )
            if organises == applied:
                return
            own = await self.services.members.find(account)
            default = resolve_locale(
                own.language if own else None, None, self.settings.default_locale
            )
            for language in (None, *SUPPORTED_LOCALES):
                if organises:
                    commands = self._commands(self._menus.organiser, language or default)
                    await bot.set_my_commands(commands, scope=scope, language_code=language)
                else:
                    await bot.delete_my_commands(scope=scope, language_code=language)
            applied = organises

    async def _start_webhook(self, url: str) -> None:
        """Serve the webhook on TELEGRAM_WEBHOOK_PORT and tell Telegram where it is."""
        secret = self.settings.telegram_webhook_secret
        assert secret is not None  # the settings require it with a webhook URL
        server = web.Application()
        server.on_response_prepare.append(hide_server_version)
        server.router.add_post(urlsplit(url).path or "/", self._on_webhook)
        self._webhook = web.AppRunner(server, access_log=None)
        await self._webhook.setup()
        port = self.settings.telegram_webhook_port
        try:
            await web.TCPSite(self._webhook, self.webhook_listen, port).start()
        except OSError as exc:
            raise port_taken("TELEGRAM_WEBHOOK_PORT", port, exc) from exc
        await self.application.bot.set_webhook(
            url, secret_token=secret.get_secret_value(), allowed_updates=ALLOWED_UPDATES
        )

    async def _on_webhook(self, request: web.Request) -> web.Response:
        """One update posted by Telegram: checked against the secret, then queued."""
        secret = self.settings.telegram_webhook_secret
        assert secret is not None
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.get_secret_value().encode()):
            return web.Response(status=403)
        try:
            data = await request.json()
            if not isinstance(data, dict):  # a list, a string...: not an update
                return web.Response(status=400)
            update = Update.de_json(data, self.application.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            return web.Response(status=400)
        # Answered once handled, not when queued: an instance that dies mid-way never said
        # 200, so Telegram posts the update again (maybe to another instance, which takes it
        # over). Shielded: a client that hangs up does not cut a handling in half.
        await asyncio.shield(self._take(update))
        if update.update_id in self._unfinished:
            self._unfinished.discard(update.update_id)
            return web.Response(status=503)
        return web.Response()

    async def _take(self, update: Update) -> None:
        """Handle a posted update. On PostgreSQL it is claimed at once, so that the shared
        log orders it among the same person's updates, wherever they came (their turns are
        taken there, not behind this process's own lock); on SQLite, one instance, this
        process's per-person order is enough."""
        if self.services.db.is_sqlite:
            processor = self.application.update_processor
            await processor.process_update(update, self.application.process_update(update))
            return
        if await self._claim(update) is Claim.NEW:
            self._claimed.add(update.update_id)
            await self.application.process_update(update)
