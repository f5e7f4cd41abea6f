"""A challenge card as text: progress bar, sponsor tiers, days left, impact, people near,
the member's area against the goal per area."""

from __future__ import annotations

from core.i18n import Translator
from core.models import (
    Challenge,
    ChallengeStatus,
    ConditionScope,
    NearCount,
    Progress,
    Tier,
    Waiting,
)
from core.sharing import encouragement, encourages

BAR_CELLS = 10


def progress_bar(percent: int) -> str:
    """Ten cells for `percent` ("▓▓▓▓░░░░░░" at 42), full beyond 100; the number is not
    included because its spacing depends on the locale (see `card.progress`)."""
    filled = max(0, min(BAR_CELLS, percent * BAR_CELLS // 100))
    return "▓" * filled + "░" * (BAR_CELLS - filled)


def progress_line(t: Translator, count: int, goal: int) -> str:
    """The bar and the percentage of the goal; while the percentage says next to nothing,
    the bar and the people who started instead ("9 people have started — be the 10th")."""
    percent = count * 100 // goal
    bar = progress_bar(percent)
    if encourages(count, goal):
        return t("card.progress_started", bar=bar, started=encouragement(t, count))
    return t("card.progress", bar=bar, percent=percent)


def summary_line(t: Translator, challenge: Challenge) -> str:
    """A challenge in two lines: its title, then its bar and count (lists of challenges)."""
    count, goal = challenge.pledge_count, challenge.goal
    return t(
        "card.summary",
        title=challenge.title,
        progress=progress_line(t, count, goal),
        count=count,
        goal=goal,
    )


def card_text(t: Translator, progress: Progress) -> str:
    """The card of a challenge in the reader's language."""
    challenge = progress.challenge
    lines = [t("card.title", title=challenge.title)]
    if challenge.description:
        lines.append(challenge.description)
    lines.append(t("card.action", action=challenge.action))
    if challenge.area_name:
        lines.append(t("card.area", area=challenge.area_name))
    lines += [
        "",
        progress_line(t, progress.count, challenge.goal),
        t.plural("card.count", challenge.goal, count=progress.count),
    ]
    if challenge.tiers:
        lines += ["", t("card.tiers_title"), *_tier_lines(t, challenge.tiers, progress.count)]
    lines.append("")
    lines.append(_status_line(t, progress))
    if progress.collective_impact:
        if challenge.impact_unit:
            lines.append(
                t("card.impact", impact=progress.collective_impact, unit=challenge.impact_unit)
            )
        else:
            lines.append(t("card.impact_no_unit", impact=progress.collective_impact))
    if progress.area is not None:
        area = progress.area
        lines.append(t("card.area_goal", area=area.label, count=area.count, goal=area.goal))
    near = near_line(t, progress.near)
    if near:
        lines.append(near)
    if progress.waiting is not None and progress.waiting.count:
        lines.append(waiting_line(t, progress.waiting))
    return "\n".join(lines)


def waiting_line(t: Translator, waiting: Waiting) -> str:
    """How many conditional pledges wait, and how many more pledges unlock the nearest."""
    line = t.plural("card.conditional", waiting.count)
    nearest = waiting.nearest
    if nearest is None or nearest.missing == 0:
        return line
    if nearest.label and nearest.scope is ConditionScope.AREA:
        unlock = t.plural("card.conditional_area", nearest.missing, area=nearest.label)
    elif nearest.label:  # a group or an organisation
        unlock = t.plural("card.conditional_among", nearest.missing, name=nearest.label)
    else:
        unlock = t.plural("card.conditional_all", nearest.missing)
    return f"{line} {unlock}"


def near_line(t: Translator, near: tuple[NearCount, ...]) -> str | None:
    """The social norm: "👥 23 people already act in Lyon · 140 in Rhône" (the member's own
    area, then a wider one), from counts already kept at or above the minimum."""
    parts: list[str] = []
    for area in near:
        if parts:
            parts.append(t.plural("card.near_wider", area.count, area=area.label))
        elif not area.own:  # the own area counts too few to be named: the wider one alone
            parts.append(t.plural("card.near_area", area.count, area=area.label))
        elif area.label:
            parts.append(t.plural("card.near_here", area.count, place=area.label))
        else:  # the member's own ~1 km cell, which has no name
            parts.append(t.plural("card.near_you", area.count))
    return " · ".join(parts) or None


def _tier_lines(t: Translator, tiers: tuple[Tier, ...], count: int) -> list[str]:
    """One line per tier: kept, unlocked, the next one to reach, or later ones."""
    lines: list[str] = []
    next_shown = False
    for tier in tiers:
        params: dict[str, object] = {
            "threshold": tier.threshold,
            "sponsor": tier.sponsor,
            "reward": tier.reward,
        }
        if tier.kept_at is not None:
            lines.append(t("card.tier_kept", **params))
            if tier.proof:
                lines.append(t("card.tier_proof", proof=tier.proof))
        elif tier.unlocked_at is not None or tier.threshold <= count:
            lines.append(t("card.tier_unlocked", **params))
        elif not next_shown:
            next_shown = True
            lines.append(t.plural("card.tier_next", tier.threshold - count, **params))
        else:
            lines.append(t("card.tier_later", **params))
    return lines


def _status_line(t: Translator, progress: Progress) -> str:
    """Days left while pledges are taken, else where the challenge stands."""
    status = progress.challenge.status
    if status == ChallengeStatus.DRAFT:
        return t.plural("card.draft", progress.days_left)
    if status == ChallengeStatus.EXPIRED:
        return t("card.expired")
    if status == ChallengeStatus.CLOSED:
        return t("card.closed")
    if progress.days_left == 0:
        return t("card.ended")
    if status == ChallengeStatus.SUCCEEDED:
        return t.plural("card.succeeded", progress.days_left)
    return t.plural("card.days_left", progress.days_left)
