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
