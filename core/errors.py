"""Domain errors carry a message key and parameters, so every surface can translate them."""

from __future__ import annotations


class KoomError(Exception):
    """A refusal a person should read: `key` is a catalogue key, `params` fill it in."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class NotFound(KoomError):
    """The thing asked for does not exist (unknown challenge, member...)."""


class Invalid(KoomError):
    """The input breaks a rule (goal <= 0, deadline in the past, text too long...)."""


class Forbidden(KoomError):
    """The person may not do this (not an organiser...)."""


class Conflict(KoomError):
    """The state does not allow it (withdrawing after success...)."""


class Misconfigured(KoomError):
    """A setting or the environment prevents starting: whoever runs the bot must fix it."""


def port_taken(setting: str, port: int, exc: OSError) -> Misconfigured:
    """The start-up problem of a port, named by its setting, that cannot be listened on."""
    return Misconfigured(
        "operations.error.port", setting=setting, port=str(port), problem=exc.strerror or str(exc)
    )
