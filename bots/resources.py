"""What a long-running `koom` process sets up before serving: enough open files, and loop
errors that cannot flood the log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

LOG_INTERVAL_SECONDS = 1.0
UNLIMITED_TARGET = 65536
"""The soft limit asked for when the hard limit is unlimited."""


def raise_open_file_limit() -> int | None:
    """Raise the soft limit of open files to the hard one (often 1,024 against 524,288 on
    Linux): sockets of web readers, the bots' connections and the database share it. The
    soft limit now, or None where the platform has no such limit."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d: %s", soft, exc)
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Throttle:
    """Lets each kind of message through at most once per interval, counting the others."""

    def __init__(
        self,
        interval: float = LOG_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.clock = clock
        self._last: dict[str, float] = {}
        self._skipped: Counter[str] = Counter()

    def allow(self, kind: str) -> int | None:
        """None when `kind` was let through less than an interval ago (this one is counted);
        else how many were held back since the last one let through."""
        now = self.clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            self._skipped[kind] += 1
            return None
        self._last[kind] = now
        return self._skipped.pop(kind, 0)


class ThrottledLoopErrors:
    """An event loop's exception handler that logs each kind of error (its message) at
    most once per interval, then says how many were left out: out of file descriptors,
    `accept()` fails for every waiting connection, and each failure logged a traceback."""

    def __init__(self, throttle: Throttle | None = None) -> None:
        self.throttle = throttle or Throttle()

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        skipped = self.throttle.allow(message)
        if skipped is None:
            return
        if skipped:
            context = {**context, "message": f"{message} ({skipped} more not logged)"}
        loop.default_exception_handler(context)


def prepare_process(loop: asyncio.AbstractEventLoop) -> None:
    """Raise the open-file limit and throttle the loop's error log (at start)."""
    limit = raise_open_file_limit()
    if limit is not None:
        log.debug("open files allowed: %d", limit)
    loop.set_exception_handler(ThrottledLoopErrors())
