"""The domain: frozen values that services read and return."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum


class ChallengeStatus(StrEnum):
    """draft -> open -> succeeded | expired -> closed."""

    DRAFT = "draft"
    OPEN = "open"
    SUCCEEDED = "succeeded"
    EXPIRED = "expired"
    CLOSED = "closed"


class Frequency(StrEnum):
    """How often the pledged action is done."""

    ONCE = "once"
    DAILY = "daily"
    WEEKLY = "weekly"


class AreaKind(StrEnum):
    """The scope of a challenge's area."""

    COMMUNE = "commune"
    REGION = "region"
    COUNTRY = "country"


class ReminderPreference(StrEnum):
    """What a member wants to be reminded of."""

    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"


class EventKind(StrEnum):
    """Changes that others must hear about; each becomes an outbox row."""

    MILESTONE = "milestone"
    TIER_UNLOCKED = "tier_unlocked"
    SUCCEEDED = "succeeded"
    EXPIRED = "expired"
    PROMISE_KEPT = "promise_kept"
    AREA_GOAL = "area_goal"
    DEADLINE = "deadline"
    DIGEST = "digest"
    NUDGE = "nudge"
    SPONSOR_FORECAST = "sponsor_forecast"
    SPONSOR_REACHED = "sponsor_reached"
    SPONSOR_REMINDER = "sponsor_reminder"


ANNOUNCEMENTS = frozenset(
    {
        EventKind.MILESTONE,
        EventKind.TIER_UNLOCKED,
        EventKind.SUCCEEDED,
        EventKind.EXPIRED,
        EventKind.PROMISE_KEPT,
        EventKind.AREA_GOAL,
    }
)
"""The events of a challenge's story: a member or group joining later hears the latest one."""


MILESTONE_PERCENTS: tuple[int, ...] = (25, 50, 75, 100)


class Visibility(StrEnum):
    """Who may see a challenge."""

    PUBLIC = "public"
    MEMBERS = "members"
    """Its organisation's members only: invisible to everyone else, on every surface."""


@dataclass(frozen=True, slots=True)
class Tier:
    """A sponsor's reciprocal commitment, unlocked at `threshold` pledges."""

    id: int
    challenge_id: int
    threshold: int
    sponsor: str
    reward: str
    unlocked_at: datetime | None = None
    kept_at: datetime | None = None
    proof: str | None = None
    translations: Mapping[str, str] = field(default_factory=dict, compare=False)
    """The reward in other languages, by locale."""


@dataclass(frozen=True, slots=True)
class Challenge:
    """A reciprocal challenge: if `goal` people act, sponsors keep their tiers."""

    id: int
    slug: str
    title: str
    description: str
    action: str
    category: str
    goal: int
    starts_at: datetime
    deadline: datetime
    status: ChallengeStatus
    frequency: Frequency
    pledge_count: int
    checkin_count: int
    area_name: str | None = None
    area_kind: AreaKind | None = None
    impact_per_action: float | None = None
    impact_unit: str | None = None
    created_by: int | None = None
    tiers: tuple[Tier, ...] = ()
    translations: Mapping[str, Mapping[str, str]] = field(default_factory=dict, compare=False)
    """Title, action and description in other languages: {"en": {"title": ...}}."""
    organisation_id: int | None = None
    """The organisation running it; None: the deployment's administrators."""
    visibility: Visibility = Visibility.PUBLIC
    """Who may see it: everyone, or its organisation's members only."""

    @property
    def private(self) -> bool:
        """Open to its organisation's members only, invisible to everyone else."""
        return self.visibility is Visibility.MEMBERS

    def read_in(self, locale: str | None) -> Challenge:
        """The challenge as a reader of `locale` sees it: their language where the organiser
        gave one, else the original."""
        if locale is None:
            return self
        texts = self.translations.get(locale, {})
        tiers = tuple(
            replace(t, reward=t.translations[locale]) if t.translations.get(locale) else t
            for t in self.tiers
        )
        return replace(
            self,
            title=texts.get("title") or self.title,
            action=texts.get("action") or self.action,
            description=texts.get("description") or self.description,
            tiers=tiers,
        )


@dataclass(frozen=True, slots=True)
class Location:
    """A coarse place: a commune name and/or coordinates rounded to about 1 km."""

    name: str | None
    latitude: float | None
    longitude: float | None
    key: str | None = None
    """The gazetteer's key of the place ("fr:69123"), when it is a known one."""

    @property
    def area_key(self) -> str:
        """The key places are counted under: the known place, the commune, else a ~1 km cell."""
        if self.key:
            return self.key
        if self.name:
            return self.name.strip().casefold()
        return f"cell:{self.latitude:.2f},{self.longitude:.2f}"

    @property
    def label(self) -> str:
        """What a person reads for this place."""
        if self.name:
            return self.name
        return f"{self.latitude:.2f}, {self.longitude:.2f}"


@dataclass(frozen=True, slots=True)
class Member:
    """One person, with one or more platform accounts."""

    id: int
    display_name: str
    language: str | None
    timezone: str
    location: Location | None
    reminder: ReminderPreference
    reminder_hour: int
    news_opt_out: bool
    created_at: datetime
    reminder_minute: int = 0
    reminder_weekday: int = 0
    quiet_start: int = 21 * 60
    """Quiet hours, in local minutes after midnight: [quiet_start, quiet_end)."""
    quiet_end: int = 8 * 60
    stopped: bool = False
    """The member said STOP: the bot sends nothing on its own until they take it back."""
    language_chosen: bool = False
    """`language` was chosen by the member, not taken from their app's language."""


@dataclass(frozen=True, slots=True)
class Pledge:
    """A member's commitment to a challenge's action."""

    member_id: int
    challenge_id: int
    created_at: datetime
    withdrawn_at: datetime | None
    referrer_id: int | None
    area_key: str | None
    streak: int
    best_streak: int
    last_checkin_on: date | None
    checkin_total: int

    @property
    def active(self) -> bool:
        """True until the member withdraws."""
        return self.withdrawn_at is None


@dataclass(frozen=True, slots=True)
class PledgeResult:
    """What pledging did: whether it was new, and the events it caused."""

    pledge: Pledge
    created: bool
    count: int
    events: tuple[OutboxEvent, ...] = ()
    awaited: bool = False
    """Conditional pledges were waiting on the challenge as this pledge was written."""


@dataclass(frozen=True, slots=True)
class CheckInResult:
    """What a check-in did."""

    recorded: bool
    local_day: date
    streak: int
    best_streak: int
    total: int


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """A change others must hear about, written in the same transaction as the change."""

    id: int
    kind: EventKind
    challenge_id: int
    payload: dict[str, object] = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Group:
    """A Telegram group or Discord channel that follows challenges."""

    id: int
    platform: str
    chat_id: str
    title: str
    language: str | None


@dataclass(frozen=True, slots=True)
class NearCount:
    """People acting in an area around a member, as the social norm names it."""

    label: str
    """The area's name; empty for the member's own ~1 km cell, which has none."""
    count: int
    own: bool
    """The member's own place (else a wider area holding it)."""


@dataclass(frozen=True, slots=True)
class AreaProgress:
    """A member's own area against the challenge's goal per area ("Lyon: 230 / 1,000")."""

    label: str
    count: int
    goal: int


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a challenge stands, as a card shows it."""

    challenge: Challenge
    count: int
    percent: int
    next_tier: Tier | None
    days_left: int
    collective_impact: float | None
    near: tuple[NearCount, ...] = ()
    """People near the member: their own area, then a wider one, each only when it counts at
    least the minimum (KOOM_MAP_MIN_COUNT)."""
    area: AreaProgress | None = None
    """The member's area against the goal per area, when the challenge sets one and the area
    counts at least the minimum."""
    waiting: Waiting | None = None
    """Conditional pledges waiting for their condition, when there are any."""


class ConditionScope(StrEnum):
    """Whose pledges a conditional pledge's condition counts."""

    CHALLENGE = "challenge"  # everyone's
    AREA = "area"  # the pledgers of one area (the member's commune)
    GROUP = "group"  # the pledgers seen in one group or channel (the member's)
    ORGANISATION = "organisation"  # the pledgers among one organisation's people


@dataclass(frozen=True, slots=True)
class Unlock:
    """The nearest condition: `missing` more pledges in `scope` (`label`) would unlock it."""

    scope: ConditionScope
    label: str | None
    threshold: int
    missing: int


@dataclass(frozen=True, slots=True)
class Waiting:
    """How many conditional pledges of a challenge wait, and the nearest one to unlock."""

    count: int
    nearest: Unlock | None
