"""Validated input for creating challenges, shared by the organiser flow and YAML import."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.i18n import SUPPORTED_LOCALES
from core.models import AreaKind, ChallengeStatus, Frequency

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
MAX_TEXT = 4000


def slugify(text: str) -> str:
    """A URL- and button-safe slug of at most 40 characters."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:40].strip("-") or "defi"


class TierDraft(BaseModel):
    """A sponsor's commitment at a threshold."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    threshold: int = Field(gt=0)
    sponsor: str = Field(min_length=1, max_length=120)
    reward: str = Field(min_length=1, max_length=300)
    translations: dict[str, Annotated[str, Field(min_length=1, max_length=300)]] = Field(
        default_factory=dict
    )
    """The reward in other languages, by locale ("en")."""

    @field_validator("translations")
    @classmethod
    def _locales(cls, value: dict[str, str]) -> dict[str, str]:
        return _known_locales(value)


class ChallengeTexts(BaseModel):
    """A challenge's texts in another language; what is left out reads as the original."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(default=None, min_length=3, max_length=120)
    action: str | None = Field(default=None, min_length=3, max_length=200)
    description: str | None = Field(default=None, max_length=MAX_TEXT)


def _known_locales(value: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(value) - set(SUPPORTED_LOCALES))
    if unknown:
        raise ValueError(f"translations: unknown language {unknown[0]!r}")
    return value


class ChallengeDraft(BaseModel):
    """Everything needed to create a challenge; validation errors name the field."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    slug: str | None = Field(default=None, max_length=40)
    title: str = Field(min_length=3, max_length=120)
    description: str = Field(default="", max_length=MAX_TEXT)
    action: str = Field(min_length=3, max_length=200)
    category: str = Field(default="other", max_length=40)
    goal: int = Field(gt=0, le=100_000_000)
    starts_at: datetime | None = None
    deadline: datetime
    frequency: Frequency = Frequency.ONCE
    area_name: str | None = Field(default=None, max_length=120)
    area_kind: AreaKind | None = None
    impact_per_action: float | None = Field(default=None, gt=0)
    area_goal: int | None = Field(default=None, gt=0, le=100_000_000)
    """A goal for each commune on its own, beside the challenge's overall goal."""
    impact_unit: str | None = Field(default=None, max_length=40)
    tiers: list[TierDraft] = Field(default_factory=list, max_length=20)
    status: ChallengeStatus = ChallengeStatus.DRAFT
    translations: dict[str, ChallengeTexts] = Field(default_factory=dict)
    """Title, action and description in other languages, by locale ("en")."""

    @field_validator("translations")
    @classmethod
    def _locales(cls, value: dict[str, ChallengeTexts]) -> dict[str, ChallengeTexts]:
        return _known_locales(value)

    def stored_translations(self) -> dict[str, dict[str, str]] | None:
        """The translations as stored (None when there are none)."""
        stored = {k: v.model_dump(exclude_none=True) for k, v in self.translations.items()}
        return {k: v for k, v in stored.items() if v} or None

    @field_validator("slug")
    @classmethod
    def _slug_shape(cls, value: str | None) -> str | None:
        if value is not None and not SLUG_PATTERN.match(value):
            raise ValueError("slug: lowercase letters, digits and dashes, 1-40 characters")
        return value

    @field_validator("starts_at", "deadline")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @model_validator(mode="after")
    def _coherent(self) -> ChallengeDraft:
        if self.starts_at is not None and self.deadline <= self.starts_at:
            raise ValueError("deadline must come after the start")
        thresholds = [t.threshold for t in self.tiers]
        if len(set(thresholds)) != len(thresholds):
            raise ValueError("two tiers have the same threshold")
        if self.area_kind is not None and not self.area_name:
            raise ValueError("area_kind needs area_name")
        if self.status not in (ChallengeStatus.DRAFT, ChallengeStatus.OPEN):
            raise ValueError("a new challenge is a draft or open")
        return self

    @property
    def effective_slug(self) -> str:
        """The slug given, or one made from the title."""
        return self.slug or slugify(self.title)
