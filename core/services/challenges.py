"""Challenges, their sponsor tiers and their life cycle."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from core.clock import Clock
from core.db.database import Database
from core.db.tables import challenges, tiers
from core.drafts import MAX_TEXT, ChallengeDraft, TierDraft
from core.errors import Conflict, Invalid, NotFound
from core.events import emit
from core.i18n import reader_locale
from core.milestones import next_threshold
from core.models import (
    AreaKind,
    Challenge,
    ChallengeStatus,
    EventKind,
    Frequency,
    Tier,
    Visibility,
)

EDITABLE = {"title": 120, "description": MAX_TEXT, "action": 200, "category": 40}
OPEN_FOR_PLEDGES = (ChallengeStatus.OPEN, ChallengeStatus.SUCCEEDED)
SEARCH_SCANNED = 200
"""Open challenges a search looks through (the soonest deadlines)."""
CACHED_CHALLENGES = 4096
"""Challenges kept in memory at most: past it, all are forgotten and read again once."""
_HEAD = (
    challenges.c.id,
    challenges.c.revision,
    challenges.c.pledge_count,
    challenges.c.checkin_count,
)
_cached: dict[int, tuple[int, Challenge]] = {}
"""Challenges as stored, by id, with their revision (counters as of their reading). Shared by
the event loop's reads and the writer's thread: each entry is replaced whole, never changed."""


def folded(text: str) -> str:
    """Lower case without accents, for matching typed words."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _searchable(challenge: Challenge) -> str:
    texts = [challenge.title, challenge.slug, challenge.action, challenge.area_name or ""]
    for translated in challenge.translations.values():
        texts.extend(translated.get(name, "") for name in ("title", "action"))
    return folded(" ".join(texts))


def _translate(conn: Connection, challenge_id: int, locale: str, texts: dict[str, str]) -> None:
    row = conn.execute(
        select(challenges.c.translations).where(challenges.c.id == challenge_id)
    ).first()
    if row is None:
        raise NotFound("error.challenge_not_found", slug=str(challenge_id))
    translations = dict(row.translations or {})
    translations[locale] = {name: text for name, text in texts.items() if text}
    kept = {code: given for code, given in translations.items() if given}
    conn.execute(
        update(challenges).where(challenges.c.id == challenge_id).values(translations=kept or None)
    )


def tier_from_row(row: Any) -> Tier:
    """Build a Tier from a `tiers` row."""
    return Tier(
        id=row.id,
        challenge_id=row.challenge_id,
        threshold=row.threshold,
        sponsor=row.sponsor,
        reward=row.reward,
        unlocked_at=row.unlocked_at,
        kept_at=row.kept_at,
        proof=row.proof,
        translations=row.translations or {},
    )


def challenge_from_row(row: Any, tier_rows: tuple[Tier, ...] = ()) -> Challenge:
    """Build a Challenge from a `challenges` row and its tiers, in the reader's language."""
    return _stored(row, tier_rows).read_in(reader_locale())


def _stored(row: Any, tier_rows: tuple[Tier, ...]) -> Challenge:
    """A Challenge as stored: its original texts, with every translation."""
    return Challenge(
        id=row.id,
        slug=row.slug,
        title=row.title,
        description=row.description,
        action=row.action,
        category=row.category,
        goal=row.goal,
        starts_at=row.starts_at,
        deadline=row.deadline,
        status=ChallengeStatus(row.status),
        frequency=Frequency(row.frequency),
        pledge_count=row.pledge_count,
        checkin_count=row.checkin_count,
        area_name=row.area_name,
        area_kind=AreaKind(row.area_kind) if row.area_kind else None,
        impact_per_action=row.impact_per_action,
        impact_unit=row.impact_unit,
        created_by=row.created_by,
        tiers=tier_rows,
        translations=row.translations or {},
        organisation_id=row.organisation_id,
        visibility=Visibility(row.visibility),
    )


def visible_where(members_of: Collection[int] = ()) -> Any:
    """SQL condition: the challenge is public, or private to one of the organisations in
    `members_of` (those whose members the reader is)."""
    public = challenges.c.visibility == Visibility.PUBLIC.value
    if not members_of:
        return public
    return or_(public, challenges.c.organisation_id.in_(list(members_of)))


def open_and_visible(members_of: Collection[int] = ()) -> Any:
    """SQL condition: open for pledges and visible (see `visible_where`)."""
    return challenges.c.status.in_([s.value for s in OPEN_FOR_PLEDGES]) & visible_where(members_of)


def load_challenges(conn: Connection, where: Any, *order: Any) -> list[Challenge]:
    """Challenges matching `where`, each with its tiers, in the reader's language; async
    callers go through `AsyncConnection.run_sync`.

    One small statement reads the ids, revisions and counters; only challenges not in memory
    at that revision are read in full (two more statements). A revision is drawn again by the
    database at every change but the counters' (revision 0021), whichever instance made it;
    one drawn in a transaction that rolled back is never read again, so its entry is never used.
    """
    heads = conn.execute(select(*_HEAD).where(where).order_by(*order)).all()
    known = {head.id: _cached.get(head.id) for head in heads}
    stale = [
        head.id for head in heads if (kept := known[head.id]) is None or kept[0] != head.revision
    ]
    fresh = _read_in_full(conn, stale) if stale else {}
    locale = reader_locale()
    found = []
    for head in heads:
        if head.id in fresh:
            challenge = fresh[head.id]
        elif (kept := known[head.id]) is not None and kept[0] == head.revision:
            challenge = replace(
                kept[1], pledge_count=head.pledge_count, checkin_count=head.checkin_count
            )
        else:  # deleted between the two reads
            continue
        found.append(challenge.read_in(locale))
    return found


def _read_in_full(conn: Connection, ids: list[int]) -> dict[int, Challenge]:
    """The challenges with these ids as stored, with their tiers (two statements); each kept
    in memory with the revision read with it."""
    rows = conn.execute(select(challenges).where(challenges.c.id.in_(ids))).all()
    by_challenge: dict[int, list[Tier]] = {row.id: [] for row in rows}
    tier_rows = conn.execute(
        select(tiers).where(tiers.c.challenge_id.in_(ids)).order_by(tiers.c.threshold)
    )
    for t in tier_rows:
        if t.challenge_id in by_challenge:
            by_challenge[t.challenge_id].append(tier_from_row(t))
    if len(_cached) + len(rows) > CACHED_CHALLENGES:
        _cached.clear()
    fresh = {}
    for row in rows:
        fresh[row.id] = _stored(row, tuple(by_challenge[row.id]))
        _cached[row.id] = (row.revision, fresh[row.id])
    return fresh


def load_challenge(conn: Connection, challenge_id: int) -> Challenge:
    """One challenge with its tiers; NotFound when missing."""
    found = load_challenges(conn, challenges.c.id == challenge_id)
    if not found:
        raise NotFound("error.challenge_not_found", slug=str(challenge_id))
    return found[0]


class ChallengeService:
    """Create, publish, edit, close and find challenges."""

    def __init__(self, db: Database, clock: Clock, min_count: int = 1) -> None:
        self.db = db
        self.clock = clock
        self.min_count = min_count
        """KOOM_MAP_MIN_COUNT: no area goal may be smaller (it would be announced publicly)."""

    async def create(self, draft: ChallengeDraft, created_by: int | None = None) -> Challenge:
        """Create a challenge (a draft unless the draft says open) with its tiers."""
        return await self.db.transaction(
            create_challenge, self.clock, draft, created_by, self.min_count
        )

    async def get(self, challenge_id: int) -> Challenge:
        """The challenge with this id."""
        async with self.db.read() as conn:
            return await conn.run_sync(load_challenge, challenge_id)

    async def by_slug(self, slug: str) -> Challenge:
        """The challenge with this slug; NotFound otherwise."""
        async with self.db.read() as conn:
            found = await conn.run_sync(load_challenges, challenges.c.slug == slug.strip().lower())
        if not found:
            raise NotFound("error.challenge_not_found", slug=slug)
        return found[0]

    async def list_open(
        self, offset: int = 0, limit: int = 5, members_of: Collection[int] = ()
    ) -> list[Challenge]:
        """Challenges people can pledge to, soonest deadline first, one page: the public
        ones, and the private ones of the organisations in `members_of` (the reader's)."""
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(challenges.c.id)
                .where(open_and_visible(members_of))
                .order_by(challenges.c.deadline, challenges.c.id)
                .offset(offset)
                .limit(limit)
            )
            ids = [r.id for r in rows]
            found = await conn.run_sync(load_challenges, challenges.c.id.in_(ids))
        order = {challenge_id: i for i, challenge_id in enumerate(ids)}
        return sorted(found, key=lambda c: order[c.id])

    async def public_of(self, organisation_id: int, limit: int) -> list[Challenge]:
        """The organisation's open public challenges, soonest deadline first (its page)."""
        where = open_and_visible() & (challenges.c.organisation_id == organisation_id)
        async with self.db.read() as conn:
            found = await conn.run_sync(
                load_challenges, where, challenges.c.deadline, challenges.c.id
            )
        return found[:limit]

    async def search(
        self, typed: str, limit: int, members_of: Collection[int] = ()
    ) -> list[Challenge]:
        """Open challenges whose title, short name, action or area hold every typed word,
        accents and case aside (in the reader's language and the original); soonest deadline
        first. Private ones only of the organisations in `members_of`."""
        words = folded(typed).split()
        found = [
            challenge
            for challenge in await self.list_open(0, SEARCH_SCANNED, members_of)
            if all(word in _searchable(challenge) for word in words)
        ]
        return found[:limit]

    async def translate(self, challenge_id: int, locale: str, texts: dict[str, str]) -> Challenge:
        """Keep the challenge's texts in `locale` (an empty one reads as the original)."""
        await self.db.transaction(_translate, challenge_id, locale, texts)
        return await self.get(challenge_id)

    async def count_open(self, members_of: Collection[int] = ()) -> int:
        """How many challenges people can pledge to (private ones: see `list_open`)."""
        async with self.db.read() as conn:
            return int(
                (
                    await conn.execute(
                        select(func.count())
                        .select_from(challenges)
                        .where(open_and_visible(members_of))
                    )
                ).scalar_one()
            )

    async def list_all(self) -> list[Challenge]:
        """Every challenge, newest first (organisers and the CLI)."""
        async with self.db.read() as conn:
            return await conn.run_sync(load_challenges, challenges.c.id > 0, challenges.c.id.desc())

    async def publish(self, challenge_id: int) -> Challenge:
        """Open a draft for pledges."""
        return await self._transition(challenge_id, (ChallengeStatus.DRAFT,), ChallengeStatus.OPEN)

    async def close(self, challenge_id: int) -> Challenge:
        """Close a challenge for good; pledges stay counted."""
        return await self._transition(
            challenge_id,
            (
                ChallengeStatus.DRAFT,
                ChallengeStatus.OPEN,
                ChallengeStatus.SUCCEEDED,
                ChallengeStatus.EXPIRED,
            ),
            ChallengeStatus.CLOSED,
        )

    async def edit(self, challenge_id: int, **changes: str | datetime) -> Challenge:
        """Change the wording (title, description, action, category) or the deadline."""
        values: dict[str, object] = {}
        for name, value in changes.items():
            if name == "deadline":
                if not isinstance(value, datetime) or value <= self.clock.now():
                    raise Invalid("error.deadline_past")
                values[name] = value
            elif name in EDITABLE and isinstance(value, str):
                text = value.strip()
                if not text and name != "description":
                    raise Invalid("error.empty_text")
                if len(text) > EDITABLE[name]:
                    raise Invalid("error.text_too_long", limit=EDITABLE[name])
                values[name] = text
            else:
                raise Invalid("error.not_editable", field=name)

        def unit(conn: Connection) -> Challenge:
            current = load_challenge(conn, challenge_id)
            if current.status == ChallengeStatus.CLOSED:
                raise Conflict("error.challenge_closed")
            values["updated_at"] = self.clock.now()
            conn.execute(update(challenges).where(challenges.c.id == challenge_id).values(**values))
            return load_challenge(conn, challenge_id)

        return await self.db.transaction(unit)

    async def add_tier(self, challenge_id: int, tier: TierDraft) -> Challenge:
        """Add a sponsor tier, also a stretch tier after success, above the current count."""

        def unit(conn: Connection) -> Challenge:
            current = load_challenge(conn, challenge_id)
            if current.status in (ChallengeStatus.CLOSED, ChallengeStatus.EXPIRED):
                raise Conflict("error.challenge_closed")
            if tier.threshold <= current.pledge_count:
                raise Invalid("error.tier_below_count", count=current.pledge_count)
            if any(t.threshold == tier.threshold for t in current.tiers):
                raise Invalid("error.tier_duplicate", threshold=tier.threshold)
            conn.execute(insert(tiers).values(challenge_id=challenge_id, **tier.model_dump()))
            row = conn.execute(
                select(challenges.c.next_threshold).where(challenges.c.id == challenge_id)
            ).one()
            if row.next_threshold is None or tier.threshold < row.next_threshold:
                conn.execute(
                    update(challenges)
                    .where(challenges.c.id == challenge_id)
                    .values(next_threshold=tier.threshold, updated_at=self.clock.now())
                )
            return load_challenge(conn, challenge_id)

        return await self.db.transaction(unit)

    async def record_promise_kept(self, tier_id: int, proof: str) -> Tier:
        """Record that a sponsor kept an unlocked tier's promise, with a proof text."""
        return await self.db.transaction(keep_promise, self.clock, tier_id, check_proof(proof))

    async def expire_due(self) -> list[Challenge]:
        """Mark open challenges past their deadline as expired, each with its event."""
        now = self.clock.now()

        def unit(conn: Connection) -> list[Challenge]:
            due = conn.execute(
                select(challenges.c.id, challenges.c.pledge_count, challenges.c.goal)
                .where(
                    challenges.c.status == ChallengeStatus.OPEN.value,
                    challenges.c.deadline <= now,
                )
                .order_by(challenges.c.id)
            ).all()
            if not due:
                return []
            ids = [c.id for c in due]
            conn.execute(
                update(challenges)
                .where(challenges.c.id.in_(ids))
                .values(status=ChallengeStatus.EXPIRED.value, updated_at=now)
            )
            for challenge in due:
                emit(
                    conn,
                    self.clock,
                    EventKind.EXPIRED,
                    challenge.id,
                    f"expired:{challenge.id}",
                    count=challenge.pledge_count,
                    goal=challenge.goal,
                )
            return load_challenges(conn, challenges.c.id.in_(ids), challenges.c.id)

        return await self.db.transaction(unit)

    async def _transition(
        self,
        challenge_id: int,
        allowed: tuple[ChallengeStatus, ...],
        target: ChallengeStatus,
    ) -> Challenge:
        def unit(conn: Connection) -> Challenge:
            current = load_challenge(conn, challenge_id)
            if current.status not in allowed:
                raise Conflict("error.bad_transition", status=current.status.value)
            conn.execute(
                update(challenges)
                .where(challenges.c.id == challenge_id)
                .values(status=target.value, updated_at=self.clock.now())
            )
            return load_challenge(conn, challenge_id)

        return await self.db.transaction(unit)


def create_challenge(
    conn: Connection,
    clock: Clock,
    draft: ChallengeDraft,
    created_by: int | None = None,
    min_count: int = 1,
) -> Challenge:
    """Unit of work: create a challenge (a draft unless the draft says open) with its tiers;
    Invalid when its deadline is past or its goal per area under `min_count`
    (KOOM_MAP_MIN_COUNT: it would be announced publicly), Conflict when its slug is taken."""
    now = clock.now()
    if draft.deadline <= now:
        raise Invalid("error.deadline_past")
    if draft.area_goal is not None and draft.area_goal < min_count:
        raise Invalid("error.area_goal_below_minimum", minimum=min_count)
    slug = draft.effective_slug
    if conn.execute(select(challenges.c.id).where(challenges.c.slug == slug)).first() is not None:
        raise Conflict("error.slug_taken", slug=slug)
    thresholds = [t.threshold for t in draft.tiers]
    try:
        challenge_id = conn.execute(
            insert(challenges)
            .values(
                slug=slug,
                title=draft.title,
                description=draft.description,
                action=draft.action,
                category=draft.category,
                goal=draft.goal,
                starts_at=draft.starts_at or now,
                deadline=draft.deadline,
                status=draft.status.value,
                frequency=draft.frequency.value,
                area_name=draft.area_name,
                area_kind=draft.area_kind.value if draft.area_kind else None,
                impact_per_action=draft.impact_per_action,
                area_goal=draft.area_goal,
                impact_unit=draft.impact_unit,
                translations=draft.stored_translations(),
                next_threshold=next_threshold(draft.goal, thresholds, 0),
                created_by=created_by,
                created_at=now,
                updated_at=now,
            )
            .returning(challenges.c.id)
        ).scalar_one()
    except IntegrityError as exc:  # a concurrent create took the slug
        raise Conflict("error.slug_taken", slug=slug) from exc
    for tier in draft.tiers:
        conn.execute(insert(tiers).values(challenge_id=challenge_id, **tier.model_dump()))
    return load_challenge(conn, challenge_id)


def check_proof(proof: str) -> str:
    """The proof of a kept promise, trimmed; Invalid when empty or too long."""
    proof = proof.strip()
    if not proof:
        raise Invalid("error.empty_text")
    if len(proof) > MAX_TEXT:
        raise Invalid("error.text_too_long", limit=MAX_TEXT)
    return proof


def keep_promise(
    conn: Connection, clock: Clock, tier_id: int, proof: str | None, picture: bool = False
) -> Tier:
    """Unit: an unlocked tier's promise is kept, with its proof and the event every pledger,
    group and organiser hears once (with `picture`, its deliveries carry the tier's proof
    picture, and the proof may have no text)."""
    row = conn.execute(select(tiers).where(tiers.c.id == tier_id)).first()
    if row is None:
        raise NotFound("error.tier_not_found")
    if row.unlocked_at is None:
        raise Conflict("error.tier_not_unlocked")
    if row.kept_at is not None:
        raise Conflict("error.tier_already_kept")
    conn.execute(
        update(tiers).where(tiers.c.id == tier_id).values(kept_at=clock.now(), proof=proof)
    )
    emit(
        conn,
        clock,
        EventKind.PROMISE_KEPT,
        row.challenge_id,
        f"kept:{tier_id}",
        tier_id=tier_id,
        sponsor=row.sponsor,
        reward=row.reward,
        proof=proof,
        **({"picture": True} if picture else {}),
    )
    return tier_from_row(conn.execute(select(tiers).where(tiers.c.id == tier_id)).one())
