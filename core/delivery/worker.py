"""The delivery worker: sends due delivery rows through the adapters at the platforms' limits.

Any number of workers (one per instance) share a database. A worker claims a batch of due rows
with a lease (who, until when: on PostgreSQL with FOR UPDATE SKIP LOCKED, on SQLite through the
single writer), so nobody else sends them before the lease ends; a killed worker's leases run
out and its rows are taken over. The next batch is claimed while the last rows of the current
one wait for a send slot, so the sends never wait for a claim. Each chat's rows go out as one
`deliver` call (coalesced), paced by that platform's `Budget`. The send slot is free again as
soon as the platform answered: the outcome is kept in memory and the outcomes known meanwhile
are written together, one unit of work for many rows, while the lease keeps the rows from
being sent again. A mark that cannot be written (the database is down or locked) is kept and
written when the database is back. A kill repeats at most the sends whose outcome is not yet
written (at most UNMARKED); the leases of a killed instance of the same host (its process
gone) are taken over at once.

Transient failures (network errors, 5xx, 429s) never kill a row: they back off to a ceiling of
`BACKOFF_MAX`, and the first send that goes through again brings the backlog forward, so it
drains at the full rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, exists, or_, select, update
from sqlalchemy.engine import Connection

from core.db.tables import accounts, deliveries, groups, members, reminders
from core.delivery.fanout import fan_out
from core.delivery.protocol import Deliverer, DeliveryResult, Notice, Outcome
from core.identity import AccountRef, ChatRef, Platform
from core.instance import dead_here, instance_id
from core.metrics import DELIVERY_ATTEMPTS, RATE_LIMITED
from core.models import ReminderPreference
from core.pacing import (
    DISCORD_LIMITS,
    TELEGRAM_LIMITS,
    Budget,
    Limits,
    Pacer,
    wait_for_send_time,
)
from core.services.reminders import REMINDER_KIND

if TYPE_CHECKING:
    from core.services import Services

log = logging.getLogger(__name__)

LIMITS: Mapping[Platform, Limits] = {
    Platform.TELEGRAM: TELEGRAM_LIMITS,
    Platform.DISCORD: DISCORD_LIMITS,
}
BATCH = 100
"""Due rows claimed per round, at most."""
CLAIMED_PER_LEASE_SECOND = 5
"""And at most this many per second of lease, so that a round is sent well within its lease
even when several instances share the platform's rate."""
MAX_ATTEMPTS = 8
"""A row refused this many times for a reason other than a transient one is dead."""
BACKOFF_BASE = timedelta(seconds=5)
BACKOFF_MAX = timedelta(minutes=1)
SEND_CONCURRENCY = 8
"""Sends in flight at once: enough to fill the rate, few enough that replies to people are
not queued behind a hundred sends."""
UNMARKED = 4 * SEND_CONCURRENCY
"""Rows sent (or being sent) whose outcome is not yet written, at most: what a kill may repeat.
A send waits for room here before it takes a slot."""
CLAIM_AHEAD = 2 * SEND_CONCURRENCY
"""The next batch is claimed once this few chats of the current one still wait for a slot."""
GLOBAL_429_CHATS = 3
"""Rate limits answered to this many chats within GLOBAL_429_WINDOW slow down every send."""
GLOBAL_429_WINDOW = timedelta(seconds=1)
FAN_OUT_EVERY = 2.0
"""Seconds between fan-outs while running."""
IDLE_POLL = 0.5
"""Seconds to wait when nothing was due."""
STOP_FLUSH = 10.0
"""Seconds `stop` keeps trying to write the marks the database refused."""
_TOKEN_IN_URL = re.compile(r"bot\d+:[\w-]+")
Mark = tuple[list[int], dict[str, object]]
"""Rows and the values to write on them."""
RELEASED: dict[str, object] = {"claimed_by": None, "lease_until": None}


class DeliveryWorker:
    """Claims due delivery rows, sends them through `deliverers`, records the outcome."""

    def __init__(
        self,
        services: Services,
        deliverers: Mapping[Platform, Deliverer],
        *,
        budgets: Mapping[Platform, Budget] | None = None,
    ) -> None:
        """`budgets` overrides the adapters' own (a shared one across instances)."""
        self.services = services
        self.deliverers = dict(deliverers)
        self._pacers: dict[Platform, Budget] = {
            p: (budgets or {}).get(p)
            or d.pacer
            or Pacer(LIMITS.get(p, TELEGRAM_LIMITS), services.clock)
            for p, d in deliverers.items()
        }
        self.me = instance_id()
        self.lease = timedelta(seconds=services.settings.delivery_lease_seconds)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight = asyncio.Semaphore(SEND_CONCURRENCY)
        self._unmarked = asyncio.Semaphore(UNMARKED)
        self._waiting = 0  # chats claimed that wait for a send slot
        self._room = asyncio.Event()  # set when few chats wait: time to claim the next batch
        self._limited: dict[Platform, list[datetime]] = {p: [] for p in deliverers}
        self._queued: list[tuple[Mark, asyncio.Future[bool]]] = []  # for the next write
        self._unwritten: list[Mark] = []  # refused by the database, kept
        self._recorder: asyncio.Task[None] | None = None
        self._failing: set[Platform] = set()
        self.sent = 0
        """Messages this worker sent (since it was made)."""

    @property
    def unwritten(self) -> int:
        """Rows whose outcome the database refused to write, kept until it takes them."""
        return _rows(self._unwritten)

    async def start(self) -> None:
        """Run in the background: fan out every FAN_OUT_EVERY seconds and send what is due."""
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="delivery-worker")

    async def stop(self) -> None:
        """Stop claiming rows, let the sends in flight finish and mark, then return."""
        self._stopping.set()
        self._room.set()
        if self._task is not None:
            await self._task
            self._task = None
        for _ in range(int(STOP_FLUSH / IDLE_POLL)):
            if await self._write_kept():
                break
            await asyncio.sleep(IDLE_POLL)
        if self._unwritten:
            log.error("%d delivery outcomes could not be written before stopping", self.unwritten)

    async def run_once(self) -> int:
        """Send one batch of due rows and write their outcomes; the number of `deliver`
        calls made."""
        if not await self._write_kept():
            return 0  # the database still refuses writes: claim nothing more meanwhile
        return await self._send_all(await self._claim())

    async def _claim(self) -> list[Any]:
        now = self.services.clock.now()
        return await self.services.db.transaction(
            claim_due,
            self.me,
            now,
            now + self.lease,
            [p.value for p in self.deliverers],
            min(BATCH, int(self.lease.total_seconds() * CLAIMED_PER_LEASE_SECOND)),
        )

    async def _send_all(self, rows: Sequence[Any]) -> int:
        """Send claimed rows, one `deliver` call per chat; the number of calls made."""
        by_chat: dict[tuple[str, str], list[Any]] = {}
        for row in sorted(rows, key=lambda r: (r.priority, r.id)):
            by_chat.setdefault((row.platform, row.chat_id), []).append(row)
        self._waiting += len(by_chat)
        sends = [self._send(chat_rows) for chat_rows in by_chat.values()]
        return sum(await asyncio.gather(*sends))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_fan_out = loop.time()
        sending: set[asyncio.Task[int]] = set()
        while not self._stopping.is_set():
            claimed = False
            try:
                if loop.time() >= next_fan_out:
                    next_fan_out = loop.time() + FAN_OUT_EVERY
                    await self._take_over_dead_here()
                    await fan_out(self.services)
                if await self._write_kept() and (rows := await self._claim()):
                    claimed = True
                    task = asyncio.create_task(self._send_all(rows))
                    sending.add(task)
                    task.add_done_callback(self._sent_batch)
                    task.add_done_callback(sending.discard)
            except Exception as exc:
                log.warning("delivery round failed: %s", self._redact(exc))
                log.debug("delivery round failed", exc_info=True)
            if claimed:
                await self._until_room()
            else:
                await self._pause(IDLE_POLL)
        await asyncio.gather(*sending, return_exceptions=True)

    def _sent_batch(self, task: asyncio.Task[int]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("delivery round failed: %s", self._redact(exc))

    async def _until_room(self) -> None:
        """Wait until only CLAIM_AHEAD chats wait for a send slot (or stopping)."""
        while self._waiting > CLAIM_AHEAD and not self._stopping.is_set():
            self._room.clear()
            await self._room.wait()

    async def _pause(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when stopping cut it short."""
        if seconds <= 0:
            return self._stopping.is_set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return self._stopping.is_set()

    async def _send(self, rows: list[Any]) -> int:
        """Send one chat's rows as one message and record the outcome; 1 if sent. The send
        slot is given back when the platform answered, before the outcome is written."""
        ids = [r.id for r in rows]
        waiting = True
        try:
            async with self._unmarked:
                async with self._in_flight:
                    waiting = False
                    self._stop_waiting()
                    sent = await self._send_now(rows)
                if sent is None:
                    await self._mark((ids, RELEASED))
                    return 0
                chat, result = sent
                # A rate limit is the platform asking to wait, not a failure: no attempt.
                attempts = max(r.attempts for r in rows) + (0 if _limited(result) else 1)
                await self._record(chat, ids, attempts, result)
                return 1
        finally:
            if waiting:  # cancelled before its turn
                self._stop_waiting()

    def _stop_waiting(self) -> None:
        """One chat less waits for a send slot; with few left, the next batch is claimed."""
        self._waiting -= 1
        if self._waiting <= CLAIM_AHEAD:
            self._room.set()

    async def _send_now(self, rows: list[Any]) -> tuple[ChatRef, DeliveryResult] | None:
        """Take a send time and send; the chat and the platform's answer, or None when the
        rows are given back unsent (too late in their lease, no send time, stopping)."""
        first = rows[0]
        platform = Platform(first.platform)
        chat = ChatRef(platform, first.chat_id, is_group=first.is_group)
        pacer = self._pacers[platform]
        bulk = min(r.priority for r in rows) > 0
        if min(r.lease_until for r in rows) - self.services.clock.now() < self.lease / 2:
            return None  # waited too long for a free slot: too late in the lease to send
        clock = self.services.clock
        now = clock.now()
        latest = now + (min(r.lease_until for r in rows) - now) / 2
        try:
            ready = await wait_for_send_time(
                pacer,
                chat.chat_id,
                group=chat.is_group,
                bulk=bulk,
                clock=clock,
                pause=self._pause,
                latest=latest,
            )
        except Exception as exc:  # the shared budget is out of reach: send nothing
            log.warning("no send time for %s: %s", platform.value, exc)
            return None
        if not ready:
            return None  # stopping, or too late in the lease to send safely
        notices = [Notice(r.kind, r.challenge_id, r.locale, r.payload) for r in rows]
        try:
            result = await self.deliverers[platform].deliver(chat, notices)
        except Exception as exc:
            result = DeliveryResult(Outcome.FAILED, detail=self._redact(exc))
        self.sent += result.outcome is Outcome.SENT
        DELIVERY_ATTEMPTS.labels(platform.value, result.outcome.value).inc()
        if _limited(result):  # before the slot is free: the next sends wait already
            RATE_LIMITED.labels(platform.value).inc()
            assert result.retry_after is not None
            await pacer.hold_off(chat.chat_id, result.retry_after)
            if self._many_limited(platform):
                await pacer.hold_off(None, result.retry_after)
        return chat, result

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
        values: dict[str, object] = {
            "attempts": attempts,
            "last_error": result.detail or None,
            **RELEASED,
        }
        if result.outcome is Outcome.SENT:
            values.update(status="sent", sent_at=now)
        elif result.outcome is Outcome.GONE or (
            result.outcome is Outcome.FAILED and attempts >= MAX_ATTEMPTS
        ):
            values["status"] = "dead"
        else:
            values["not_before"] = now + (result.retry_after or backoff(attempts))
        written = await self._mark((ids, values))
        if result.outcome is Outcome.RETRY and result.retry_after is None:
            self._failing.add(chat.platform)
        elif result.outcome is Outcome.SENT and chat.platform in self._failing:
            self._failing.discard(chat.platform)
            await self._back_now(chat.platform)
        if result.outcome is Outcome.GONE and written:
            try:
                if chat.is_group:
                    await self.services.groups.set_reachable(chat, False)
                else:
                    await self.services.members.set_reachable(
                        AccountRef(chat.platform, chat.chat_id), False
                    )
            except Exception as exc:  # the row is dead; the next send there says so again
                log.warning("%s not marked unreachable: %s", chat.chat_id, exc)

    async def _mark(self, mark: Mark) -> bool:
        """Write `mark` with the others known by then (one unit of work for them all), or
        keep it for when the database takes writes again; True once written."""
        written = asyncio.get_running_loop().create_future()
        self._queued.append((mark, written))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._write_queued(), name="delivery-marks")
        return await asyncio.shield(written)

    async def _write_queued(self) -> None:
        """Write the kept and queued marks, together, until none is queued."""
        while self._queued:
            queued, self._queued = self._queued, []
            marks = self._unwritten + [mark for mark, _ in queued if mark[0]]
            try:
                await self.services.db.transaction(write_marks, marks)
            except Exception as exc:
                log.warning("delivery outcomes kept until the database is back: %s", exc)
                self._unwritten, written = marks, False
            else:
                if self._unwritten:
                    log.info("%d kept delivery outcomes written", _rows(self._unwritten))
                self._unwritten, written = [], True
            for _, future in queued:
                if not future.done():
                    future.set_result(written)

    async def _write_kept(self) -> bool:
        """Write the marks kept while the database refused them; True when none is left."""
        return not self._unwritten or await self._mark(([], {}))

    async def _take_over_dead_here(self) -> None:
        """Free at once the leases of an instance of this host whose process is gone (killed,
        then restarted): other instances' leases are waited out."""
        now = self.services.clock.now()
        async with self.services.db.read() as conn:
            holders = (
                await conn.execute(
                    select(deliveries.c.claimed_by)
                    .where(deliveries.c.status == "pending", deliveries.c.lease_until > now)
                    .distinct()
                )
            ).scalars()
            dead = [h for h in holders if h is not None and dead_here(h)]
        if dead:
            freed = await self.services.db.transaction(release_leases, dead)
            log.info("took over %d deliveries of stopped instances %s", freed, ", ".join(dead))

    async def _back_now(self, platform: Platform) -> None:
        """The platform answers again: what waits out a transient failure is due now."""
        try:
            await self.services.db.transaction(due_now, platform.value, self.services.clock.now())
        except Exception as exc:
            log.warning("backlog of %s not brought forward: %s", platform.value, exc)

    def _redact(self, exc: BaseException) -> str:
        """The error as text, with any bot token cut out."""
        text = f"{type(exc).__name__}: {exc}"
        settings = self.services.settings
        for secret in (settings.telegram_token, settings.discord_token):
            if secret is not None and secret.get_secret_value():
                text = text.replace(secret.get_secret_value(), "***")
        return _TOKEN_IN_URL.sub("bot***", text)[:500]


def _claimable(now: datetime) -> Any:
    """Due rows that nobody holds a running lease on."""
    return and_(
        deliveries.c.status == "pending",
        deliveries.c.not_before <= now,
        or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until <= now),
    )


def claim_due(
    conn: Connection,
    me: str,
    now: datetime,
    until: datetime,
    platforms: Sequence[str],
    limit: int,
) -> list[Any]:
    """A unit of work: cancel the due rows nobody wants any more, then lease up to `limit`
    due rows of `platforms` to `me` until `until` (rows locked by a concurrent claim on
    PostgreSQL are skipped, not waited for); the claimed rows."""
    conn.execute(update(deliveries).where(_claimable(now), _unwanted()).values(status="cancelled"))
    due = (
        select(deliveries.c.id)
        .where(_claimable(now), deliveries.c.platform.in_(platforms))
        .order_by(deliveries.c.priority, deliveries.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(due.scalar_subquery()))
        .values(claimed_by=me, lease_until=until)
        .returning(*deliveries.c)
    )
    return list(claimed.all())


def write_marks(conn: Connection, marks: Sequence[Mark]) -> None:
    """A unit of work: write each mark's values on its rows, in order; a run of marks with
    the same columns is one statement executed for many rows."""
    run: list[dict[str, object]] = []
    for ids, values in marks:
        if run and run[0].keys() != {"row_id", *(f"v_{k}" for k in values)}:
            _write_run(conn, run)
            run = []
        run += [{"row_id": i, **{f"v_{k}": v for k, v in values.items()}} for i in ids]
    if run:
        _write_run(conn, run)


def _write_run(conn: Connection, params: list[dict[str, object]]) -> None:
    columns = [key.removeprefix("v_") for key in params[0] if key != "row_id"]
    statement = (
        update(deliveries)
        .where(deliveries.c.id == bindparam("row_id"))
        .values({c: bindparam(f"v_{c}") for c in columns})
    )
    conn.execute(statement, params)


def _rows(marks: Sequence[Mark]) -> int:
    return sum(len(ids) for ids, _ in marks)


def _limited(result: DeliveryResult) -> bool:
    """Rate limited: the platform said how long to wait."""
    return result.outcome is Outcome.RETRY and result.retry_after is not None


def release_leases(conn: Connection, holders: Sequence[str]) -> int:
    """A unit of work: the pending rows leased to `holders` are free to claim again."""
    result = conn.execute(
        update(deliveries)
        .where(deliveries.c.status == "pending", deliveries.c.claimed_by.in_(holders))
        .values(**RELEASED)
    )
    return max(result.rowcount, 0)


def due_now(conn: Connection, platform: str, now: datetime) -> int:
    """A unit of work: the platform's rows backing off after a failure are due at once."""
    result = conn.execute(
        update(deliveries)
        .where(
            deliveries.c.platform == platform,
            deliveries.c.status == "pending",
            deliveries.c.not_before > now,
            deliveries.c.attempts > 0,
            deliveries.c.lease_until.is_(None),
        )
        .values(not_before=now)
    )
    return max(result.rowcount, 0)


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
