"""Per-member reminders: one row per pledge, swept every minute when due.

A reminder row holds the next due moment and the pledge's own rhythm (daily or weekly, and the
day of weekly reminders; NULL follows the member's settings). The rule combines them with the
member's time, time zone and quiet hours and the challenge's frequency (`core.reminder_rhythm`),
so a change of settings reschedules every row of the member at once. The sweep reads due rows
by index, writes one delivery row per reminder (its dedupe key is the reminder and its due
moment) and moves the row to its next moment in the same transaction: a restart neither loses
nor repeats one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, bindparam, select, update
from sqlalchemy.engine import Connection

from core.clock import Clock
from core.db.database import Database
from core.db.tables import accounts, challenges, deliveries, members, pledges, reminders
from core.db.upsert import CHUNK, insert_all_new, insert_for
from core.errors import NotFound
from core.identity import PUSH_PLATFORMS
from core.models import Frequency, ReminderPreference
from core.reminder_rhythm import Rhythm, check_choice, rhythm_of
from core.reminder_times import QuietHours, ReminderRule, catch_up, next_due, snooze
from core.services.challenges import OPEN_FOR_PLEDGES

REMINDER_KIND = "reminder"
REMINDER_PRIORITY = 5
"""Reminders go before announcements and broadcasts, after replies to people."""
GRACE = timedelta(hours=3)
"""A reminder missed by longer than this (the bot was down) is skipped, not sent late."""
SWEEP_BATCH = 2000
"""Due reminders handled per transaction."""
_OPEN = [s.value for s in OPEN_FOR_PLEDGES]
_RULE_COLUMNS = (
    members.c.reminder,
    members.c.reminder_hour,
    members.c.reminder_minute,
    members.c.reminder_weekday,
    members.c.quiet_start,
    members.c.quiet_end,
    members.c.timezone,
)
_OWN_COLUMNS = (reminders.c.rhythm, reminders.c.weekday)


@dataclass(frozen=True, slots=True)
class PledgeReminder:
    """How one pledge is reminded, as its member sees it in /mypledges."""

    rhythm: Rhythm | None
    """None: not reminded (paused, or the member switched reminders off)."""
    paused: bool
    own: bool
    """Whether the pledge chose its rhythm (else it follows the member's settings)."""


def _rhythm(row: Any, frequency: Frequency) -> Rhythm | None:
    """The rhythm of a row with the member's rule columns and the pledge's own columns."""
    own = None if row.rhythm is None else ReminderPreference(row.rhythm)
    member = ReminderPreference(row.reminder)
    return rhythm_of(frequency, member, row.reminder_weekday, own, row.weekday)


def rule_for(row: Any, frequency: Frequency) -> ReminderRule | None:
    """The reminder rule of a pledge (a row with the member's rule columns and the pledge's
    own `rhythm` and `weekday`) for a challenge's frequency; None when the member wants no
    reminders."""
    rhythm = _rhythm(row, frequency)
    return None if rhythm is None else _member_rule(row, rhythm.weekday)


def _member_rule(member: Any, weekday: int | None = None) -> ReminderRule:
    """The member's time, time zone and quiet hours, on `weekday` or every day (also while
    reminders are switched off: a snooze still needs them)."""
    return ReminderRule(
        timezone=member.timezone,
        hour=member.reminder_hour,
        minute=member.reminder_minute,
        weekday=weekday,
        quiet=QuietHours(_clock_time(member.quiet_start), _clock_time(member.quiet_end)),
    )


def first_due(
    rule: ReminderRule | None, frequency: Frequency, starts_at: datetime, now: datetime
) -> datetime | None:
    """The next reminder from `now`: the rule's next moment, and for a one-off action the
    first moment on or after the action's start."""
    if rule is None:
        return None
    if frequency is Frequency.ONCE:
        return next_due(rule, max(now, starts_at))
    return next_due(rule, now)


def reschedule_member(conn: Connection, member_id: int, now: datetime) -> None:
    """Recompute every unpaused reminder of a member after a change of settings, inside
    the caller's unit of work."""
    rows = conn.execute(_reminders_of(member_id).where(reminders.c.paused.is_(False))).all()
    for row in rows:
        frequency = Frequency(row.frequency)
        due = first_due(rule_for(row, frequency), frequency, row.starts_at, now)
        conn.execute(
            update(reminders)
            .where(
                reminders.c.member_id == member_id,
                reminders.c.challenge_id == row.challenge_id,
            )
            .values(next_due_at=due)
        )


def _reminders_of(member_id: int) -> Select[Any]:
    """Every reminder of a member, with its challenge's frequency and start, the member's
    rule columns and the pledge's own."""
    return (
        select(
            reminders.c.challenge_id,
            reminders.c.paused,
            challenges.c.frequency,
            challenges.c.starts_at,
            *_RULE_COLUMNS,
            *_OWN_COLUMNS,
        )
        .join(challenges, challenges.c.id == reminders.c.challenge_id)
        .join(members, members.c.id == reminders.c.member_id)
        .where(reminders.c.member_id == member_id)
    )


def _clock_time(minutes: int) -> time:
    return time(minutes // 60 % 24, minutes % 60)


class ReminderService:
    """Schedules, sweeps and answers the members' reminders."""

    def __init__(self, db: Database, clock: Clock, default_locale: str) -> None:
        self.db = db
        self.clock = clock
        self.default_locale = default_locale

    async def schedule(self, member_id: int, challenge_id: int) -> datetime | None:
        """Start (or restart, unpaused) the reminders of a pledge; the first due moment."""
        return await self.db.transaction(self.scheduling(member_id, challenge_id))

    def scheduling(
        self, member_id: int, challenge_id: int
    ) -> Callable[[Connection], datetime | None]:
        """`schedule` as a unit of work, for a caller that writes it with others."""
        return partial(_schedule, member_id, challenge_id, self.clock.now())

    async def snooze(
        self, member_id: int, challenge_id: int, *, hours: int | None = None, tomorrow: bool = False
    ) -> datetime:
        """Bring the reminder back `hours` later or tomorrow at the usual time (quiet hours
        respected); the moment it comes back."""
        now = self.clock.now()

        def unit(conn: Connection) -> datetime:
            row = _rule_row(conn, member_id, challenge_id)
            rule = rule_for(row, Frequency(row.frequency)) or _member_rule(row)
            due = snooze(rule, now, hours=hours, tomorrow=tomorrow)
            _set(conn, member_id, challenge_id, next_due_at=due, paused=False)
            return due

        return await self.db.transaction(unit)

    async def pause(self, member_id: int, challenge_id: int) -> None:
        """Stop this pledge's reminders until the member resumes them."""

        def unit(conn: Connection) -> None:
            _rule_row(conn, member_id, challenge_id)
            _set(conn, member_id, challenge_id, next_due_at=None, paused=True)

        await self.db.transaction(unit)

    async def set_rhythm(
        self,
        member_id: int,
        challenge_id: int,
        preference: ReminderPreference,
        weekday: int | None = None,
    ) -> tuple[PledgeReminder, bool]:
        """This pledge's own reminder choice: none pauses it (the member's other pledges keep
        theirs); daily or weekly (on `weekday`, else the member's day) becomes its rhythm and
        restarts it from its next moment. A choice while reminders are switched off for all
        switches them on, with that choice as the default. (how it is reminded now, whether
        that switched reminders on); Invalid for a choice the challenge's frequency does not
        allow."""
        now = self.clock.now()

        def unit(conn: Connection) -> tuple[PledgeReminder, bool]:
            row = _rule_row(conn, member_id, challenge_id)
            frequency = Frequency(row.frequency)
            check_choice(frequency, preference, weekday)
            if preference is ReminderPreference.NONE:
                _set(conn, member_id, challenge_id, next_due_at=None, paused=True)
                return PledgeReminder(None, paused=True, own=row.rhythm is not None), False
            own = {"rhythm": preference.value, "weekday": weekday, "paused": False}
            _set(conn, member_id, challenge_id, **own)
            switched_on = ReminderPreference(row.reminder) is ReminderPreference.NONE
            if switched_on:  # the pledges that follow the default come back with it
                conn.execute(
                    update(members)
                    .where(members.c.id == member_id)
                    .values(reminder=preference.value)
                )
                reschedule_member(conn, member_id, now)
            fresh = _rule_row(conn, member_id, challenge_id)
            rule = rule_for(fresh, frequency)
            due = first_due(rule, frequency, fresh.starts_at, now)
            _set(conn, member_id, challenge_id, next_due_at=due)
            return PledgeReminder(_rhythm(fresh, frequency), paused=False, own=True), switched_on

        return await self.db.transaction(unit)

    async def of_member(self, member_id: int) -> dict[int, PledgeReminder]:
        """How each of the member's pledges is reminded, by challenge id."""
        async with self.db.read() as conn:
            rows = await conn.execute(_reminders_of(member_id))
            return {
                r.challenge_id: PledgeReminder(
                    rhythm=None if r.paused else _rhythm(r, Frequency(r.frequency)),
                    paused=r.paused,
                    own=r.rhythm is not None,
                )
                for r in rows
            }

    async def is_paused(self, member_id: int, challenge_id: int) -> bool:
        """Whether the member paused this pledge's reminders."""
        async with self.db.read() as conn:
            paused = (
                await conn.execute(
                    select(reminders.c.paused).where(
                        reminders.c.member_id == member_id,
                        reminders.c.challenge_id == challenge_id,
                    )
                )
            ).scalar_one_or_none()
        return bool(paused)

    async def due_at(self, member_id: int, challenge_id: int) -> datetime | None:
        """When this pledge's next reminder falls due (None: none planned)."""
        async with self.db.read() as conn:
            return (
                await conn.execute(
                    select(reminders.c.next_due_at).where(
                        reminders.c.member_id == member_id,
                        reminders.c.challenge_id == challenge_id,
                    )
                )
            ).scalar_one_or_none()

    async def sweep(self) -> int:
        """Turn every due reminder into a delivery row and move it to its next moment; the
        number of reminders queued. Missed ones (downtime) are sent if still relevant: due less
        than GRACE ago and not already done that day."""
        now = self.clock.now()
        queued = 0
        while True:
            due_count, written = await self.db.transaction(self._sweep_batch, now)
            queued += written
            if due_count < SWEEP_BATCH:
                return queued

    def _sweep_batch(self, conn: Connection, now: datetime) -> tuple[int, int]:
        """Unit of work: queue one batch of due reminders; (reminders due, rows written)."""
        due = conn.execute(
            select(
                reminders.c.member_id,
                reminders.c.challenge_id,
                reminders.c.next_due_at,
                challenges.c.frequency,
                challenges.c.status,
                pledges.c.created_at.label("pledged_at"),
                pledges.c.withdrawn_at,
                pledges.c.last_checkin_on,
                members.c.language,
                members.c.erased_at,
                members.c.stopped_at,
                *_RULE_COLUMNS,
                *_OWN_COLUMNS,
            )
            .join(members, members.c.id == reminders.c.member_id)
            .join(challenges, challenges.c.id == reminders.c.challenge_id)
            .outerjoin(
                pledges,
                and_(
                    pledges.c.member_id == reminders.c.member_id,
                    pledges.c.challenge_id == reminders.c.challenge_id,
                ),
            )
            .where(reminders.c.next_due_at <= now)
            .order_by(reminders.c.next_due_at)
            .limit(SWEEP_BATCH)
        ).all()
        if not due:
            return 0, 0
        return len(due), self._queue(conn, due, now)

    def _queue(self, conn: Connection, due: Sequence[Any], now: datetime) -> int:
        targets = _first_accounts(conn, {r.member_id for r in due})
        rows: list[dict[str, Any]] = []
        moves: list[dict[str, Any]] = []
        for r in due:
            frequency = Frequency(r.frequency)
            rule = rule_for(r, frequency)
            live = (
                rule is not None
                and r.erased_at is None
                and r.stopped_at is None
                and r.status in _OPEN
                and r.pledged_at is not None
                and r.withdrawn_at is None
            )
            nxt = None
            if live and rule is not None and frequency is not Frequency.ONCE:
                nxt = next_due(rule, max(now, r.next_due_at))
            moves.append({"m": r.member_id, "c": r.challenge_id, "due": nxt, "last": r.next_due_at})
            target = targets.get(r.member_id)
            moment = _moment_to_send(r, rule, frequency, now) if live else None
            if target is None or moment is None or _done_already(r, moment, frequency):
                continue
            platform, chat_id = target
            key = f"reminder:{r.member_id}:{r.challenge_id}:{moment:%Y%m%dT%H%M}"
            rows.append(
                {
                    "platform": platform,
                    "chat_id": chat_id,
                    "is_group": False,
                    "member_id": r.member_id,
                    "locale": r.language or self.default_locale,
                    "kind": REMINDER_KIND,
                    "challenge_id": r.challenge_id,
                    "payload": {"due": moment.isoformat()},
                    "dedupe_key": key,
                    "priority": REMINDER_PRIORITY,
                    "status": "pending",
                    "attempts": 0,
                    "not_before": now,
                    "created_at": now,
                }
            )
        written = insert_all_new(conn, deliveries, rows)
        conn.execute(
            update(reminders)
            .where(
                reminders.c.member_id == bindparam("m"),
                reminders.c.challenge_id == bindparam("c"),
            )
            .values(next_due_at=bindparam("due"), last_due_at=bindparam("last")),
            moves,
        )
        return written


def _rule_row(conn: Connection, member_id: int, challenge_id: int) -> Any:
    row = conn.execute(
        select(*_RULE_COLUMNS, *_OWN_COLUMNS, challenges.c.frequency, challenges.c.starts_at)
        .select_from(reminders)
        .join(members, members.c.id == reminders.c.member_id)
        .join(challenges, challenges.c.id == reminders.c.challenge_id)
        .where(reminders.c.member_id == member_id, reminders.c.challenge_id == challenge_id)
    ).first()
    if row is None:
        raise NotFound("error.not_pledged")
    return row


def _set(conn: Connection, member_id: int, challenge_id: int, **values: object) -> None:
    conn.execute(
        update(reminders)
        .where(reminders.c.member_id == member_id, reminders.c.challenge_id == challenge_id)
        .values(**values)
    )


def _moment_to_send(
    row: Any, rule: ReminderRule | None, frequency: Frequency, now: datetime
) -> datetime | None:
    """The due moment to remind of now: the row's own, unless it was missed by more than
    GRACE (the bot was down), then the latest regular moment missed by less, if any."""
    if now - row.next_due_at <= GRACE:
        return row.next_due_at  # type: ignore[no-any-return]
    if rule is None or frequency is Frequency.ONCE:
        return None
    return catch_up(rule, row.next_due_at, now, GRACE)


def _done_already(row: Any, moment: datetime, frequency: Frequency) -> bool:
    """Whether the member already checked in for the period this reminder is about."""
    last: date | None = row.last_checkin_on
    if last is None:
        return False
    today: date = moment.astimezone(ZoneInfo(row.timezone)).date()
    if frequency is Frequency.WEEKLY:
        return bool(today - last < timedelta(days=7))
    return bool(last >= today)


def _first_accounts(conn: Connection, member_ids: set[int]) -> dict[int, tuple[str, str]]:
    """Each member's first reachable account on a platform where the bot can speak first."""
    found: dict[int, tuple[str, str]] = {}
    ids = sorted(member_ids)
    for start in range(0, len(ids), CHUNK):
        rows = conn.execute(
            select(accounts.c.member_id, accounts.c.platform, accounts.c.external_id)
            .where(
                accounts.c.member_id.in_(ids[start : start + CHUNK]),
                accounts.c.unreachable_at.is_(None),
                accounts.c.platform.in_(PUSH_PLATFORMS),
            )
            .order_by(accounts.c.id)
        )
        for row in rows:
            found.setdefault(row.member_id, (row.platform, row.external_id))
    return found


def _schedule(
    member_id: int, challenge_id: int, now: datetime, conn: Connection
) -> datetime | None:
    row = conn.execute(
        select(*_RULE_COLUMNS, *_OWN_COLUMNS, challenges.c.frequency, challenges.c.starts_at)
        .select_from(members)
        .join(challenges, challenges.c.id == challenge_id)
        .outerjoin(
            reminders,
            and_(
                reminders.c.member_id == members.c.id,
                reminders.c.challenge_id == challenges.c.id,
            ),
        )
        .where(members.c.id == member_id)
    ).first()
    if row is None:
        raise NotFound("error.challenge_not_found")
    frequency = Frequency(row.frequency)
    due = first_due(rule_for(row, frequency), frequency, row.starts_at, now)
    values = {"next_due_at": due, "paused": False}
    conn.execute(
        insert_for(conn, reminders)
        .values(member_id=member_id, challenge_id=challenge_id, created_at=now, **values)
        .on_conflict_do_update(
            index_elements=[reminders.c.member_id, reminders.c.challenge_id], set_=values
        )
    )
    return due
