"""One warning per Telegram outage instead of one traceback per failed poll."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from telegram.error import TelegramError

log = logging.getLogger(__name__)

QUIET_SECONDS = 300.0
"""Errors closer together than this belong to the same outage."""


class OutageLog:
    """Told of each failed poll: warns at the first of an outage, says when polling works
    again (`recovered`), and stays quiet in between."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last_error: float | None = None
        self.failures = 0

    def failed(self, error: TelegramError) -> None:
        """The error callback of the updater's polling."""
        now = self.clock()
        if self.last_error is None or now - self.last_error > QUIET_SECONDS:
            self.failures = 0
            log.warning(
                "Telegram cannot be reached (%s: %s); retrying quietly",
                type(error).__name__,
                error,
            )
        self.last_error = now
        self.failures += 1

    def recovered(self) -> None:
        """An update arrived: the outage, if any, is over."""
        if self.last_error is not None:
            log.warning("Telegram reachable again after %s failed polls", self.failures)
            self.last_error = None
            self.failures = 0
