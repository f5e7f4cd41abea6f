"""Conversation state: what a flow remembers between inputs, one row per (platform, chat,
account), so a flow survives a restart."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Select, bindparam, delete, literal, select, true
from sqlalchemy.engine import Connection

from conversations.model import Envelope, FormField
from core.db.database import Database
from core.db.tables import conversations
from core.db.upsert import insert_for
from core.identity import AccountRef
from core.models import Member
from core.services.members import MEMBER_OF_ACCOUNT, account_parameters, member_from_row

log = logging.getLogger(__name__)

MAX_OFFERED = 200
Write = Callable[[Connection], object]
"""A write whose result nobody waits for: a unit of work already given its arguments."""


@dataclass(frozen=True, slots=True)
class SessionKey:
    """Whose conversation: one account in one chat."""

    platform: str
    chat_id: str
    account_id: str

    @classmethod
    def of(cls, envelope: Envelope) -> SessionKey:
        """The session an input belongs to."""
        return cls(
            envelope.chat.platform.value,
            envelope.chat.chat_id,
            envelope.sender.account.external_id,
        )

    @classmethod
    def of_chat(cls, envelope: Envelope) -> SessionKey:
        """The whole chat's shared record (the buttons everyone in a group sees)."""
        return cls(envelope.chat.platform.value, envelope.chat.chat_id, "")


@dataclass(frozen=True, slots=True)
class PendingForm:
    """A form being filled in: its fields and the values collected so far, in order."""

    title: str
    fields: tuple[FormField, ...]
    values: Mapping[str, str] = field(default_factory=dict)

    @property
    def current(self) -> FormField | None:
        """The next field to ask, or None when every field has a value."""
        return self.fields[len(self.values)] if len(self.values) < len(self.fields) else None

    def with_value(self, value: str) -> PendingForm:
        """The form with the current field answered."""
        assert self.current is not None
        return PendingForm(self.title, self.fields, {**self.values, self.current.name: value})

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "title": self.title,
            "fields": [asdict(f) for f in self.fields],
            "values": dict(self.values),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PendingForm:
        """Read back what `to_json` wrote."""
        fields = tuple(FormField(**f) for f in raw["fields"])
        return cls(raw["title"], fields, dict(raw["values"]))


@dataclass(frozen=True, slots=True)
class ConversationState:
    """The running flow, the awaited step (and form), the flow's data and offered choices."""

    flow: str | None = None
    step: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    form: PendingForm | None = None
    offered: tuple[str, ...] = ()
    updated_at: datetime | None = None

    @property
    def active(self) -> bool:
        """True while there is something to lose: an awaited step or remembered data."""
        return self.step is not None or bool(self.data)

    def expired(self, now: datetime, ttl: timedelta) -> bool:
        """True when an active conversation has been idle longer than `ttl`."""
        return self.active and self.updated_at is not None and now - self.updated_at > ttl

    def reset(self) -> ConversationState:
        """No flow running any more; the offered choices stay valid."""
        return ConversationState(offered=self.offered, updated_at=self.updated_at)


class ConversationStore:
    """Loads, saves and clears conversation states."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def load(self, key: SessionKey) -> ConversationState:
        """The stored state, or an empty one."""
        async with self.db.read() as conn:
            row = (await conn.execute(select(conversations).where(*_match(key)))).first()
        return ConversationState() if row is None else _state(row)

    async def load_with_member(
        self, key: SessionKey, account: AccountRef
    ) -> tuple[Member | None, ConversationState]:
        """The member behind `account` (None for a newcomer) and the session's state, in one
        statement: a turn's first read."""
        parameters = account_parameters(account) | {
            "state_platform": key.platform,
            "state_chat_id": key.chat_id,
            "state_account_id": key.account_id,
        }
        async with self.db.read() as conn:
            row = (await conn.execute(_MEMBER_AND_STATE, parameters)).one()
        found = None if row.id is None else member_from_row(row)
        if row.state_platform is None:
            return found, ConversationState()
        values = {c.name: getattr(row, f"state_{c.name}") for c in conversations.c}
        return found, _state(SimpleNamespace(**values))

    async def save(self, key: SessionKey, state: ConversationState, *, at: datetime) -> None:
        """Store `state` as of `at`, keeping the last MAX_OFFERED offered choice ids."""
        await self.save_all([(key, state)], at=at)

    async def save_all(
        self,
        states: Sequence[tuple[SessionKey, ConversationState]],
        *,
        at: datetime,
        writes: Sequence[Write] = (),
    ) -> None:
        """Store several sessions' states (a turn in a group saves two) and the turn's other
        `writes` in one unit of work."""
        await self.db.transaction(_save, [(key, _row(state, at)) for key, state in states], writes)

    async def clear(self, key: SessionKey) -> None:
        """Forget the conversation entirely, offered choices included."""
        await self.db.transaction(_clear, key)


def _row(state: ConversationState, at: datetime) -> dict[str, Any]:
    return {
        "flow": state.flow,
        "step": state.step,
        "data": {
            "flow": dict(state.data),
            "form": None if state.form is None else state.form.to_json(),
        },
        "offered": list(state.offered[-MAX_OFFERED:]),
        "updated_at": at,
    }


def _member_and_state() -> Select[Any]:
    """One row: the member's columns (all None for a newcomer) beside the session's, named
    `state_...` (all None without a stored state)."""
    member = MEMBER_OF_ACCOUNT.subquery()
    session = (
        select(*(c.label(f"state_{c.name}") for c in conversations.c))
        .where(
            conversations.c.platform == bindparam("state_platform"),
            conversations.c.chat_id == bindparam("state_chat_id"),
            conversations.c.account_id == bindparam("state_account_id"),
        )
        .subquery()
    )
    one = select(literal(1).label("one")).subquery()
    return select(member, session).select_from(
        one.outerjoin(member, true()).outerjoin(session, true())
    )


_MEMBER_AND_STATE = _member_and_state()
"""Built once (building it costs more than running it; its compiled form is cached)."""


def _state(row: Any) -> ConversationState:
    form = row.data.get("form")
    return ConversationState(
        flow=row.flow,
        step=row.step,
        data=row.data.get("flow", {}),
        form=None if form is None else PendingForm.from_json(form),
        offered=tuple(row.offered),
        updated_at=row.updated_at,
    )


def write_all(conn: Connection, writes: Sequence[Write]) -> None:
    """A unit of work: each write in a SAVEPOINT of its own, so that one that fails (logged)
    takes none of the others, nor the turn's state, with it."""
    for write in writes:
        savepoint = conn.begin_nested()
        try:
            write(conn)
        except Exception:
            savepoint.rollback()
            log.exception("a write of a conversation turn failed: %r", write)
        else:
            savepoint.commit()


def _save(
    conn: Connection,
    rows: Sequence[tuple[SessionKey, dict[str, Any]]],
    writes: Sequence[Write] = (),
) -> None:
    for key, values in rows:
        statement = insert_for(conn, conversations).values(
            platform=key.platform, chat_id=key.chat_id, account_id=key.account_id, **values
        )
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["platform", "chat_id", "account_id"], set_=values
            )
        )
    write_all(conn, writes)


def _clear(conn: Connection, key: SessionKey) -> None:
    conn.execute(delete(conversations).where(*_match(key)))


def _match(key: SessionKey) -> tuple[Any, ...]:
    return (
        conversations.c.platform == key.platform,
        conversations.c.chat_id == key.chat_id,
        conversations.c.account_id == key.account_id,
    )
