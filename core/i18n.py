"""Translations from gettext catalogues in `locales/`, with Babel number and date formatting.

Message ids are stable keys (``card.progress``); each locale folder holds one ``.po`` file per
area of the bot, all merged at load. Placeholders use ``{name}`` and are formatted per locale.
"""

from __future__ import annotations

import gettext
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
SUPPORTED_LOCALES: tuple[str, ...] = ("fr", "en")
FALLBACK_LOCALE = "en"
PLACEHOLDER = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Catalogue:
    """All messages of one locale: key -> text, or key -> plural forms."""

    locale: str
    messages: Mapping[str, str | tuple[str, ...]]
    plural: Callable[[int], int]


def _load(locale: str, directory: Path) -> Catalogue:
    messages: dict[str, str | tuple[str, ...]] = {}
    plural_expr = "(n != 1)"
    for po_file in sorted((directory / locale).glob("*.po")):
        with po_file.open("rb") as handle:
            catalog = read_po(handle, locale=locale)
        plural_expr = catalog.plural_expr
        for message in catalog:
            if not message.id:
                continue
            key = message.id[0] if isinstance(message.id, tuple | list) else message.id
            if key in messages:
                raise ValueError(f"{po_file}: message {key!r} is defined twice for {locale}")
            if isinstance(message.string, tuple | list):
                messages[key] = tuple(message.string)
            else:
                messages[key] = message.string or ""
    return Catalogue(locale, messages, gettext.c2py(plural_expr))


@cache
def catalogue(locale: str, directory: Path = LOCALES_DIR) -> Catalogue:
    """The merged catalogue of one locale (loaded once)."""
    return _load(locale, directory)


def supported_locale(code: str | None) -> str | None:
    """The shipped locale a language code ("en-GB", "fr_FR", "en") names, or None."""
    if not code:
        return None
    short = code.replace("_", "-").split("-")[0].lower()
    return short if short in SUPPORTED_LOCALES else None


def resolve_locale(chosen: str | None, platform_code: str | None, default: str) -> str:
    """The member's choice, else the platform's language code, else the default."""
    return supported_locale(chosen) or supported_locale(platform_code) or default


_reader: ContextVar[str | None] = ContextVar("reader", default=None)


@contextmanager
def reading_in(locale: str | None) -> Iterator[None]:
    """Challenges loaded meanwhile speak `locale` where their organiser gave it (None: the
    original, as organisers edit it)."""
    token = _reader.set(locale)
    try:
        yield
    finally:
        _reader.reset(token)


def read_in(locale: str | None) -> None:
    """From now on in this task (within `reading_in`), read challenges in `locale`."""
    _reader.set(locale)


def reader_locale() -> str | None:
    """The language challenges are read in now (see `reading_in`)."""
    return _reader.get()


def format_value(value: object, locale: str) -> str:
    """Format one placeholder value the way readers of `locale` expect."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return format_decimal(value, locale=locale)
    if isinstance(value, float):
        return format_decimal(value, format="#,##0.#", locale=locale)
    if isinstance(value, datetime):  # "Fri, November 27, 6:00 PM", on the value's own clock
        day = format_skeleton("MMMMEEEEd", value, locale=locale)
        return f"{day}, {format_time(value, 'short', tzinfo=value.tzinfo, locale=locale)}"
    if isinstance(value, date):
        return format_date(value, format="long", locale=locale)
    return str(value)


class Translator:
    """Translates keys for one locale; missing keys fall back to English, then to the key."""

    def __init__(self, locale: str, directory: Path = LOCALES_DIR) -> None:
        if locale not in SUPPORTED_LOCALES:
            locale = FALLBACK_LOCALE
        self.locale = locale
        self._catalogue = catalogue(locale, directory)
        self._fallback = catalogue(FALLBACK_LOCALE, directory)
        self.babel_locale = Locale.parse(locale)

    def _lookup(self, key: str) -> str | tuple[str, ...] | None:
        for cat in (self._catalogue, self._fallback):
            found = cat.messages.get(key)
            if found:
                return found
        log.warning("missing translation %r for %s", key, self.locale)
        return None

    def has(self, key: str) -> bool:
        """True when the catalogues hold `key`."""
        return key in self._catalogue.messages or key in self._fallback.messages

    def __call__(self, key: str, /, **params: object) -> str:
        """The text of `key` with its `{placeholders}` filled in."""
        found = self._lookup(key)
        if found is None:
            return key
        text = found if isinstance(found, str) else found[0]
        return self._fill(text, params)

    def plural(self, key: str, n: int, /, **params: object) -> str:
        """The plural form of `key` for the number `n` (also given as `{n}`)."""
        found = self._lookup(key)
        if found is None:
            return key
        if isinstance(found, str):
            text = found
        else:
            index = self._catalogue.plural(n) if key in self._catalogue.messages else 0
            text = found[min(index, len(found) - 1)]
        return self._fill(text, {"n": n, **params})

    def number(self, value: float) -> str:
        """A number as this locale writes it ("1 000" or "1,000")."""
        return format_value(value, self.locale)

    def _fill(self, text: str, params: Mapping[str, object]) -> str:
        formatted = {k: format_value(v, self.locale) for k, v in params.items()}
        return PLACEHOLDER.sub(lambda m: formatted.get(m.group(1), m.group(0)), text)
