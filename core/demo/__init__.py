"""The demo challenge shipped with climat-koom (loaded on first run and by `koom demo`)."""

from __future__ import annotations

from pathlib import Path

DEMO_FILE = Path(__file__).resolve().parent / "challenge.yaml"
