"""Who this process is, among the instances sharing one database (for leases and claims)."""

from __future__ import annotations

import os
import secrets
import socket
from functools import cache


@cache
def instance_id() -> str:
    """host:pid:random, unique among the running instances and across restarts."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def dead_here(instance: str) -> bool:
    """Whether `instance` (an `instance_id`) ran on this host and its process is gone: its
    leases need not be waited out. Unknown hosts, and live or reused process ids, are not."""
    host, _, rest = instance.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname()[:40] or not pid_text.isdigit() or instance == instance_id():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
