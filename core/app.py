"""Start-up: open the database, bring its schema up to date, load the demo challenge."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from core.db.database import Database
from core.db.migrate import upgrade
from core.db.tables import challenges, organisations
from core.db.watch import watch_database
from core.demo import DEMO_FILE
from core.drafts import ChallengeDraft
from core.errors import Invalid, KoomError, Misconfigured, NotFound
from core.models import Challenge, Visibility
from core.services import Services
from core.services.challenges import create_challenge, load_challenge, load_challenges
from core.settings import Settings

DEADLINE_IN_DAYS = "deadline_in_days"


class ChallengeEntry(ChallengeDraft):
    """A challenge as written in a YAML file: `deadline_in_days` may stand for `deadline`.

    Validate with `context={"now": ...}`; the deadline must then lie after `now`.
    """

    deadline_in_days: int | None = Field(default=None, gt=0, le=3650, exclude=True)
    organisation: str | None = Field(default=None, max_length=40, exclude=True)
    """The short name of the organisation running it."""
    visibility: Visibility = Field(default=Visibility.PUBLIC, exclude=True)
    """members: its organisation's members only (which needs `organisation`)."""

    @model_validator(mode="before")
    @classmethod
    def _relative_deadline(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or DEADLINE_IN_DAYS not in data:
            return data
        if "deadline" in data:
            raise PydanticCustomError("deadline_twice", "give deadline or deadline_in_days")
        days = data[DEADLINE_IN_DAYS]
        if isinstance(days, int) and not isinstance(days, bool) and days > 0:
            return {**data, "deadline": _now(info) + timedelta(days=days)}
        return data

    @field_validator("deadline")
    @classmethod
    def _in_future(cls, value: datetime, info: ValidationInfo) -> datetime:
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        if aware <= _now(info):
            raise PydanticCustomError("deadline_past", "the deadline is in the past")
        return aware


def _now(info: ValidationInfo) -> datetime:
    now = (info.context or {}).get("now")
    return now if isinstance(now, datetime) else datetime.now(UTC)


class ImportFailed(Exception):
    """A challenge of an import was refused; nothing of the import was kept."""

    def __init__(self, index: int, error: KoomError) -> None:
        super().__init__(error.key)
        self.index = index
        self.error = error


async def open_database(settings: Settings) -> Database:
    """The configured database, created when missing (a SQLite file readable by its owner
    only) and migrated to the newest schema; Misconfigured when it cannot be opened."""
    try:
        if settings.sqlite_path is not None:
            create_private(settings.sqlite_path)
        db = Database(settings.database_url)
    except (OSError, SQLAlchemyError) as exc:
        raise Misconfigured("operations.error.database", problem=first_line(exc)) from exc
    watch_database(db)
    try:
        await upgrade(db, default_timezone=settings.default_timezone)
    except (OSError, SQLAlchemyError) as exc:
        await db.dispose()
        raise Misconfigured("operations.error.database", problem=first_line(exc)) from exc
    except BaseException:
        await db.dispose()
        raise
    return db


def create_private(path: Path) -> None:
    """Create the SQLite file with mode 600, so that no other account reads it (SQLite gives
    its -wal and -shm companions the same mode); an existing file is left as it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if str(path) != ":memory:" and not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def first_line(exc: BaseException) -> str:
    """The driver's own words for a database failure, without SQLAlchemy's SQL and links."""
    origin = getattr(exc, "orig", None) or exc
    lines = str(origin).strip().splitlines()
    return lines[0] if lines else type(origin).__name__


async def open_services(settings: Settings, *, demo: bool = False) -> Services:
    """Every service over the migrated database; with `demo` (the console chat), the demo
    challenge is loaded when the database holds no challenge and KOOM_LOAD_DEMO allows it.
    A bot with tokens never loads it: real members would see a fictional challenge."""
    services = Services(db=await open_database(settings), settings=settings)
    if demo and settings.load_demo:
        async with services.db.read() as conn:
            empty = (await conn.execute(select(challenges.c.id).limit(1))).first() is None
        if empty:
            await load_demo(services, replace=False)
    return services


def demo_draft(now: datetime) -> ChallengeEntry:
    """The shipped demo challenge, its deadline counted from `now`."""
    data = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    return ChallengeEntry.model_validate(data, context={"now": now})


async def load_demo(services: Services, replace: bool) -> Challenge:
    """Create the demo challenge; with `replace`, an existing one (and its pledges) goes first,
    else an existing one is kept."""
    draft = demo_draft(services.clock.now())
    slug = draft.effective_slug

    def unit(conn: Connection) -> Challenge:
        if replace:
            conn.execute(delete(challenges).where(challenges.c.slug == slug))
        else:
            found = load_challenges(conn, challenges.c.slug == slug)
            if found:
                return found[0]
        return create_challenge(conn, services.clock, draft)

    return await services.db.transaction(unit)


async def import_challenges(
    services: Services, drafts: Sequence[ChallengeDraft]
) -> list[Challenge]:
    """Create every challenge or none: one unit of work, rolled back at the first refusal."""

    def unit(conn: Connection) -> list[Challenge]:
        created: list[Challenge] = []
        for index, draft in enumerate(drafts):
            try:
                minimum = services.settings.map_min_count
                challenge = create_challenge(conn, services.clock, draft, None, minimum)
                if isinstance(draft, ChallengeEntry):
                    challenge = _run_by(conn, challenge, draft)
                created.append(challenge)
            except KoomError as exc:
                raise ImportFailed(index, exc) from exc
        return created

    return await services.db.transaction(unit)


def _run_by(conn: Connection, challenge: Challenge, entry: ChallengeEntry) -> Challenge:
    """Unit step: the imported challenge run by its entry's organisation, with its
    visibility; NotFound for an unknown organisation, Invalid for a private challenge of
    none."""
    if entry.organisation is None:
        if entry.visibility is Visibility.MEMBERS:
            raise Invalid("error.org.private_needs_organisation")
        return challenge
    slug = entry.organisation.strip().lower()
    organisation_id = conn.execute(
        select(organisations.c.id).where(organisations.c.slug == slug)
    ).scalar_one_or_none()
    if organisation_id is None:
        raise NotFound("error.org.not_found", slug=slug)
    conn.execute(
        update(challenges)
        .where(challenges.c.id == challenge.id)
        .values(organisation_id=organisation_id, visibility=entry.visibility.value)
    )
    return load_challenge(conn, challenge.id)
