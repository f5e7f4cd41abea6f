"""What the delivery worker hands to an adapter, and what the adapter answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Protocol

from core.identity import ChatRef, Platform
from core.pacing import Budget


@dataclass(frozen=True, slots=True)
class Notice:
    """One message to one chat: an announcement (event kind and payload) in a language.

    Adapters turn it into words with `conversations.announcements`, then into native UI.
    """

    kind: str
    challenge_id: int | None
    locale: str
    payload: Mapping[str, object] = field(default_factory=dict)


class Outcome(StrEnum):
    """How a send went."""

    SENT = "sent"
    GONE = "gone"  # blocked, kicked, deleted chat, DMs closed: never retry this recipient
    RETRY = "retry"  # rate limited (retry_after), network error or 5xx: transient, never dead
    FAILED = "failed"  # refused for another reason (a bad request): dead after a few tries


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The adapter's answer for one notice."""

    outcome: Outcome
    retry_after: timedelta | None = None
    detail: str = ""


class Deliverer(Protocol):
    """An adapter able to send notices on its platform.

    `pacer` holds the platform's limits for everything the bot sends there; the worker paces
    deliveries with it, and an adapter takes its replies' send times from it (None: the worker
    makes one).
    """

    platform: Platform
    pacer: Budget | None

    async def deliver(self, chat: ChatRef, notices: list[Notice]) -> DeliveryResult:
        """Send the notices (several coalesced into one message where they go to one group)."""
        ...
