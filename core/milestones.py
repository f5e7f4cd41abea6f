"""Milestones: 25/50/75/100 % of the goal and every sponsor tier, each reached exactly once."""

from __future__ import annotations

import math
from collections.abc import Iterable

from core.models import MILESTONE_PERCENTS


def percent_thresholds(goal: int) -> dict[int, int]:
    """Percent -> the pledge count at which that share of `goal` is reached."""
    return {p: max(1, math.ceil(goal * p / 100)) for p in MILESTONE_PERCENTS}


def next_threshold(goal: int, tier_thresholds: Iterable[int], count: int) -> int | None:
    """The smallest milestone or tier count above `count`; None when none is left."""
    candidates = [*percent_thresholds(goal).values(), *tier_thresholds]
    above = [c for c in candidates if c > count]
    return min(above) if above else None
