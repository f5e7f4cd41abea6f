"""Parsers of what people type: a length bound before any regular expression, and no
expression whose matching time can grow faster than its input (the benchmark
`benchmarks.text_steps` times every text step with 4,000-character worst cases)."""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
import re
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import pytest

from core.errors import Invalid
from core.i18n import Translator

LONG = 4000
EVIL_INPUTS = (
    "1" + " " * LONG + "x",
    "1" + "\t" * LONG,
    "-" * LONG,
    " " * LONG + "-",
    "1" * LONG,
    "1 000" * (LONG // 5),
    "demain" + " " * LONG + "x",
    "é" * LONG,
    "a(" * (LONG // 2),
    "45.1" + " " * LONG + "4.8x",
)
UNBOUNDED = sre.MAXREPEAT
REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", sre.MAX_REPEAT)}


def _shape(parsed: Any) -> list[str]:
    """The pattern as a flat list: "U" an unbounded repeat, "N" what may match nothing,
    "X" what must match something; "!" marks a nested unbounded repeat."""
    found: list[str] = []
    for op, arg in parsed:
        if op is sre.SUBPATTERN:
            found += _shape(arg[-1])
        elif op in REPEATS:
            low, high, item = arg
            inner = _shape(item)
            if high == UNBOUNDED:
                found.append("!" if "U" in inner or "!" in inner else "U")
            elif low == 0:
                found += [s if s in "U!" else "N" for s in inner] or ["N"]
            else:
                found += inner
        elif op is sre.BRANCH:
            shapes = [_shape(branch) for branch in arg[1]]
            flat = [s for shape in shapes for s in shape]
            if "!" in flat:
                found.append("!")
            elif "U" in flat:
                found.append("U")
            else:
                found.append("N" if any(all(s == "N" for s in x) for x in shapes) else "X")
        elif op is sre.AT:
            found.append("N")
        else:
            found.append("X")
    return found


def risky(pattern: re.Pattern[str]) -> str | None:
    """Why `pattern` may backtrack more than linearly, or None: an unbounded repeat inside
    another, two unbounded repeats with nothing required between them, or an unanchored
    unbounded repeat in front of more pattern (tried again at every start position)."""
    shape = "".join(_shape(sre_parse.parse(pattern.pattern, pattern.flags)))
    if "!" in shape:
        return "nested unbounded repeats"
    if re.search(r"UN*U", shape):
        return "adjacent unbounded repeats"
    anchored = pattern.pattern.startswith(("^", r"\A"))
    if not anchored and shape.startswith("U") and len(shape) > 1:
        return "unanchored leading unbounded repeat"
    return None


def test_the_checker_catches_the_known_shapes() -> None:
    assert risky(re.compile(r"^(a+)+$")) == "nested unbounded repeats"
    assert risky(re.compile(r"^\d\s*(?:h\s*)?\s*$")) == "adjacent unbounded repeats"
    assert risky(re.compile(r"\s*-\s*")) == "unanchored leading unbounded repeat"
    assert risky(re.compile(r"^(\d{1,2}) ?(?:h ?(\d{2})?)?$")) is None
    assert risky(re.compile(r"[^\W_]+")) is None


def _our_patterns() -> Iterator[tuple[str, re.Pattern[str]]]:
    for package in ("core", "conversations", "bots"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            module = importlib.import_module(info.name)
            for name, value in vars(module).items():
                if isinstance(value, re.Pattern) and isinstance(value.pattern, str):
                    yield f"{info.name}.{name}", value


def test_no_regular_expression_of_ours_can_backtrack_badly() -> None:
    found = {name: why for name, pattern in _our_patterns() if (why := risky(pattern))}
    assert found == {}


class _Spy:
    """A compiled pattern that records the length of every text it is given."""

    def __init__(self, pattern: re.Pattern[str], seen: list[int]) -> None:
        self._pattern = pattern
        self._seen = seen

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._pattern, name)
        if not callable(method):
            return method

        def spied(*args: Any, **kwargs: Any) -> Any:
            self._seen.extend(len(arg) for arg in args if isinstance(arg, str))
            return method(*args, **kwargs)

        return spied


def _spy_every_pattern(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []
    for qualified, pattern in list(_our_patterns()):
        module, _, name = qualified.rpartition(".")
        monkeypatch.setattr(sys.modules[module], name, _Spy(pattern, seen))
    return seen


def _parsers() -> dict[str, Callable[[str], object]]:
    from conversations.flows import broadcast, organiser_input, place_input, settings
    from core import places

    t = Translator("en")
    now = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    return {
        "settings.parse_time": settings.parse_time,
        "settings.parse_quiet_hours": settings.parse_quiet_hours,
        "settings.timezone_name": settings.timezone_name,
        "broadcast.parse_when": lambda text: broadcast.parse_when(text, "Europe/Paris", now),
        "organiser.whole_number": organiser_input.whole_number,
        "organiser.parse_day": organiser_input.parse_day,
        "organiser.parse_impact": lambda text: organiser_input.parse_impact(t, text),
        "organiser.parse_tier": lambda text: organiser_input.parse_tier(t, text),
        "organiser.parse_area": lambda text: organiser_input.parse_area(t, text),
        "places.resolve_place": places.resolve_place,
        "places.commune": places.commune,
        "place_input.coordinates": place_input.typed_coordinates,
    }


MAX_REGEX_INPUT = 300
"""The longest text any of our expressions may be given from a person's input."""


@pytest.mark.parametrize("parser", sorted(_parsers()))
def test_every_parser_bounds_the_text_before_any_regular_expression(
    parser: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    parse = _parsers()[parser]
    seen = _spy_every_pattern(monkeypatch)
    for text in EVIL_INPUTS:
        with contextlib.suppress(Invalid, organiser_input_bad_answer()):
            parse(text)
    assert max(seen, default=0) <= MAX_REGEX_INPUT, parser


def organiser_input_bad_answer() -> type[Exception]:
    from conversations.flows.organiser_input import BadAnswer

    return BadAnswer
