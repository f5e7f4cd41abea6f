"""The delivery worker: sends due delivery rows through the adapters at the platforms' limits.

One worker per database. Each chat's due rows go out as one `deliver` call (coalesced), paced
by that platform's `Pacer`, and are marked right after the send: a crash between the two
repeats at most that one message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, or_, select, update

from core.db.tables import accounts, deliveries, groups, members, reminders
from core.delivery.fanout import fan_out
from core.delivery.protocol import Deliverer, DeliveryResult, Notice, Outcome
from core.identity import AccountRef, ChatRef, Platform
from core.metrics import DELIVERY_ATTEMPTS, RATE_LIMITED
from core.models import ReminderPreference
from core.pacing import DISCORD_LIMITS, TELEGRAM_LIMITS, Limits, Pacer
from core.services.reminders import REMINDER_KIND

if TYPE_CHECKING:
    from core.services import Services

log = logging.getLogger(__name__)

LIMITS: Mapping[Platform, Limits] = {
    Platform.TELEGRAM: TELEGRAM_LIMITS,
    Platform.DISCORD: DISCORD_LIMITS,
}
BATCH = 100
"""Due rows claimed per round."""
MAX_ATTEMPTS = 8
"""A row still failing after this many attempts is dead."""
BACKOFF_BASE = timedelta(seconds=5)
BACKOFF_MAX = timedelta(hours=1)
SEND_CONCURRENCY = 8
"""Sends in flight at once: enough to fill the rate, few enough that each is marked right
after it went (a crash repeats at most these) and that replies to people are not queued
behind a hundred database reads."""
GLOBAL_429_CHATS = 3
"""Rate limits answered to this many chats within GLOBAL_429_WINDOW slow down every send."""
GLOBAL_429_WINDOW = timedelta(seconds=1)
FAN_OUT_EVERY = 2.0
"""Seconds between fan-outs while running."""
IDLE_POLL = 0.5
"""Seconds to wait when nothing was due."""
_TOKEN_IN_URL = re.compile(r"bot\d+:[\w-]+")


class DeliveryWorker:
    """Claims due delivery rows, sends them through `deliverers`, records the outcome."""

    def __init__(self, services: Services, deliverers: Mapping[Platform, Deliverer]) -> None:
        self.services = services
        self.deliverers = dict(deliverers)
        self._pacers = {
            p: d.pacer or Pacer(LIMITS.get(p, TELEGRAM_LIMITS), services.clock)
            for p, d in deliverers.items()
        }
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight = asyncio.Semaphore(SEND_CONCURRENCY)
        self._limited: dict[Platform, list[datetime]] = {p: [] for p in deliverers}

    async def start(self) -> None:
        """Run in the background: fan out every FAN_OUT_EVERY seconds and send what is due."""
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="delivery-worker")

    async def stop(self) -> None:
        """Stop claiming rows, let the sends in flight finish and mark, then return."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def run_once(self) -> int:
        """Send one batch of due rows; the number of `deliver` calls made."""
        now = self.services.clock.now()
        async with self.services.db.write() as conn:
            await conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.status == "pending",
                    deliveries.c.not_before <= now,
                    _unwanted(),
                )
                .values(status="cancelled")
            )
        async with self.services.db.read() as conn:
            rows = (
                await conn.execute(
                    select(deliveries)
                    .where(
                        deliveries.c.status == "pending",
                        deliveries.c.not_before <= now,
                        deliveries.c.platform.in_([p.value for p in self.deliverers]),
                    )
                    .order_by(deliveries.c.priority, deliveries.c.id)
                    .limit(BATCH)
                )
            ).all()
        by_chat: dict[tuple[str, str], list[Any]] = {}
        for row in rows:
            by_chat.setdefault((row.platform, row.chat_id), []).append(row)
        sends = [self._send(chat_rows) for chat_rows in by_chat.values()]
        return sum(await asyncio.gather(*sends))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_fan_out = loop.time()
        while not self._stopping.is_set():
            sent = 0
            try:
                if loop.time() >= next_fan_out:
                    next_fan_out = loop.time() + FAN_OUT_EVERY
                    await fan_out(self.services)
                sent = await self.run_once()
            except Exception:
                log.exception("delivery round failed")
            if not sent:
                await self._pause(IDLE_POLL)

    async def _pause(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when stopping cut it short."""
        if seconds <= 0:
            return self._stopping.is_set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return self._stopping.is_set()

    async def _send(self, rows: list[Any]) -> int:
        """Send one chat's rows as one message and record the outcome; 1 if sent."""
        async with self._in_flight:
            return await self._send_now(rows)

    async def _send_now(self, rows: list[Any]) -> int:
        first = rows[0]
        platform = Platform(first.platform)
        chat = ChatRef(platform, first.chat_id, is_group=first.is_group)
        pacer = self._pacers[platform]
        bulk = min(r.priority for r in rows) > 0
        wait = pacer.reserve(chat.chat_id, group=chat.is_group, bulk=bulk)
        if await self._pause(wait.total_seconds()):
            return 0  # stopping: the rows stay pending for the next run
        notices = [Notice(r.kind, r.challenge_id, r.locale, r.payload) for r in rows]
        try:
            result = await self.deliverers[platform].deliver(chat, notices)
        except Exception as exc:
            result = DeliveryResult(Outcome.RETRY, detail=self._redact(exc))
        limited = result.outcome is Outcome.RETRY and result.retry_after is not None
        DELIVERY_ATTEMPTS.labels(platform.value, result.outcome.value).inc()
        if limited:
            RATE_LIMITED.labels(platform.value).inc()
        # A rate limit is the platform asking to wait, not a failure: it costs no attempt.
        attempts = max(r.attempts for r in rows) + (0 if limited else 1)
        await self._record(chat, [r.id for r in rows], attempts, result)
        if limited:
            assert result.retry_after is not None
            pacer.penalise(chat.chat_id, result.retry_after)
            if self._many_limited(platform):
                pacer.penalise(None, result.retry_after)
        return 1

    def _many_limited(self, platform: Platform) -> bool:
        """Record a rate limit; True when several chats got one within a second (the bot as
        a whole is going too fast, not one chat)."""
        now = self.services.clock.now()
        recent = [t for t in self._limited[platform] if now - t < GLOBAL_429_WINDOW]
        recent.append(now)
        self._limited[platform] = recent
        return len(recent) >= GLOBAL_429_CHATS

    async def _record(
        self, chat: ChatRef, ids: list[int], attempts: int, result: DeliveryResult
    ) -> None:
        now = self.services.clock.now()
        values: dict[str, object] = {"attempts": attempts, "last_error": result.detail or None}
        if result.outcome is Outcome.SENT:
            values.update(status="sent", sent_at=now)
        elif result.outcome is Outcome.GONE or (
            attempts >= MAX_ATTEMPTS and not result.retry_after
        ):
            values["status"] = "dead"
        else:
            values["not_before"] = now + (result.retry_after or backoff(attempts))
        async with self.services.db.write() as conn:
            await conn.execute(update(deliveries).where(deliveries.c.id.in_(ids)).values(**values))
        if result.outcome is Outcome.GONE:
            if chat.is_group:
                await self.services.groups.set_reachable(chat, False)
            else:
                await self.services.members.set_reachable(
                    AccountRef(chat.platform, chat.chat_id), False
                )

    def _redact(self, exc: Exception) -> str:
        """The error as text, with any bot token cut out."""
        text = f"{type(exc).__name__}: {exc}"
        settings = self.services.settings
        for secret in (settings.telegram_token, settings.discord_token):
            if secret is not None and secret.get_secret_value():
                text = text.replace(secret.get_secret_value(), "***")
        return _TOKEN_IN_URL.sub("bot***", text)[:500]


def backoff(attempts: int) -> timedelta:
    """The wait before the next try after `attempts` failed ones: doubling, capped."""
    return min(BACKOFF_BASE * (1 << min(max(attempts - 1, 0), 20)), BACKOFF_MAX)


def _unwanted() -> Any:
    """Rows whose recipient stopped news (or, for a reminder, paused or switched reminders
    off), was erased, or became unreachable, since they were written."""
    is_reminder = deliveries.c.kind == REMINDER_KIND
    opted_out = exists().where(
        members.c.id == deliveries.c.member_id,
        or_(
            members.c.erased_at.is_not(None),
            and_(~is_reminder, members.c.news_opt_out.is_(True)),
            and_(is_reminder, members.c.reminder == ReminderPreference.NONE.value),
            members.c.stopped_at.is_not(None),
        ),
    )
    paused = exists().where(
        reminders.c.member_id == deliveries.c.member_id,
        reminders.c.challenge_id == deliveries.c.challenge_id,
        reminders.c.paused.is_(True),
    )
    account_gone = exists().where(
        accounts.c.platform == deliveries.c.platform,
        accounts.c.external_id == deliveries.c.chat_id,
        accounts.c.unreachable_at.is_not(None),
    )
    group_gone = exists().where(
        groups.c.platform == deliveries.c.platform,
        groups.c.chat_id == deliveries.c.chat_id,
        groups.c.unreachable_at.is_not(None),
    )
    return or_(
        opted_out,
        and_(is_reminder, paused),
        and_(deliveries.c.is_group.is_(False), account_gone),
        and_(deliveries.c.is_group.is_(True), group_gone),
    )
