"""Every text step fed 4,000-character worst cases: the event-loop time of each turn, through
the real engine (settings: reminder time, quiet hours, time zone, place;
`/start` and `/link` arguments; text with no question pending) and, for the organiser's and
broadcast answers, their parsers directly.

Run: .venv/bin/python -m benchmarks.text_steps
Measured as CPU time of the event loop's thread (`time.thread_time`), so that other work on
the machine does not count. Target (2-core machine): every turn under 50 ms of it, whatever
the input (the quiet-hours parser took ~0.8 s of the event loop for one such input before
the length bounds).
The last line is `key=value` pairs for scripts; the exit status is 1 when a target is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from conversations.flows import broadcast, organiser_input, settings
from conversations.testing import ChatHarness, Person
from core.app import load_demo
from core.clock import SystemClock
from core.db.database import Database
from core.db.migrate import upgrade
from core.errors import KoomError
from core.i18n import Translator
from core.places import commune, load_places, resolve_place
from core.services import Services
from core.settings import Settings

LONG = 4000  # the engine refuses longer texts before any flow sees them
TARGET_MS = 50.0
PAD = LONG - 10
WORST_CASES = tuple(
    case[:LONG]
    for case in (
        "1" + " " * PAD + "x",
        "1" + "\t" * PAD,
        "-" * LONG,
        " " * PAD + "-",
        "1" * LONG,
        "1 000" * (LONG // 5),
        "demain" + " " * PAD + "x",
        "é" * LONG,
        "a(" * (LONG // 2),
        "45.1" + " " * PAD + "4.8x",
        "saint " * (LONG // 6),
        "22h" + " " * (PAD // 2) + "-" + " " * (PAD // 2) + "7h",
    )
)


def _parsers() -> dict[str, Callable[[str], object]]:
    t = Translator("fr")
    now = datetime.now(UTC)
    return {
        "parse_time": settings.parse_time,
        "parse_quiet_hours": settings.parse_quiet_hours,
        "timezone_name": settings.timezone_name,
        "parse_when": lambda text: broadcast.parse_when(text, "Europe/Paris", now),
        "whole_number": organiser_input.whole_number,
        "parse_day": organiser_input.parse_day,
        "parse_impact": lambda text: organiser_input.parse_impact(t, text),
        "parse_tier": lambda text: organiser_input.parse_tier(t, text),
        "parse_area": lambda text: organiser_input.parse_area(t, text),
        "resolve_place": resolve_place,
        "commune": commune,
    }


def _time_parser(parse: Callable[[str], object]) -> float:
    """The slowest of the worst cases, in ms, after one warm-up (caches, the gazetteer)."""
    worst = 0.0
    for text in ("x", *WORST_CASES):
        started = time.thread_time()
        with contextlib.suppress(KoomError, organiser_input.BadAnswer):
            parse(text)
        if text != "x":
            worst = max(worst, time.thread_time() - started)
    return worst * 1000


async def _steps(person: Person, t: Translator) -> dict[str, Callable[[], Awaitable[object]]]:
    """How to reach each text step of the engine again, before each worst case."""

    async def settings_step(*buttons: str) -> None:
        await person.command("/settings")
        for button in buttons:
            await person.press(t(button))

    return {
        "settings.hour": lambda: settings_step(
            "settings.button_reminders", "settings.button_hour_other"
        ),
        "settings.quiet": lambda: settings_step(
            "settings.button_reminders", "settings.button_quiet"
        ),
        "settings.timezone": lambda: settings_step(
            "settings.button_reminders", "settings.button_timezone"
        ),
        "settings.place": lambda: settings_step(
            "settings.button_location", "settings.button_location_change"
        ),
        "no step": lambda: person.command("/cancel"),
    }


async def _engine(folder: Path) -> dict[str, float]:
    db = Database(f"sqlite+aiosqlite:///{folder / 'koom.db'}")
    await upgrade(db)
    services = Services(db, Settings(_env_file=None, DATABASE_URL=db.url), SystemClock())
    await load_demo(services, replace=False)
    await load_places()
    t = Translator("fr")
    person = ChatHarness(services).person("console:bench", lang="fr")
    worst: dict[str, float] = {}
    try:
        for name, reach in (await _steps(person, t)).items():
            for text in WORST_CASES:
                await reach()
                started = time.thread_time()
                await person.text(text)
                elapsed = (time.thread_time() - started) * 1000
                worst[name] = max(worst.get(name, 0.0), elapsed)
        for command in ("/start", "/link"):
            for text in WORST_CASES:
                started = time.thread_time()
                await person.command(f"{command} {text}")
                elapsed = (time.thread_time() - started) * 1000
                worst[command] = max(worst.get(command, 0.0), elapsed)
    finally:
        await db.dispose()
    return worst


def main() -> int:
    figures = {f"parser.{name}": _time_parser(parse) for name, parse in _parsers().items()}
    with tempfile.TemporaryDirectory() as folder:
        figures |= {f"engine.{name}": ms for name, ms in asyncio.run(_engine(Path(folder))).items()}
    for name, ms in figures.items():
        print(f"{name:28s} worst {ms:8.2f} ms")
    worst = max(figures.values())
    ok = worst < TARGET_MS
    print(f"worst_ms={worst:.2f} target_ms={TARGET_MS:.0f} cases={len(WORST_CASES)} ok={ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
