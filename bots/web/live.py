"""What the web shows of a challenge, read once and shared by every request and live viewer.

One :class:`Watch` per challenge holds the latest :class:`Snapshot`. A request older than
``poll_seconds`` refreshes it (concurrent requests share that one refresh: five small
queries), and while live viewers are connected one poller per challenge refreshes it every
``poll_seconds`` and wakes them when something they see changed (the count, the tiers and
their sponsors' status, the announcements, the organisation's header). The counts by area go
through ``ProgressService.areas`` (``visible_areas``: nothing under the minimum count); they
cost tens of milliseconds with thousands of areas, so they are computed again only when the
pledge count moved (at most every ``areas_min_seconds``) or after ``areas_max_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select

from core.areas import AreaTotal
from core.db.tables import outbox
from core.errors import NotFound
from core.models import ANNOUNCEMENTS, Challenge, ChallengeStatus, Progress
from core.services import Services
from core.services.organisations import Organisation
from core.services.progress import progress_of
from core.services.sponsors import SponsorStatus

log = logging.getLogger(__name__)

LATEST_ANNOUNCEMENTS = 5
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LiveConfig:
    """How fresh the shared snapshots are kept."""

    poll_seconds: float = 1.0
    """A snapshot older than this is read again (and live viewers' poller runs this often)."""
    areas_min_seconds: float = 5.0
    """The counts by area are computed again at most this often while pledges come in (it
    takes ~0.1 s of the event loop with 5,000 areas)..."""
    areas_max_seconds: float = 300.0
    """...and at least this often, whatever the pledge count (a withdrawal and a pledge
    elsewhere leave it unchanged)."""
    keepalive_seconds: float = 15.0
    """A live stream with nothing new sends a comment this often, so proxies keep it open."""


@dataclass(frozen=True, slots=True)
class Announcement:
    """One announcement of the challenge's story, as stored in the outbox."""

    id: int
    kind: str
    payload: Mapping[str, object]
    created_at: datetime


@dataclass(slots=True)
class Snapshot:
    """A challenge as the web shows it at one moment; `cache` keeps the encoded answers
    (pages per language, open data) made from it."""

    challenge: Challenge
    progress: Progress
    announcements: tuple[Announcement, ...]
    areas: tuple[AreaTotal, ...]
    areas_version: int
    version: int
    organisation: Organisation | None = None
    """The organisation running the challenge, whose header the page shows."""
    sponsors: tuple[SponsorStatus, ...] = ()
    """Each tier's sponsor and where its promise stands."""
    cache: dict[Hashable, Any] = field(default_factory=dict)

    def read_in(self, locale: str) -> Snapshot:
        """The snapshot with the challenge's texts in `locale` where its organiser gave them
        (the numbers and the cache are the same)."""
        challenge = self.challenge.read_in(locale)
        progress = replace(self.progress, challenge=challenge)
        return replace(self, challenge=challenge, progress=progress)

    def cached(self, key: Hashable, make: Callable[[], T]) -> T:
        """`make()` once per snapshot and key."""
        if key not in self.cache:
            self.cache[key] = make()
        found: T = self.cache[key]
        return found


def is_public(challenge: Challenge) -> bool:
    """Drafts and private challenges (of an organisation's members only: the web has no
    login to tell who reads) have no page; every other challenge has its own."""
    return challenge.status != ChallengeStatus.DRAFT and not challenge.private


class Watch:
    """The shared, refreshed snapshot of one challenge, and its live viewers."""

    def __init__(self, hub: LiveHub, slug: str) -> None:
        self.hub = hub
        self.slug = slug
        self.snapshot: Snapshot | None = None
        self.gone = False
        self._checked_at = -1e18
        self._areas_at = -1e18
        self._areas_count = -1
        self._refreshing: asyncio.Task[Snapshot] | None = None
        self._changed = asyncio.Event()
        self._viewers = 0
        self._poller: asyncio.Task[None] | None = None

    async def current(self) -> Snapshot:
        """The snapshot, read again first when older than the poll interval; NotFound when
        the challenge does not exist (or no longer, or is a draft)."""
        if self.gone:
            raise NotFound("error.challenge_not_found", slug=self.slug)
        fresh = time.monotonic() - self._checked_at < self.hub.config.poll_seconds
        if self.snapshot is not None and fresh:
            return self.snapshot
        if self._refreshing is None:
            self._refreshing = asyncio.get_running_loop().create_task(self._refresh())
            self._refreshing.add_done_callback(self._refreshed)
        return await asyncio.shield(self._refreshing)

    def _refreshed(self, task: asyncio.Task[Snapshot]) -> None:
        self._refreshing = None
        if not task.cancelled():
            task.exception()  # retrieved here; the awaiting requests see it too

    async def _refresh(self) -> Snapshot:
        services = self.hub.services
        try:
            challenge = await services.challenges.by_slug(self.slug)
            if not is_public(challenge):
                raise NotFound("error.challenge_not_found", slug=self.slug)
        except NotFound:
            self._set_gone()
            raise
        announcements = await latest_announcements(services, challenge.id)
        organisation = await services.organisations.of_challenge(challenge.id)
        sponsors = tuple(await services.sponsors.statuses(challenge.id))
        previous = self.snapshot
        now = time.monotonic()
        config = self.hub.config
        areas = previous.areas if previous is not None else ()
        areas_version = previous.areas_version if previous is not None else 0
        other = previous is None or previous.challenge.id != challenge.id
        moved = self._areas_count != challenge.pledge_count
        since = now - self._areas_at
        if (
            other
            or (moved and since >= config.areas_min_seconds)
            or since >= config.areas_max_seconds
        ):
            found = tuple(await services.progress.areas(challenge.id))
            self._areas_at, self._areas_count = time.monotonic(), challenge.pledge_count
            if other or previous is None or found != previous.areas:
                areas, areas_version = found, areas_version + 1
        waiting = await services.conditional.waiting(challenge.id)
        progress = replace(
            progress_of(challenge, services.clock), waiting=waiting if waiting.count else None
        )
        same = previous is not None and (
            previous.challenge == challenge
            and previous.announcements == announcements
            and previous.areas_version == areas_version
            and previous.progress.days_left == progress.days_left
            and previous.organisation == organisation
            and previous.sponsors == sponsors
            and previous.progress.waiting == progress.waiting
        )
        if same and previous is not None:
            snapshot = previous
        else:
            version = previous.version + 1 if previous is not None else 1
            snapshot = Snapshot(
                challenge,
                progress,
                announcements,
                areas,
                areas_version,
                version,
                organisation,
                sponsors,
            )
            self.snapshot = snapshot
            self._wake()
        self._checked_at = now
        return snapshot

    def _set_gone(self) -> None:
        self.gone = True
        self.hub.forget(self)
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def changed(self, version: int, seconds: float) -> bool:
        """Wait until the snapshot is past `version`, the challenge is gone or the hub closes;
        False after `seconds` with nothing new."""
        event = self._changed
        snapshot = self.snapshot
        if self.gone or self.hub.closing or (snapshot is not None and snapshot.version != version):
            return True
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def join(self) -> None:
        """A live viewer arrives: the poller runs while there is one."""
        self._viewers += 1
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    def leave(self) -> None:
        """A live viewer leaves."""
        self._viewers -= 1

    async def _poll(self) -> None:
        while self._viewers > 0 and not self.gone and not self.hub.closing:
            await asyncio.sleep(self.hub.config.poll_seconds)
            try:
                await self.current()
            except NotFound:
                return
            except Exception:  # a database hiccup: the viewers keep the last snapshot
                log.exception("could not refresh the challenge %s", self.slug)

    async def close(self) -> None:
        """Stop the poller."""
        self._wake()
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller


class LiveHub:
    """Every challenge's watch, made on first request for an existing public challenge."""

    def __init__(self, services: Services, config: LiveConfig | None = None) -> None:
        self.services = services
        self.config = config or LiveConfig()
        self.closing = False
        self._watches: dict[str, Watch] = {}

    async def watch(self, slug: str) -> tuple[Watch, Snapshot]:
        """The watch of the challenge `slug` and its fresh snapshot; NotFound otherwise
        (nothing is kept for an unknown slug)."""
        slug = slug.strip().lower()
        watch = self._watches.get(slug)
        if watch is None:
            watch = self._watches[slug] = Watch(self, slug)
        return watch, await watch.current()

    async def snapshot(self, slug: str) -> Snapshot:
        """The fresh snapshot of the challenge `slug`; NotFound for an unknown one."""
        return (await self.watch(slug))[1]

    def watched(self) -> list[str]:
        """The slugs of the challenges followed now (never an unknown one)."""
        return sorted(self._watches)

    def forget(self, watch: Watch) -> None:
        """Drop a watch whose challenge is gone."""
        if self._watches.get(watch.slug) is watch:
            del self._watches[watch.slug]

    async def close(self) -> None:
        """Wake every live viewer so that their streams end, and stop the pollers."""
        self.closing = True
        for watch in list(self._watches.values()):
            await watch.close()


async def latest_announcements(
    services: Services, challenge_id: int, limit: int = LATEST_ANNOUNCEMENTS
) -> tuple[Announcement, ...]:
    """The challenge's latest announcements (milestones, tiers unlocked, success...), newest
    first: what every follower heard, so public."""
    async with services.db.read() as conn:
        rows = await conn.execute(
            select(outbox.c.id, outbox.c.kind, outbox.c.payload, outbox.c.created_at)
            .where(
                outbox.c.challenge_id == challenge_id,
                outbox.c.kind.in_([kind.value for kind in ANNOUNCEMENTS]),
            )
            .order_by(outbox.c.id.desc())
            .limit(limit)
        )
        return tuple(Announcement(r.id, r.kind, r.payload, r.created_at) for r in rows)
