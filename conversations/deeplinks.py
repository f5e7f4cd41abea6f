"""Deep-link payloads: open a challenge, and remember who shared the link; or join an
organisation with its members' code.

A payload fits Telegram's start parameter (1-64 characters of A-Z a-z 0-9 _ -): the
challenge slug, then `_` and the referrer's member id in base 36 when a member shared it;
or `join_` and an organisation's invitation code (upper case, which no slug is).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.drafts import SLUG_PATTERN

_PAYLOAD = re.compile(r"^(?P<slug>[a-z0-9-]{1,40})(?:_(?P<ref>[0-9a-z]{1,12}))?$")
_JOIN = re.compile(r"^join_(?P<code>[A-Z0-9]{4,16})$")


@dataclass(frozen=True, slots=True)
class DeepLink:
    """What a payload asks: which challenge, and who invited."""

    slug: str
    referrer_id: int | None = None


def make_payload(slug: str, referrer_id: int | None = None) -> str:
    """The payload for a share link of `slug`, optionally crediting `referrer_id`."""
    if not SLUG_PATTERN.match(slug):
        raise ValueError(f"not a slug: {slug!r}")
    if referrer_id is None:
        return slug
    return f"{slug}_{_base36(referrer_id)}"


def parse_payload(payload: str) -> DeepLink | None:
    """The deep link in `payload`, or None when it is not one of ours."""
    match = _PAYLOAD.match(payload.strip())
    if match is None:
        return None
    ref = match.group("ref")
    return DeepLink(match.group("slug"), int(ref, 36) if ref else None)


def join_payload(code: str) -> str:
    """The payload that joins an organisation with its invitation `code`."""
    return f"join_{code}"


def parse_join(payload: str) -> str | None:
    """The invitation code in a join payload, or None when it is not one."""
    match = _JOIN.match(payload.strip())
    return None if match is None else match.group("code")


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out
