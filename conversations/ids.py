"""Choice ids: `flow:action:arg...`, small enough for Telegram's 64-byte callback data."""

from __future__ import annotations

SEPARATOR = ":"
MAX_BYTES = 64


def pack(flow: str, action: str, *args: str | int) -> str:
    """Join a flow name, an action and its arguments into one choice id.

    Raises ValueError when the flow or action is empty, a part contains ":", or the id
    would exceed 64 UTF-8 bytes.
    """
    if not flow or not action:
        raise ValueError(f"a choice id needs a flow and an action: {flow!r}, {action!r}")
    parts = [flow, action, *(str(arg) for arg in args)]
    for part in parts:
        if SEPARATOR in part:
            raise ValueError(f"choice id part contains {SEPARATOR!r}: {part!r}")
    choice_id = SEPARATOR.join(parts)
    if len(choice_id.encode()) > MAX_BYTES:
        raise ValueError(f"choice id longer than {MAX_BYTES} bytes: {choice_id!r}")
    return choice_id


def unpack(choice_id: str) -> tuple[str, str, list[str]]:
    """Split a choice id into flow name, action and arguments (ValueError when malformed)."""
    parts = choice_id.split(SEPARATOR)
    if len(parts) < 2 or not parts[0] or not parts[1] or len(choice_id.encode()) > MAX_BYTES:
        raise ValueError(f"malformed choice id: {choice_id!r}")
    return parts[0], parts[1], parts[2:]
