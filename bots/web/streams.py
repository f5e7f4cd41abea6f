"""How many live streams (server-sent events) may be open: in all and per client address.

Each held stream costs a socket, a file descriptor and a task; without a cap a thousand of
them starved the bots beside the web server of open files. A viewer refused here keeps the
page up to date by polling the state JSON.
"""

from __future__ import annotations

from collections import Counter


class StreamGate:
    """Counts the open streams, and refuses one past `total` or past `per_client` for one
    address (behind a reverse proxy every reader has the proxy's: then only `total` helps)."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self._open: Counter[str] = Counter()
        self._count = 0

    def enter(self, client: str) -> bool:
        """Take a place for a stream from `client`; False when none is left."""
        if self._count >= self.total or self._open[client] >= self.per_client:
            return False
        self._open[client] += 1
        self._count += 1
        return True

    def leave(self, client: str) -> None:
        """Give back the place of a stream that ended."""
        self._count -= 1
        self._open[client] -= 1
        if self._open[client] <= 0:
            del self._open[client]

    @property
    def open(self) -> int:
        """The streams open now."""
        return self._count
