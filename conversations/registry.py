"""The flows the bot runs, in one place: every adapter and the console chat use this list."""

from __future__ import annotations

from conversations.flow import Flow


def default_flows() -> list[Flow]:
    """A fresh instance of every product flow.

    To add a flow, import its class from `conversations.flows` and append an instance here;
    the engine refuses two flows with one name or one command.
    """
    return []
