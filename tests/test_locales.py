"""Every shipped locale says everything, with the same placeholders, and every key the code
uses exists."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.i18n import PLACEHOLDER, SUPPORTED_LOCALES, Translator, catalogue, resolve_locale

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    *ROOT.glob("core/**/*.py"),
    *ROOT.glob("conversations/**/*.py"),
    *ROOT.glob("bots/**/*.py"),
]
# Calls whose first string argument is a catalogue key.
KEY_CALLS = {
    "t",
    "say",
    "say_plural",
    "plural",
    "ask_text",
    "ask_location",
    "ask_form",
    "KoomError",
    "NotFound",
    "Invalid",
    "Forbidden",
    "Conflict",
}


def _forms(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else value


def _placeholders(value: str | tuple[str, ...]) -> set[str]:
    return {name for form in _forms(value) for name in PLACEHOLDER.findall(form)} - {"n"}


def test_every_locale_translates_every_message() -> None:
    keys = {loc: set(catalogue(loc).messages) for loc in SUPPORTED_LOCALES}
    every = set().union(*keys.values())
    for locale in SUPPORTED_LOCALES:
        assert every - keys[locale] == set(), f"{locale} lacks these messages"
        empty = [k for k, v in catalogue(locale).messages.items() if not all(_forms(v))]
        assert empty == [], f"{locale} has empty translations"


def test_translations_keep_their_placeholders() -> None:
    reference = catalogue("en").messages
    for locale in SUPPORTED_LOCALES:
        for key, value in catalogue(locale).messages.items():
            assert _placeholders(value) == _placeholders(reference[key]), (locale, key)


def test_plural_messages_have_every_form() -> None:
    for locale in SUPPORTED_LOCALES:
        for key, value in catalogue(locale).messages.items():
            if isinstance(value, tuple):
                assert len(value) == 2 and all(value), (locale, key)


def _keys_used_in_code() -> set[str]:
    found: set[str] = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = (
                node.func.attr
                if isinstance(node.func, ast.Attribute)
                else getattr(node.func, "id", "")
            )
            first = node.args[0]
            if (
                name in KEY_CALLS
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and "." in first.value
                and " " not in first.value
            ):
                found.add(first.value)
    return found


def test_every_key_the_code_uses_exists() -> None:
    used = _keys_used_in_code()
    assert used, "the scan found no keys: it is broken"
    missing = used - set(catalogue("en").messages)
    assert missing == set()


def test_numbers_follow_the_locale() -> None:
    assert Translator("fr").plural("common.people", 1000) == "1\u202f000 personnes"
    assert Translator("en").plural("common.people", 1000) == "1,000 people"
    assert Translator("fr").plural("common.people", 1) == "1 personne"
    assert Translator("en").plural("common.people", 0) == "0 people"
    assert Translator("fr").plural("common.people", 0) == "0 personne"


@pytest.mark.parametrize(
    "chosen,platform,expected",
    [
        (None, "en-GB", "en"),
        (None, "fr_CA", "fr"),
        ("en", "fr", "en"),
        (None, "de", "fr"),
        (None, None, "fr"),
    ],
)
def test_locale_resolution(chosen: str | None, platform: str | None, expected: str) -> None:
    assert resolve_locale(chosen, platform, "fr") == expected
