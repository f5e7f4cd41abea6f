"""Organisations (a city, an association, a company): their owners and organisers, their
challenges and their following groups. Each organisation sees and manages only its own.

The deployment's administrators (KOOM_ORGANISERS) may do everything; an organisation's owners
manage its people, its organisers manage its challenges, groups and broadcasts.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from core.clock import Clock
from core.db.database import Database
from core.db.tables import (
    accounts,
    challenges,
    group_follows,
    groups,
    members,
    organisation_groups,
    organisation_invites,
    organisation_members,
    organisations,
)
from core.db.upsert import insert_for
from core.drafts import ChallengeDraft
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.identity import AccountRef, Platform
from core.models import Challenge, ConditionScope, Group, Visibility
from core.services.challenges import (
    OPEN_FOR_PLEDGES,
    create_challenge,
    load_challenge,
    load_challenges,
)
from core.services.groups import group_from_row
from core.services.joins import JoinHook, joined
from core.services.menus import ask_menus

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,39}")
COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
INVITE_TTL = timedelta(days=7)
MEMBER_INVITE_TTL = timedelta(days=90)
"""A members' code is shared with many (a company's staff) and used until it expires."""
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
HEADER = {"logo_file": 200, "contact": 200, "privacy_url": 300}
"""Header fields given as free text, with their longest length."""


class OrganisationKind(StrEnum):
    """What an organisation is."""

    CITY = "city"
    ASSOCIATION = "association"
    COMPANY = "company"


class Role(StrEnum):
    """A member's role in an organisation."""

    OWNER = "owner"
    ORGANISER = "organiser"
    MEMBER = "member"
    """Not staff: sees and joins the organisation's private challenges."""


@dataclass(frozen=True, slots=True)
class Organisation:
    """An organisation and its web page header."""

    id: int
    slug: str
    name: str
    kind: OrganisationKind
    logo_file: str | None = None
    colour: str | None = None
    contact: str | None = None
    privacy_url: str | None = None


@dataclass(frozen=True, slots=True)
class Staff:
    """One person of an organisation's staff."""

    member_id: int
    display_name: str
    role: Role


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: a member (None for the command line) and whether they administer the
    deployment (named in KOOM_ORGANISERS, or the command line)."""

    member_id: int | None
    is_admin: bool = False

    @classmethod
    def administrator(cls) -> Actor:
        """The deployment's administrator: the command line, run by whoever runs the server."""
        return cls(None, True)


def organisation_from_row(row: Any) -> Organisation:
    """Build an Organisation from an `organisations` row."""
    return Organisation(
        id=row.id,
        slug=row.slug,
        name=row.name,
        kind=OrganisationKind(row.kind),
        logo_file=row.logo_file,
        colour=row.colour,
        contact=row.contact,
        privacy_url=row.privacy_url,
    )


def role_in(conn: Connection, organisation_id: int, member_id: int | None) -> Role | None:
    """The member's role in the organisation, or None."""
    if member_id is None:
        return None
    role = conn.execute(
        select(organisation_members.c.role).where(
            organisation_members.c.organisation_id == organisation_id,
            organisation_members.c.member_id == member_id,
        )
    ).scalar_one_or_none()
    return None if role is None else Role(role)


def require(conn: Connection, actor: Actor, organisation_id: int, *roles: Role) -> None:
    """Forbidden unless the actor administers the deployment or has one of `roles` here."""
    if actor.is_admin:
        return
    if role_in(conn, organisation_id, actor.member_id) not in roles:
        raise Forbidden("error.org.not_allowed")


STAFF = (Role.OWNER, Role.ORGANISER)
_RANK = {Role.MEMBER: 0, Role.ORGANISER: 1, Role.OWNER: 2}


def may_manage_challenge(conn: Connection, actor: Actor, challenge_id: int) -> bool:
    """True when the actor may manage the challenge: an administrator, or the staff of the
    organisation running it (a challenge of no organisation is the administrators' alone)."""
    if actor.is_admin:
        return True
    organisation_id = conn.execute(
        select(challenges.c.organisation_id).where(challenges.c.id == challenge_id)
    ).scalar_one_or_none()
    return organisation_id is not None and role_in(conn, organisation_id, actor.member_id) in STAFF


def staff_organisation_ids(conn: Connection, member_id: int | None) -> list[int]:
    """The organisations the member is an owner or organiser of."""
    if member_id is None:
        return []
    return list(
        conn.execute(
            select(organisation_members.c.organisation_id).where(
                organisation_members.c.member_id == member_id,
                organisation_members.c.role.in_([r.value for r in STAFF]),
            )
        ).scalars()
    )


def organisation_people(organisation_id: int) -> Any:
    """The members a "N people of my organisation" condition counts: its people (its staff
    today), each once."""
    return select(organisation_members.c.member_id).where(
        organisation_members.c.organisation_id == organisation_id
    )


def organisations_of_person(member_id: int) -> Any:
    """The organisations whose people the member is among (the ids), for "my organisation"."""
    return select(organisation_members.c.organisation_id).where(
        organisation_members.c.member_id == member_id
    )


def check_header(**header: str | None) -> dict[str, str | None]:
    """The header fields, trimmed and checked; Invalid on a bad colour or a too long text."""
    checked: dict[str, str | None] = {}
    for name, value in header.items():
        value = value.strip() if value else None
        if name == "colour":
            if value is not None and not COLOUR.fullmatch(value):
                raise Invalid("error.org.bad_colour", colour=value)
        elif name in HEADER:
            if value is not None and len(value) > HEADER[name]:
                raise Invalid("error.org.too_long", field=name, max=HEADER[name])
        else:
            raise Invalid("error.org.unknown_field", field=name)
        checked[name] = value
    return checked


class OrganisationService:
    """Create organisations, manage their staff, challenges and groups, within their walls."""

    def __init__(self, db: Database, clock: Clock, default_locale: str) -> None:
        self.db = db
        self.clock = clock
        self.on_join: list[JoinHook] = []
        """Run in the unit that makes someone one of its people (conditional pledges)."""
        self.default_locale = default_locale

    async def create(
        self,
        actor: Actor,
        slug: str,
        name: str,
        kind: OrganisationKind,
        owner_id: int,
        **header: str | None,
    ) -> Organisation:
        """A new organisation with its first owner; administrators only."""
        slug = slug.strip().lower()
        name = name.strip()
        if not actor.is_admin:
            raise Forbidden("error.org.admin_only")
        if not SLUG.fullmatch(slug):
            raise Invalid("error.org.bad_slug", slug=slug)
        if not 0 < len(name) <= 120:
            raise Invalid("error.org.bad_name")
        fields = check_header(**header)

        def unit(conn: Connection) -> Organisation:
            if conn.execute(select(members.c.id).where(members.c.id == owner_id)).first() is None:
                raise NotFound("error.member_not_found")
            if conn.execute(select(organisations.c.id).where(organisations.c.slug == slug)).first():
                raise Conflict("error.org.slug_taken", slug=slug)
            now = self.clock.now()
            row = conn.execute(
                insert(organisations)
                .values(slug=slug, name=name, kind=kind.value, created_at=now, **fields)
                .returning(*organisations.c)
            ).one()
            conn.execute(
                insert(organisation_members).values(
                    organisation_id=row.id, member_id=owner_id, role=Role.OWNER, created_at=now
                )
            )
            ask_menus(conn, owner_id, now, self.default_locale)
            return organisation_from_row(row)

        try:
            return await self.db.transaction(unit)
        except IntegrityError as exc:  # a concurrent create took the slug
            raise Conflict("error.org.slug_taken", slug=slug) from exc

    async def by_slug(self, slug: str) -> Organisation:
        """The organisation with this short name; NotFound otherwise."""
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(organisations).where(organisations.c.slug == slug.strip().lower())
                )
            ).first()
        if row is None:
            raise NotFound("error.org.not_found", slug=slug)
        return organisation_from_row(row)

    async def of_challenge(self, challenge_id: int) -> Organisation | None:
        """The organisation running the challenge, or None (the deployment's own)."""
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(organisations)
                    .join(challenges, challenges.c.organisation_id == organisations.c.id)
                    .where(challenges.c.id == challenge_id)
                )
            ).first()
        return None if row is None else organisation_from_row(row)

    async def by_id(self, organisation_id: int) -> Organisation:
        """The organisation with this id; NotFound otherwise."""
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(organisations).where(organisations.c.id == organisation_id)
                )
            ).first()
        if row is None:
            raise NotFound("error.org.not_found", slug=str(organisation_id))
        return organisation_from_row(row)

    async def list_all(self) -> list[Organisation]:
        """Every organisation, by name (the administrators' view)."""
        async with self.db.read() as conn:
            rows = (await conn.execute(select(organisations).order_by(organisations.c.name))).all()
        return [organisation_from_row(r) for r in rows]

    async def of_member(self, member_id: int) -> list[tuple[Organisation, Role]]:
        """The organisations the member is on the staff of, with their role, by name."""
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    select(organisations, organisation_members.c.role)
                    .join(organisation_members)
                    .where(
                        organisation_members.c.member_id == member_id,
                        organisation_members.c.role.in_([r.value for r in STAFF]),
                    )
                    .order_by(organisations.c.name)
                )
            ).all()
        return [(organisation_from_row(r), Role(r.role)) for r in rows]

    async def staff_of(self, member_id: int) -> list[Organisation]:
        """The organisations the member is an owner or organiser of, by name."""
        return [o for o, role in await self.of_member(member_id) if role in STAFF]

    async def is_staff(self, account: AccountRef) -> bool:
        """True when the account's member is an owner or organiser of an organisation."""

        def unit(conn: Connection) -> bool:
            member_id = conn.execute(
                select(accounts.c.member_id).where(
                    accounts.c.platform == account.platform.value,
                    accounts.c.external_id == account.external_id,
                )
            ).scalar_one_or_none()
            return bool(staff_organisation_ids(conn, member_id))

        async with self.db.read() as conn:
            return await conn.run_sync(unit)

    async def staff_accounts(self, platform: Platform) -> list[AccountRef]:
        """The reachable accounts on `platform` of every organisation's owners and organisers."""
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(accounts.c.external_id)
                .join(
                    organisation_members,
                    organisation_members.c.member_id == accounts.c.member_id,
                )
                .where(
                    accounts.c.platform == platform.value,
                    accounts.c.unreachable_at.is_(None),
                    organisation_members.c.role.in_([r.value for r in STAFF]),
                )
                .distinct()
            )
            return [AccountRef(platform, row.external_id) for row in rows]

    async def may_organise(self, actor: Actor) -> bool:
        """True when the actor may use the organiser surfaces (/new, /manage, /broadcast):
        an administrator, or the staff of at least one organisation."""
        if actor.is_admin:
            return True
        async with self.db.read() as conn:
            return bool(await conn.run_sync(staff_organisation_ids, actor.member_id))

    async def manageable(self, actor: Actor, *, open_only: bool = False) -> list[Challenge]:
        """The challenges the actor may manage, newest first: every one for administrators,
        else those of the organisations they are staff of (`open_only`: open for pledges)."""

        def unit(conn: Connection) -> list[Challenge]:
            where = challenges.c.id > 0
            if not actor.is_admin:
                ids = staff_organisation_ids(conn, actor.member_id)
                where = challenges.c.organisation_id.in_(ids)
            if open_only:
                where = where & challenges.c.status.in_([s.value for s in OPEN_FOR_PLEDGES])
            return load_challenges(conn, where, challenges.c.id.desc())

        async with self.db.read() as conn:
            return await conn.run_sync(unit)

    async def create_challenge(
        self,
        actor: Actor,
        organisation_id: int | None,
        draft: ChallengeDraft,
        min_count: int = 1,
        visibility: Visibility = Visibility.PUBLIC,
    ) -> Challenge:
        """A new challenge run by the organisation (None: by the deployment, administrators
        only), created and attached in one unit, open to everyone or (`visibility`) to the
        organisation's members only; its staff only."""

        def unit(conn: Connection) -> Challenge:
            if organisation_id is None:
                if not actor.is_admin:
                    raise Forbidden("error.org.not_allowed")
                if visibility is not Visibility.PUBLIC:
                    raise Invalid("error.org.private_needs_organisation")
            else:
                require(conn, actor, organisation_id, *STAFF)
            challenge = create_challenge(conn, self.clock, draft, actor.member_id, min_count)
            if organisation_id is not None:
                conn.execute(
                    update(challenges)
                    .where(challenges.c.id == challenge.id)
                    .values(organisation_id=organisation_id, visibility=visibility.value)
                )
                return load_challenge(conn, challenge.id)
            return challenge

        return await self.db.transaction(unit)

    async def check_challenge(self, actor: Actor, challenge_id: int) -> None:
        """Forbidden unless the actor may manage the challenge."""
        if not await self.may_manage(actor, challenge_id):
            raise Forbidden("error.org.not_allowed")

    async def set_header(
        self, actor: Actor, organisation_id: int, **header: str | None
    ) -> Organisation:
        """Change the web page header (logo file, colour, contact, privacy link); owners."""
        fields = check_header(**header)

        def unit(conn: Connection) -> Organisation:
            require(conn, actor, organisation_id, Role.OWNER)
            row = conn.execute(
                update(organisations)
                .where(organisations.c.id == organisation_id)
                .values(**fields)
                .returning(*organisations.c)
            ).one()
            return organisation_from_row(row)

        return await self.db.transaction(unit)

    async def set_role(
        self, actor: Actor, organisation_id: int, member_id: int, role: Role
    ) -> None:
        """Make a member an owner or an organiser of the organisation; owners only. The last
        owner cannot step down to organiser."""

        def unit(conn: Connection) -> None:
            require(conn, actor, organisation_id, Role.OWNER)
            if conn.execute(select(members.c.id).where(members.c.id == member_id)).first() is None:
                raise NotFound("error.member_not_found")
            current = role_in(conn, organisation_id, member_id)
            if current == Role.OWNER and role != Role.OWNER:
                _keep_an_owner(conn, organisation_id)
            stmt = insert_for(conn, organisation_members).values(
                organisation_id=organisation_id,
                member_id=member_id,
                role=role.value,
                created_at=self.clock.now(),
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[
                        organisation_members.c.organisation_id,
                        organisation_members.c.member_id,
                    ],
                    set_={"role": role.value},
                )
            )
            if current is None:
                joined(self.on_join, conn, ConditionScope.ORGANISATION, organisation_id, member_id)
            ask_menus(conn, member_id, self.clock.now(), self.default_locale)

        await self.db.transaction(unit)

    async def remove(self, actor: Actor, organisation_id: int, member_id: int) -> None:
        """Take a member off the organisation's staff; owners only, never the last owner."""

        def unit(conn: Connection) -> None:
            require(conn, actor, organisation_id, Role.OWNER)
            current = role_in(conn, organisation_id, member_id)
            if current is None:
                raise NotFound("error.org.not_staff")
            if current == Role.OWNER:
                _keep_an_owner(conn, organisation_id)
            conn.execute(
                delete(organisation_members).where(
                    organisation_members.c.organisation_id == organisation_id,
                    organisation_members.c.member_id == member_id,
                )
            )
            if current in STAFF:
                ask_menus(conn, member_id, self.clock.now(), self.default_locale)

        await self.db.transaction(unit)

    async def invite(self, actor: Actor, organisation_id: int, role: Role) -> str:
        """A one-time code (valid INVITE_TTL) that makes whoever sends it staff with `role`,
        owners only; or, for `Role.MEMBER`, a code its staff share with everyone they let in
        (used by many, valid MEMBER_INVITE_TTL)."""
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
        member = role is Role.MEMBER

        def unit(conn: Connection) -> None:
            require(conn, actor, organisation_id, *(STAFF if member else (Role.OWNER,)))
            conn.execute(
                insert(organisation_invites).values(
                    code=code,
                    organisation_id=organisation_id,
                    role=role.value,
                    expires_at=self.clock.now() + (MEMBER_INVITE_TTL if member else INVITE_TTL),
                )
            )

        await self.db.transaction(unit)
        return code

    async def members_code(self, organisation_id: int, code: str | None = None) -> str | None:
        """The organisation's members' invitation still valid the longest (with `code`: that
        one, when it is a valid members' invitation of this organisation), or None. Shown
        only to people who see its private challenges: they pass it on to colleagues."""
        where = [
            organisation_invites.c.organisation_id == organisation_id,
            organisation_invites.c.role == Role.MEMBER.value,
            organisation_invites.c.expires_at > self.clock.now(),
        ]
        if code is not None:
            where.append(organisation_invites.c.code == code.strip().upper())
        async with self.db.read() as conn:
            found = await conn.execute(
                select(organisation_invites.c.code)
                .where(*where)
                .order_by(organisation_invites.c.expires_at.desc())
                .limit(1)
            )
            return found.scalar_one_or_none()

    async def join(self, member_id: int, code: str) -> tuple[Organisation, Role]:
        """Join an organisation with an invitation code: its staff (the code is then spent),
        or its members (the code stays for the others); nobody loses a higher role."""
        code = code.strip().upper()

        def unit(conn: Connection) -> tuple[Organisation, Role]:
            valid = (
                organisation_invites.c.code == code,
                organisation_invites.c.expires_at > self.clock.now(),
            )
            invite = conn.execute(
                select(organisation_invites.c.organisation_id, organisation_invites.c.role).where(
                    *valid
                )
            ).first()
            if invite is not None and invite.role != Role.MEMBER.value:
                invite = conn.execute(
                    delete(organisation_invites)
                    .where(*valid)
                    .returning(organisation_invites.c.organisation_id, organisation_invites.c.role)
                ).first()
            if invite is None:
                raise Invalid("error.org.bad_invite")
            role = Role(invite.role)
            current = role_in(conn, invite.organisation_id, member_id)
            if current is not None and _RANK[current] >= _RANK[role]:
                role = current
            else:
                stmt = insert_for(conn, organisation_members).values(
                    organisation_id=invite.organisation_id,
                    member_id=member_id,
                    role=role.value,
                    created_at=self.clock.now(),
                )
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[
                            organisation_members.c.organisation_id,
                            organisation_members.c.member_id,
                        ],
                        set_={"role": role.value},
                    )
                )
                if current is None:
                    scope = ConditionScope.ORGANISATION
                    joined(self.on_join, conn, scope, invite.organisation_id, member_id)
                if role in STAFF:
                    ask_menus(conn, member_id, self.clock.now(), self.default_locale)
            row = conn.execute(
                select(organisations).where(organisations.c.id == invite.organisation_id)
            ).one()
            return organisation_from_row(row), role

        return await self.db.transaction(unit)

    async def staff(self, actor: Actor, organisation_id: int) -> list[Staff]:
        """The organisation's owners and organisers, owners first; its staff only."""

        def unit(conn: Connection) -> list[Staff]:
            require(conn, actor, organisation_id, *STAFF)
            rows = conn.execute(
                select(organisation_members.c.member_id, members.c.display_name)
                .add_columns(organisation_members.c.role)
                .join(members, members.c.id == organisation_members.c.member_id)
                .where(
                    organisation_members.c.organisation_id == organisation_id,
                    organisation_members.c.role.in_([r.value for r in STAFF]),
                )
                .order_by(organisation_members.c.role.desc(), members.c.display_name)
            ).all()
            return [Staff(r.member_id, r.display_name, Role(r.role)) for r in rows]

        async with self.db.read() as conn:
            return await conn.run_sync(unit)

    async def attach_challenge(self, actor: Actor, organisation_id: int, challenge_id: int) -> None:
        """Make the organisation run a challenge: its staff may attach the challenges they
        created; a challenge of another organisation stays out of reach."""

        def unit(conn: Connection) -> None:
            require(conn, actor, organisation_id, *STAFF)
            row = conn.execute(
                select(challenges.c.organisation_id, challenges.c.created_by).where(
                    challenges.c.id == challenge_id
                )
            ).first()
            if row is None:
                raise NotFound("error.challenge_not_found", slug=str(challenge_id))
            if row.organisation_id == organisation_id:
                return
            own = row.organisation_id is None and row.created_by == actor.member_id
            if not (actor.is_admin or own):
                raise Forbidden("error.org.not_allowed")
            conn.execute(
                update(challenges)
                .where(challenges.c.id == challenge_id)
                .values(organisation_id=organisation_id, updated_at=self.clock.now())
            )

        await self.db.transaction(unit)

    async def set_visibility(
        self, actor: Actor, challenge_id: int, visibility: Visibility
    ) -> Challenge:
        """Open a challenge to everyone, or to its organisation's members only; the staff of
        the organisation running it (a challenge of no organisation has no members)."""

        def unit(conn: Connection) -> Challenge:
            organisation_id = conn.execute(
                select(challenges.c.organisation_id).where(challenges.c.id == challenge_id)
            ).first()
            if organisation_id is None:
                raise NotFound("error.challenge_not_found", slug=str(challenge_id))
            if not may_manage_challenge(conn, actor, challenge_id):
                raise Forbidden("error.org.not_allowed")
            if organisation_id[0] is None and visibility is Visibility.MEMBERS:
                raise Invalid("error.org.private_needs_organisation")
            conn.execute(
                update(challenges)
                .where(challenges.c.id == challenge_id)
                .values(visibility=visibility.value, updated_at=self.clock.now())
            )
            if visibility is Visibility.MEMBERS:  # outsiders' groups hear of it no more
                own = select(organisation_groups.c.group_id).where(
                    organisation_groups.c.organisation_id == organisation_id[0]
                )
                conn.execute(
                    delete(group_follows).where(
                        group_follows.c.challenge_id == challenge_id,
                        group_follows.c.group_id.not_in(own),
                    )
                )
            return load_challenge(conn, challenge_id)

        return await self.db.transaction(unit)

    async def challenges(self, actor: Actor, organisation_id: int) -> list[Challenge]:
        """The organisation's challenges, soonest deadline first; its staff only."""

        def unit(conn: Connection) -> list[Challenge]:
            require(conn, actor, organisation_id, *STAFF)
            return load_challenges(
                conn, challenges.c.organisation_id == organisation_id, challenges.c.deadline
            )

        async with self.db.read() as conn:
            return await conn.run_sync(unit)

    async def may_manage(self, actor: Actor, challenge_id: int) -> bool:
        """True when the actor may manage the challenge (see `may_manage_challenge`)."""
        async with self.db.read() as conn:
            return await conn.run_sync(may_manage_challenge, actor, challenge_id)

    async def check_broadcast(self, actor: Actor, challenge_id: int | None) -> None:
        """Forbidden unless the actor may broadcast to this audience: a challenge's pledgers
        and groups to its organisation's staff, every member to administrators alone."""
        if challenge_id is None:
            if not actor.is_admin:
                raise Forbidden("error.org.admin_only")
            return
        if not await self.may_manage(actor, challenge_id):
            raise Forbidden("error.org.not_allowed")

    async def add_group(self, actor: Actor, organisation_id: int, group_id: int) -> None:
        """Make a group or channel the organisation's own; its staff only, and a group
        belongs to one organisation at most."""

        def unit(conn: Connection) -> None:
            require(conn, actor, organisation_id, *STAFF)
            owner = conn.execute(
                select(organisation_groups.c.organisation_id).where(
                    organisation_groups.c.group_id == group_id
                )
            ).scalar_one_or_none()
            if owner == organisation_id:
                return
            if owner is not None:
                raise Conflict("error.org.group_taken")
            conn.execute(
                insert(organisation_groups).values(
                    group_id=group_id, organisation_id=organisation_id, created_at=self.clock.now()
                )
            )

        await self.db.transaction(unit)

    async def groups(self, actor: Actor, organisation_id: int) -> list[Group]:
        """The organisation's groups and channels, by title; its staff only."""

        def unit(conn: Connection) -> list[Group]:
            require(conn, actor, organisation_id, *STAFF)
            rows = conn.execute(
                select(groups)
                .join(organisation_groups)
                .where(organisation_groups.c.organisation_id == organisation_id)
                .order_by(groups.c.title)
            ).all()
            return [group_from_row(r) for r in rows]

        async with self.db.read() as conn:
            return await conn.run_sync(unit)


def _keep_an_owner(conn: Connection, organisation_id: int) -> None:
    owners = conn.execute(
        select(func.count())
        .select_from(organisation_members)
        .where(
            organisation_members.c.organisation_id == organisation_id,
            organisation_members.c.role == Role.OWNER.value,
        )
    ).scalar_one()
    if owners <= 1:
        raise Conflict("error.org.last_owner")
