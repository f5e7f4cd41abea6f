"""Typed button data: packed within Telegram's 64 bytes, read back exactly, and anything
forged or out of date refused."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, get_args, get_origin, get_type_hints

import pytest

import conversations.registry  # noqa: F401  (every flow, so every button type, declared)
from conversations.buttons import LARGEST_ID, MAX_BYTES, Button, MaxLength, declared, pack, unpack
from conversations.flows.actions import (
    BroadcastPick,
    PledgeGo,
    PledgeRemind,
    RemindSnooze,
    SettingsNews,
    SharePicture,
    Snooze,
    StartLanguage,
    Then,
)
from core.models import ReminderPreference


class Probe(Button, flow="probe", action="note"):
    text: Annotated[str, MaxLength(60)]


def test_round_trip_in_the_format_of_buttons_sent_before_they_were_typed() -> None:
    assert pack(PledgeGo(12)) == "pledge:go:12"
    assert pack(PledgeGo(12, 7)) == "pledge:go:12:7"
    assert unpack("pledge:go:12:7") == PledgeGo(12, 7)
    assert unpack("pledge:remind:3:weekly") == PledgeRemind(3, ReminderPreference.WEEKLY)
    assert unpack("start:lang:en:w") == StartLanguage("en", Then.WELCOME)
    assert unpack("remind:snooze:4:tmr") == RemindSnooze(4, Snooze.TOMORROW)
    assert unpack("settings:news:1") == SettingsNews(opt_out=True)
    assert unpack("share:picture:5") == SharePicture(5)
    assert unpack("bcast:pick:3:0") == BroadcastPick(3, 0)
    assert unpack(pack(SettingsNews(opt_out=False))) == SettingsNews(opt_out=False)


def test_64_bytes_is_the_limit_in_utf8_bytes() -> None:
    assert len(pack(Probe("x" * 53)).encode()) == 64
    with pytest.raises(ValueError):
        pack(Probe("x" * 54))
    with pytest.raises(ValueError):
        pack(Probe("é" * 27))  # 27 characters, but 54 bytes + 11
    with pytest.raises(ValueError):
        unpack("probe:note:" + "x" * 54)


@pytest.mark.parametrize("button", [Probe(""), Probe("a:b"), Probe("x" * 61), PledgeGo(-1)])
def test_pack_refuses_what_it_could_not_read_back(button: Button) -> None:
    with pytest.raises(ValueError):
        pack(button)


@pytest.mark.parametrize(
    "choice_id",
    [
        "",
        "pledge",
        "pledge:",
        ":go",
        "pledge:nope:1",  # unknown action
        "nope:go:1",  # unknown flow
        "pledge:go",  # too few arguments
        "pledge:go:1:2:3",  # too many
        "pledge:go:",  # an empty argument
        "pledge:go:x",  # not a number
        "pledge:go:-1",
        "pledge:go:1.5",
        "pledge:go: 1",
        "pledge:go:١",  # an Arabic-Indic digit: int() would take it
        "pledge:remind:1:yearly",  # no such preference
        "settings:news:2",  # no flag
        "settings:menu:1",  # takes nothing
        "start:lang:fr:x",
    ],
)
def test_unpack_refuses_forged_or_stale_data(choice_id: str) -> None:
    with pytest.raises(ValueError):
        unpack(choice_id)


def test_a_button_type_is_declared_once_with_supported_fields() -> None:
    with pytest.raises(TypeError):

        class Again(Button, flow="probe", action="note"):
            pass

    with pytest.raises(TypeError):

        class Floating(Button, flow="probe", action="float"):
            value: float

    with pytest.raises(TypeError):

        class OptionalFirst(Button, flow="probe", action="first"):
            first: int | None = None
            second: int


def _largest(kind: type[Button]) -> Button:
    """`kind` with the largest realistic value in every field: the largest database id,
    the longest enum value, a string at its declared maximum (multi-byte when unbounded)."""
    values: dict[str, object] = {}
    for name, hint in get_type_hints(kind, include_extras=True).items():
        if name in ("flow", "action", "unsolicited", "_args"):
            continue
        limit = None
        if get_origin(hint) is Annotated:
            hint, *extras = get_args(hint)
            limit = next(e.characters for e in extras if isinstance(e, MaxLength))
        hint = next((a for a in get_args(hint) if a is not type(None)), hint)
        if hint is bool:
            values[name] = True
        elif hint is int:
            values[name] = LARGEST_ID
        elif isinstance(hint, type) and issubclass(hint, StrEnum):
            values[name] = max(hint, key=lambda member: len(member.value.encode()))
        else:
            assert limit is not None, f"{kind.__name__}.{name} has no MaxLength"
            values[name] = "x" * limit
    return kind(**values)


def test_every_declared_button_fits_in_64_bytes_with_its_largest_values() -> None:
    kinds = [kind for kind in declared() if kind.__module__.startswith("conversations.")]
    assert len(kinds) > 80
    for kind in kinds:
        largest = _largest(kind)
        choice_id = pack(largest)  # raises beyond 64 bytes
        assert len(choice_id.encode()) <= MAX_BYTES
        assert unpack(choice_id) == largest
