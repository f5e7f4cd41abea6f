"""The container's health check: exit 0 when /healthz answers 200 on this machine, else 1.

Usage: python healthcheck.py [PORT] (default: KOOM_METRICS_PORT, else KOOM_WEB_PORT).
Slim images have no curl; the standard library is enough.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    port = (
        sys.argv[1:] or [os.environ.get("KOOM_METRICS_PORT") or os.environ.get("KOOM_WEB_PORT")]
    )[0]
    if not port:
        print("no port: set KOOM_METRICS_PORT or give one", file=sys.stderr)
        return 1
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=4) as answer:
            return 0 if answer.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
