"""Choice ids: packed within Telegram's 64 bytes, read back exactly."""

from __future__ import annotations

import pytest

from conversations.ids import pack, unpack


def test_round_trip() -> None:
    choice_id = pack("pledge", "confirm", 12, "lyon")
    assert choice_id == "pledge:confirm:12:lyon"
    assert unpack(choice_id) == ("pledge", "confirm", ["12", "lyon"])
    assert unpack(pack("help", "show")) == ("help", "show", [])


def test_64_bytes_is_the_limit_in_utf8_bytes() -> None:
    assert len(pack("f", "a", "x" * 60).encode()) == 64
    with pytest.raises(ValueError):
        pack("f", "a", "x" * 61)
    with pytest.raises(ValueError):
        pack("f", "a", "é" * 31)  # 31 characters, but 62 bytes + 4


@pytest.mark.parametrize(
    ("flow", "action", "args"),
    [("", "a", ()), ("f", "", ()), ("f:g", "a", ()), ("f", "a:b", ()), ("f", "a", ("x:y",))],
)
def test_pack_refuses_empty_or_separator(flow: str, action: str, args: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        pack(flow, action, *args)


@pytest.mark.parametrize("choice_id", ["", "flow", "flow:", ":action", "f:a:" + "x" * 64])
def test_unpack_refuses_malformed(choice_id: str) -> None:
    with pytest.raises(ValueError):
        unpack(choice_id)
