"""The words of the share picture and of encouraging progress, for one reader."""

from __future__ import annotations

from babel import Locale

from core.i18n import Translator
from core.models import Progress
from core.sharing.picture import ShareCard

ENCOURAGE_BELOW = 10  # percent of the goal: below it, progress is told as people, not percent


def ordinal(t: Translator, n: int) -> str:
    """`n` as an ordinal in the reader's language ("10th", "10ᵉ")."""
    form = Locale.parse(t.locale).ordinal_form(n)
    found = t(f"sharing.ordinal.{form}", n=n)
    return found if not found.startswith("sharing.") else t("sharing.ordinal.other", n=n)


def encouragement(t: Translator, count: int) -> str:
    """Progress told as people who started, inviting the next one: "9 people have started —
    be the 10th", or "Be the first" with nobody yet."""
    if count <= 0:
        return t("sharing.be_first")
    return t.plural("sharing.started", count, next=ordinal(t, count + 1))


def encourages(count: int, goal: int) -> bool:
    """Whether progress is told as people who started rather than as a percentage: while
    the percentage is small (it reads "0 %" with 9 pledges) and the goal is not reached."""
    return count * 100 // max(1, goal) < ENCOURAGE_BELOW and count < goal


def progress_summary(t: Translator, progress: Progress) -> str:
    """The percentage of the goal, or the encouragement while it would read as nothing."""
    if encourages(progress.count, progress.challenge.goal):
        return encouragement(t, progress.count)
    return t("sharing.percent", percent=progress.percent, goal=progress.challenge.goal)


def _short_summary(t: Translator, progress: Progress) -> str:
    if encourages(progress.count, progress.challenge.goal):
        return encouragement(t, progress.count)
    return t("sharing.percent_short", percent=progress.percent)


def _next_text(t: Translator, progress: Progress) -> str:
    tier = progress.next_tier
    goal = progress.challenge.goal
    if tier is not None:
        missing = tier.threshold - progress.count
        return t.plural("sharing.next_tier", missing, sponsor=tier.sponsor, reward=tier.reward)
    if progress.count < goal:
        return t.plural("sharing.goal_missing", goal - progress.count)
    return t("sharing.goal_reached")


def share_card(t: Translator, progress: Progress, link: str, *, personal: bool) -> ShareCard:
    """What the picture says: `personal` for a pledger's own ("I'm one of 734 acting in
    Lyon"), else the page's preview ("734 people act in Lyon")."""
    challenge = progress.challenge
    count = progress.count
    area = challenge.area_name
    if personal:
        key = "sharing.me_in" if area else "sharing.me"
    else:
        key = "sharing.people_in" if area else "sharing.people"
    headline = t.plural(key, count, area=area or "")
    goal = max(1, challenge.goal)
    ticks = tuple(
        tier.threshold / goal for tier in challenge.tiers if 0 < tier.threshold < challenge.goal
    )
    return ShareCard(
        title=challenge.title,
        headline=headline,
        fraction=min(1.0, count / goal),
        ticks=ticks,
        progress_text=t.plural("sharing.count_of_goal", count, goal=challenge.goal),
        summary=_short_summary(t, progress),
        next_text=_next_text(t, progress),
        link=link,
        call=t("sharing.scan"),
        brand=t("sharing.brand"),
    )
