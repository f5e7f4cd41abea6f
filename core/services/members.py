"""Members and their platform accounts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from core.clock import Clock
from core.db.database import Database
from core.db.tables import (
    accounts,
    deliveries,
    members,
)
from core.errors import Invalid, NotFound
from core.identity import AccountRef
from core.models import Location, Member, ReminderPreference
from core.places import stored_location
from core.services.menus import ask_menus
from core.services.organisations import staff_organisation_ids
from core.services.reminders import REMINDER_KIND, reschedule_member
from core.settings import is_time_zone

REMINDER_SETTINGS = frozenset(
    {
        "reminder",
        "reminder_hour",
        "reminder_minute",
        "reminder_weekday",
        "quiet_start",
        "quiet_end",
        "timezone",
    }
)
_BOUNDS = {
    "reminder_hour": (0, 23, "error.bad_hour"),
    "reminder_minute": (0, 59, "error.bad_minute"),
    "reminder_weekday": (0, 6, "error.bad_weekday"),
    "quiet_start": (0, 24 * 60 - 1, "error.bad_quiet_hours"),
    "quiet_end": (0, 24 * 60 - 1, "error.bad_quiet_hours"),
}


def member_from_row(row: Any) -> Member:
    """Build a Member from a `members` row."""
    location = stored_location(row.location_name, row.latitude, row.longitude, row.area_key)
    return Member(
        id=row.id,
        display_name=row.display_name,
        language=row.language,
        timezone=row.timezone,
        location=location,
        reminder=ReminderPreference(row.reminder),
        reminder_hour=row.reminder_hour,
        news_opt_out=bool(row.news_opt_out),
        created_at=row.created_at,
        reminder_minute=row.reminder_minute,
        reminder_weekday=row.reminder_weekday,
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        stopped=row.stopped_at is not None,
        language_chosen=bool(row.language_chosen),
    )


class MemberService:
    """Finds, creates and updates members."""

    def __init__(
        self, db: Database, clock: Clock, default_timezone: str, default_locale: str
    ) -> None:
        self.db = db
        self.clock = clock
        self.default_timezone = default_timezone
        self.default_locale = default_locale

    async def ensure(
        self, account: AccountRef, display_name: str, language: str | None = None
    ) -> Member:
        """The member behind `account`, created on first contact with `language` (their
        app's, not a choice)."""
        async with self.db.read() as conn:
            found = (await conn.execute(_by_account(account))).first()
        if found is not None:
            return member_from_row(found)

        def unit(conn: Connection) -> Member:
            found = conn.execute(_by_account(account)).first()
            if found is not None:
                return member_from_row(found)
            now = self.clock.now()
            member_id = conn.execute(
                insert(members)
                .values(
                    display_name=display_name[:100] or str(account),
                    language=language,
                    timezone=self.default_timezone,
                    created_at=now,
                )
                .returning(members.c.id)
            ).scalar_one()
            conn.execute(
                insert(accounts).values(
                    platform=account.platform.value,
                    external_id=account.external_id,
                    member_id=member_id,
                    created_at=now,
                )
            )
            return member_from_row(_member_row(conn, member_id))

        return await self.db.transaction(unit)

    async def find(self, account: AccountRef) -> Member | None:
        """The member behind `account`, or None."""
        async with self.db.read() as conn:
            row = (await conn.execute(_by_account(account))).first()
        return None if row is None else member_from_row(row)

    async def get(self, member_id: int) -> Member:
        """The member with this id."""
        async with self.db.read() as conn:
            row = (await conn.execute(select(members).where(members.c.id == member_id))).first()
        if row is None:
            raise NotFound("error.member_not_found")
        return member_from_row(row)

    async def accounts_of(self, member_id: int) -> list[AccountRef]:
        """Every platform account linked to the member."""
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(accounts.c.platform, accounts.c.external_id)
                .where(accounts.c.member_id == member_id)
                .order_by(accounts.c.id)
            )
            return [AccountRef.parse(f"{r.platform}:{r.external_id}") for r in rows]

    async def update(self, member_id: int, **changes: object) -> Member:
        """Change profile fields: language, timezone, reminder settings, news_opt_out,
        display_name. Opting out of news cancels the member's queued news at once; a change
        of reminder settings reschedules the member's reminders in the same transaction, and
        news switched back on also takes back a STOP."""
        allowed = {"language", "news_opt_out", "display_name", *REMINDER_SETTINGS}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown member fields: {sorted(unknown)}")
        for name, (low, high, error) in _BOUNDS.items():
            value = changes.get(name, low)
            if not isinstance(value, int) or not low <= value <= high:
                raise Invalid(error)
        if "reminder" in changes:
            changes["reminder"] = ReminderPreference(str(changes["reminder"])).value
        if "timezone" in changes and not is_time_zone(str(changes["timezone"])):
            raise Invalid("error.bad_timezone", timezone=changes["timezone"])

        def unit(conn: Connection) -> Member:
            values = dict(changes)
            if "language" in changes:  # set here, it is the member's choice
                values["language_chosen"] = changes["language"] is not None
            if changes.get("news_opt_out") is False:  # news back on also takes back a STOP
                values["stopped_at"] = None
            conn.execute(update(members).where(members.c.id == member_id).values(**values))
            if changes.get("news_opt_out"):
                conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.member_id == member_id,
                        deliveries.c.status == "pending",
                        deliveries.c.kind != REMINDER_KIND,
                    )
                    .values(status="cancelled")
                )
            if REMINDER_SETTINGS & set(changes) or "stopped_at" in values:
                reschedule_member(conn, member_id, self.clock.now())
            return member_from_row(_member_row(conn, member_id))

        return await self.db.transaction(unit)

    async def note_app_language(self, member: Member, locale: str) -> Member:
        """Keep the language of the member's app as theirs while they have chosen none, so
        that what the bot sends later speaks it too."""
        if member.language_chosen or member.language == locale:
            return member
        return await self.db.transaction(_note_app_language, member.id, locale)

    async def stop(self, member_id: int) -> Member:
        """ "STOP": no news, no broadcast, no reminder from now on, queued ones included."""

        def unit(conn: Connection) -> Member:
            conn.execute(
                update(members)
                .where(members.c.id == member_id)
                .values(news_opt_out=True, stopped_at=self.clock.now())
            )
            conn.execute(
                update(deliveries)
                .where(deliveries.c.member_id == member_id, deliveries.c.status == "pending")
                .values(status="cancelled")
            )
            return member_from_row(_member_row(conn, member_id))

        return await self.db.transaction(unit)

    async def restart(self, member_id: int) -> Member:
        """Undo "STOP": news again, and reminders as they were before it (one paused on
        purpose stays paused)."""

        def unit(conn: Connection) -> Member:
            conn.execute(
                update(members)
                .where(members.c.id == member_id)
                .values(news_opt_out=False, stopped_at=None)
            )
            reschedule_member(conn, member_id, self.clock.now())
            return member_from_row(_member_row(conn, member_id))

        return await self.db.transaction(unit)

    async def set_location(self, member_id: int, location: Location | None) -> Member:
        """Store a coarse location (given with consent), or remove it with None."""
        values: dict[str, object]
        if location is None:
            values = {"location_name": None, "latitude": None, "longitude": None, "area_key": None}
        else:
            values = {
                "location_name": location.name,
                "latitude": location.latitude,
                "longitude": location.longitude,
                "area_key": location.area_key,
            }

        def unit(conn: Connection) -> Member:
            conn.execute(update(members).where(members.c.id == member_id).values(**values))
            return member_from_row(
                conn.execute(select(members).where(members.c.id == member_id)).one()
            )

        return await self.db.transaction(unit)

    async def set_reachable(self, account: AccountRef, reachable: bool) -> None:
        """Mark an account reachable again (it wrote to us) or not (blocked, DMs closed). An
        organisation's staff writing to us asks for their menu: one set before they ever
        wrote to the bot could not be."""

        def unit(conn: Connection) -> None:
            member_id = conn.execute(
                update(accounts)
                .where(
                    accounts.c.platform == account.platform.value,
                    accounts.c.external_id == account.external_id,
                )
                .values(unreachable_at=None if reachable else self.clock.now())
                .returning(accounts.c.member_id)
            ).scalar_one_or_none()
            if reachable and member_id is not None and staff_organisation_ids(conn, member_id):
                ask_menus(conn, member_id, self.clock.now(), self.default_locale)

        await self.db.transaction(unit)

    async def is_reachable(self, account: AccountRef) -> bool:
        """False when the platform told us we may not message this account."""
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(accounts.c.unreachable_at).where(
                        accounts.c.platform == account.platform.value,
                        accounts.c.external_id == account.external_id,
                    )
                )
            ).first()
        return row is not None and row.unreachable_at is None


MEMBER_OF_ACCOUNT = (
    select(members)
    .join(accounts, accounts.c.member_id == members.c.id)
    .where(
        accounts.c.platform == bindparam("account_platform"),
        accounts.c.external_id == bindparam("account_external_id"),
    )
)
"""The member row behind the account of `account_parameters`, built once: a turn reads it."""


def account_parameters(account: AccountRef) -> dict[str, str]:
    """The parameters of MEMBER_OF_ACCOUNT for `account`."""
    return {"account_platform": account.platform.value, "account_external_id": account.external_id}


def _by_account(account: AccountRef) -> Any:
    """The member row behind a platform account."""
    return (
        select(members)
        .join(accounts, accounts.c.member_id == members.c.id)
        .where(
            accounts.c.platform == account.platform.value,
            accounts.c.external_id == account.external_id,
        )
    )


def _note_app_language(conn: Connection, member_id: int, locale: str) -> Member:
    conn.execute(
        update(members)
        .where(members.c.id == member_id, members.c.language_chosen.is_(False))
        .values(language=locale)
    )
    return member_from_row(_member_row(conn, member_id))


def _member_row(conn: Connection, member_id: int) -> Any:
    row = conn.execute(select(members).where(members.c.id == member_id)).first()
    if row is None:
        raise NotFound("error.member_not_found")
    return row
