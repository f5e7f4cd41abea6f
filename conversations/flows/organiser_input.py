"""What organisers type, read and checked: numbers, dates, places, tiers, impact, and
pydantic's complaints turned into translated messages that name the field."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from conversations.model import FormField
from core.drafts import MAX_TEXT, ChallengeDraft, TierDraft
from core.errors import Invalid
from core.i18n import Translator
from core.places import commune

DETAILS = ("title", "action", "description", "goal", "deadline")
"""The fields of the creation form (five: a Discord modal holds no more)."""

FIELD_NAMES = {
    "title": "organiser.field.title",
    "action": "organiser.field.action",
    "description": "organiser.field.description",
    "goal": "organiser.field.goal",
    "deadline": "organiser.field.deadline",
    "area": "organiser.field.area",
    "impact": "organiser.field.impact",
    "threshold": "organiser.field.threshold",
    "sponsor": "organiser.field.sponsor",
    "reward": "organiser.field.reward",
}
"""Our field name -> the catalogue key of its name in messages."""

_FORM = {
    "title": ("organiser.label.title", "organiser.placeholder.title", False, True, 120),
    "action": ("organiser.label.action", "organiser.placeholder.action", False, True, 200),
    "description": ("organiser.label.description", "organiser.placeholder.description", True,
                    False, MAX_TEXT),
    "goal": ("organiser.label.goal", "organiser.placeholder.goal", False, True, 40),
    "deadline": ("organiser.label.deadline", "organiser.placeholder.deadline", False, True, 40),
}  # fmt: skip

_DRAFT_FIELDS = {"area_name": "area", "impact_per_action": "impact", "impact_unit": "impact"}
_NOT_A_NUMBER = {"int_parsing", "int_from_float", "int_type", "float_parsing", "float_type"}
_GROUPED = re.compile(r"^\d{1,3}(?:[ ,.'\u00a0\u202f]\d{3})+$")
_ISO_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_FRENCH_DAY = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")
_IMPACT = re.compile(r"^(\d{1,12}(?:[.,]\d{1,12})?) ?(.*)$")  # spaces collapsed first
MAX_NUMBER_TEXT = 40
MAX_DAY_TEXT = 20
MAX_IMPACT_TEXT = 80
DAY_ENDS = time(23, 59)
EXAMPLE_AHEAD = timedelta(days=90)


class BadAnswer(Exception):
    """What the organiser typed cannot be used: `message` (translated) says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def form_fields(t: Translator, names: Sequence[str], now: datetime) -> list[FormField]:
    """The creation form's fields named in `names`, translated, in form order."""
    fields = []
    for name in DETAILS:
        if name in names:
            label, placeholder, long, required, limit = _FORM[name]
            example = t(placeholder, **example_day(now))
            fields.append(FormField(name, t(label), example, long, required, limit))
    return fields


def example_day(now: datetime) -> dict[str, str]:
    """A deadline to show as an example (three months ahead), as the catalogues write it:
    an example already over would be refused if typed."""
    day = (now + EXAMPLE_AHEAD).date()
    return {"year": f"{day.year:04d}", "month": f"{day.month:02d}", "day": f"{day.day:02d}"}


def explain(t: Translator, error: ValidationError) -> dict[str, str]:
    """One translated message per field pydantic complains about (its first complaint)."""
    found: dict[str, str] = {}
    for item in error.errors():
        loc = item["loc"]
        name = _DRAFT_FIELDS.get(str(loc[0]), str(loc[0])) if loc else ""
        if name not in FIELD_NAMES or name in found:
            continue
        field = t(FIELD_NAMES[name])
        ctx: Mapping[str, Any] = item.get("ctx") or {}
        kind = item["type"]
        if kind == "string_too_short":
            found[name] = t.plural("organiser.invalid.too_short", ctx["min_length"], field=field)
        elif kind == "string_too_long":
            found[name] = t.plural("organiser.invalid.too_long", ctx["max_length"], field=field)
        elif kind in _NOT_A_NUMBER:
            found[name] = t("organiser.invalid.not_number", field=field)
        elif kind == "greater_than":
            found[name] = t("organiser.invalid.not_positive", field=field)
        elif kind == "less_than_equal":
            found[name] = t("organiser.invalid.too_big", field=field, limit=ctx["le"])
        else:
            found[name] = t("organiser.invalid.field", field=field)
    return found


def refusal(t: Translator, error: ValidationError) -> BadAnswer:
    """The first of pydantic's complaints as a BadAnswer."""
    messages = explain(t, error) or {"": t("organiser.invalid.unknown")}
    return BadAnswer(next(iter(messages.values())))


def whole_number(text: str) -> str:
    """ "1 000", "1,000" or "1.000" -> "1000"; other text is left for pydantic to judge."""
    cleaned = text.strip()
    if len(cleaned) > MAX_NUMBER_TEXT or not _GROUPED.match(cleaned):
        return cleaned
    return re.sub(r"\D", "", cleaned)


def parse_day(text: str) -> date | None:
    """A day typed as YYYY-MM-DD or DD/MM/YYYY, or None."""
    cleaned = text.strip()
    if len(cleaned) > MAX_DAY_TEXT:
        return None
    if match := _ISO_DAY.match(cleaned):
        year, month, day = match.groups()
    elif match := _FRENCH_DAY.match(cleaned):
        day, month, year = match.groups()
    else:
        return None
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def parse_deadline(t: Translator, text: str, timezone: str, now: datetime) -> datetime:
    """The end of the typed day in the organiser's timezone, in UTC."""
    day = parse_day(text)
    if day is None:
        raise BadAnswer(t("organiser.invalid.deadline_format", **example_day(now)))
    deadline = datetime.combine(day, DAY_ENDS, ZoneInfo(timezone)).astimezone(UTC)
    if deadline <= now:
        raise BadAnswer(t("organiser.invalid.deadline_past", date=day))
    return deadline


def local_day(moment: datetime, timezone: str) -> date:
    """The day `moment` falls on for the organiser."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def check_details(
    t: Translator, raw: Mapping[str, str], timezone: str, now: datetime
) -> tuple[dict[str, Any], dict[str, str]]:
    """The creation form read into JSON-ready values, else a message per field in error."""
    problems: dict[str, str] = {}
    payload: dict[str, Any] = {
        "title": raw.get("title", ""),
        "action": raw.get("action", ""),
        "description": raw.get("description", ""),
        "goal": whole_number(raw.get("goal", "")),
    }
    try:
        payload["deadline"] = parse_deadline(t, raw.get("deadline", ""), timezone, now)
    except BadAnswer as bad:
        problems["deadline"] = bad.message
    try:
        draft = ChallengeDraft.model_validate(payload)
    except ValidationError as error:
        return {}, explain(t, error) | problems
    if problems:
        return {}, problems
    values = draft.model_dump(include={"title", "action", "description", "goal"})
    return values | {"deadline": draft.deadline.isoformat()}, {}


def parse_area(t: Translator, text: str) -> str:
    """A commune, region or country name, tidied."""
    try:
        place = commune(text)
    except Invalid:
        raise BadAnswer(t("organiser.invalid.area")) from None
    assert place.name is not None
    return place.name


def parse_tier(t: Translator, text: str) -> TierDraft:
    """ "500; Acme; 1 000 € to Zero Waste Lyon" as a tier."""
    parts = [part.strip() for part in text.split(";", 2)]
    if len(parts) != 3:
        raise BadAnswer(t("organiser.invalid.tier_format"))
    threshold, sponsor, reward = parts
    try:
        return TierDraft.model_validate(
            {"threshold": whole_number(threshold), "sponsor": sponsor, "reward": reward}
        )
    except ValidationError as error:
        raise refusal(t, error) from None


def parse_impact(t: Translator, text: str) -> tuple[float, str | None]:
    """ "0.5 kg CO2e" as (0.5, "kg CO2e"); the unit may be left out."""
    typed = " ".join(text.split())
    match = _IMPACT.match(typed) if len(typed) <= MAX_IMPACT_TEXT else None
    if match is None:
        raise BadAnswer(t("organiser.invalid.impact_format"))
    return float(match.group(1).replace(",", ".")), match.group(2).strip() or None
