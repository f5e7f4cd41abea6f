"""A member's data: export it as JSON, or forget it while keeping anonymous counts.

Both walk the schema: every column that refers to a member (a foreign key to `members.id`)
has a rule in `RULES`, saying how it is exported and forgotten, and a test fails when a new
one has none. Conversations, keyed by the member's accounts, are handled with the accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Table, delete, func, literal_column, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from core.clock import Clock
from core.db.database import Database
from core.db.tables import accounts, challenges, conversations, members, metadata
from core.errors import NotFound
from core.services.menus import ask_menus
from core.services.organisations import staff_organisation_ids

ERASED_NAME = "-"
ERASED_TIMEZONE = "UTC"


class Forget(StrEnum):
    """What forgetting does to the rows that refer to the member."""

    DELETE = "delete"
    UNLINK = "unlink"  # the row stays, without the member (the column set to NULL)
    ANONYMISE = "anonymise"  # the row stays for anonymous counts, its personal columns cleared


@dataclass(frozen=True, slots=True)
class Rule:
    """How one member-referring column is exported and forgotten."""

    section: str
    forget: Forget
    cleared: tuple[str, ...] = ()
    """ANONYMISE: the columns set to NULL."""
    counted_only: bool = False
    """Export only how many rows per challenge (the rows are other members' own data)."""


RULES: dict[tuple[str, str], Rule] = {
    ("accounts", "member_id"): Rule("accounts", Forget.DELETE),
    ("link_codes", "member_id"): Rule("link_codes", Forget.DELETE),
    ("pledges", "member_id"): Rule(
        "pledges", Forget.ANONYMISE, cleared=("area_key", "referrer_id")
    ),
    ("pledges", "referrer_id"): Rule("referred_pledges", Forget.UNLINK, counted_only=True),
    ("checkins", "member_id"): Rule("checkins", Forget.DELETE),
    ("reminders", "member_id"): Rule("reminders", Forget.DELETE),
    ("deliveries", "member_id"): Rule("deliveries", Forget.DELETE),
    ("challenges", "created_by"): Rule("challenges_created", Forget.UNLINK),
    ("broadcasts", "created_by"): Rule("broadcasts_created", Forget.UNLINK),
    # A forgotten person leaves the organisations' staff, is no tier's sponsor account any
    # more (the tier keeps its sponsor's name), and no waiting pledge of theirs may activate.
    ("organisation_members", "member_id"): Rule("organisation_roles", Forget.DELETE),
    ("sponsors", "member_id"): Rule("sponsor_accounts", Forget.DELETE),
    ("conditional_pledges", "member_id"): Rule("conditional_pledges", Forget.DELETE),
    # Which groups they were seen in: it counts them in "N people of this group".
    ("group_members", "member_id"): Rule("groups_seen_in", Forget.DELETE),
}
"""(table, column) -> rule, for every column with a foreign key to members.id."""

KEPT_MEMBER_COLUMNS = frozenset({"id", "created_at", "erased_at"})
"""What the erased member row keeps as it was; every other column is cleared."""


def member_keys() -> list[tuple[Table, Column[Any]]]:
    """Every (table, column) of the schema that refers to a member, in schema order."""
    found = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column is members.c.id for fk in column.foreign_keys):
                found.append((table, column))
    return found


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


def _rows(result: Any) -> list[dict[str, Any]]:
    return [{key: _json(value) for key, value in row._mapping.items()} for row in result]


class PrivacyService:
    """What we hold about a member, and how to erase it."""

    def __init__(self, db: Database, clock: Clock, default_locale: str) -> None:
        self.db = db
        self.clock = clock
        self.default_locale = default_locale

    async def export(self, member_id: int) -> dict[str, Any]:
        """Every column of every row that refers to the member, as JSON-ready data: their
        member row, then one section per rule (see RULES), with the challenge's short name
        beside a challenge id, and their conversations."""
        async with self.db.read() as conn:
            row = await _member_row(conn, member_id)
            data: dict[str, Any] = {"member": _rows([row])[0]}
            for table, column in member_keys():
                rule = RULES[(table.name, column.name)]
                if rule.counted_only:
                    result = await conn.execute(
                        select(table.c.challenge_id, func.count().label("count"))
                        .where(column == member_id)
                        .group_by(table.c.challenge_id)
                        .order_by(table.c.challenge_id)
                    )
                else:
                    query = select(table).where(column == member_id).order_by(*table.primary_key)
                    if "challenge_id" in table.c:  # and the challenge's short name, to read
                        query = query.add_columns(challenges.c.slug.label("challenge")).outerjoin(
                            challenges, challenges.c.id == table.c.challenge_id
                        )
                    result = await conn.execute(query)
                data[rule.section] = _rows(result)
            data["conversations"] = _rows(
                await conn.execute(
                    select(conversations)
                    .join(
                        accounts,
                        (accounts.c.platform == conversations.c.platform)
                        & (accounts.c.external_id == conversations.c.account_id),
                    )
                    .where(accounts.c.member_id == member_id)
                    .order_by(*conversations.primary_key)
                )
            )
            return data

    async def forget(self, member_id: int) -> None:
        """Erase the member: every row that refers to them is deleted, unlinked or cleared
        of personal columns (pledges stay as anonymous counts), and the member row keeps
        only its id and dates."""
        await self.db.transaction(forget_member, member_id, self.clock.now(), self.default_locale)


def forget_member(conn: Connection, member_id: int, now: datetime, default_locale: str) -> None:
    """The unit of work of `PrivacyService.forget`. Someone leaving an organisation's staff
    this way has their organisers' menu taken off, as any staff leaving."""
    row = conn.execute(select(members.c.erased_at).where(members.c.id == member_id)).first()
    if row is None or row.erased_at is not None:
        raise NotFound("error.member_not_found")
    if staff_organisation_ids(conn, member_id):
        ask_menus(conn, member_id, now, default_locale)
    conn.execute(
        delete(conversations).where(
            select(accounts.c.id)
            .where(
                accounts.c.member_id == member_id,
                accounts.c.platform == conversations.c.platform,
                accounts.c.external_id == conversations.c.account_id,
            )
            .exists()
        )
    )
    for table, column in member_keys():
        rule = RULES[(table.name, column.name)]
        if rule.forget is Forget.DELETE:
            conn.execute(delete(table).where(column == member_id))
        elif rule.forget is Forget.UNLINK:
            conn.execute(update(table).where(column == member_id).values({column.name: None}))
        else:
            cleared = dict.fromkeys(rule.cleared)
            conn.execute(update(table).where(column == member_id).values(cleared))
    conn.execute(update(members).where(members.c.id == member_id).values(_erased_member(now)))


def _erased_member(now: datetime) -> dict[str, Any]:
    """Every column of the member row cleared: NULL, else its default, else a placeholder."""
    values: dict[str, Any] = {}
    for column in members.columns:
        if column.name in KEPT_MEMBER_COLUMNS:
            continue
        if column.nullable:
            values[column.name] = None
        elif column.server_default is not None:  # as the schema writes it: DEFAULT '18'
            default = column.server_default.arg  # type: ignore[attr-defined]
            values[column.name] = literal_column(f"'{default}'")
    values |= {
        "display_name": ERASED_NAME,
        "timezone": ERASED_TIMEZONE,
        "news_opt_out": True,
        "erased_at": now,
    }
    return values


async def _member_row(conn: AsyncConnection, member_id: int) -> Any:
    row = (await conn.execute(select(members).where(members.c.id == member_id))).first()
    if row is None or row.erased_at is not None:
        raise NotFound("error.member_not_found")
    return row
