"""What runs inside the unit that records someone joining a group or an organisation: the
conditional pledges that the newcomer's pledges complete are activated in that same unit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from sqlalchemy.engine import Connection

from core.models import ConditionScope

JoinHook = Callable[[Connection, ConditionScope, int, int], object]
"""Called with the unit's connection, the scope joined (a group or an organisation), its id
and the member who joined; part of that unit, so its failure undoes the join."""


class Joinable(Protocol):
    """A service recording people joining a group or an organisation."""

    on_join: list[JoinHook]


def joined(
    hooks: list[JoinHook], conn: Connection, scope: ConditionScope, key: int, member_id: int
) -> None:
    """Unit part: run every hook for a member who just joined `key`."""
    for hook in hooks:
        hook(conn, scope, key, member_id)
