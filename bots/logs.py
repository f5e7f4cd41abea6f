"""Logging of the `koom` command: KOOM_LOG_LEVEL for climat-koom's own loggers, warnings and
above from the libraries, as text or as one JSON object per line (KOOM_LOG_FORMAT=json)."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from core.settings import Settings

PACKAGES = ("bots", "conversations", "core")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = ("asctime", "levelname", "name", "message")
OURS = "koom_handler"


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record comes (a test runner may swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(settings: Settings, *, chatting: bool = False) -> None:
    """Send logs to stderr in the configured format; in a terminal chat, warnings only."""
    handler = StderrHandler()
    if settings.log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                list(JSON_FIELDS),
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                json_ensure_ascii=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, OURS, False)]:
        root.removeHandler(old)
    setattr(handler, OURS, True)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    level = logging.getLevelNamesMapping()[settings.log_level]
    for package in PACKAGES:
        logging.getLogger(package).setLevel(max(level, logging.WARNING) if chatting else level)


def quiet_for_chat() -> None:
    """The console chat shares the terminal: only warnings and above from here on."""
    for package in PACKAGES:
        logger = logging.getLogger(package)
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
