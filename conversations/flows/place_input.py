"""A place given by a member, read the same way by every flow that asks for one (pledge,
settings): a typed commune name, postcode or pair of coordinates, or a shared location, made
into a coarse Location; homonyms are offered as buttons, unknown names asked again.

    pick = partial(PledgePlace, challenge_id)  # the button of a homonym, from its key
    location = await read_place(turn, value, pick, ask_again=...)
    if location is not None:
        ...  # store it (with the member's consent, asked before)

    # and in the handler of that button:
    location = await picked_location(button.place)

Nothing is stored here: the flow stores what it gets, and gets nothing while the person still
has to choose or type again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from conversations.buttons import Button
from conversations.flow import Turn
from conversations.flows.browse import short
from conversations.model import LocationInput, StepInput, TextInput
from core.errors import KoomError
from core.geo import Place
from core.models import Location
from core.places import load_places, place_location, resolve_place, snap

LABEL_LENGTH = 64  # "Saint-Denis, La Réunion (974)"; Discord's limit is 80
ARG_SEPARATOR = "."
"""Stands for the ":" of a place key in a choice argument ("fr:69123" -> "fr.69123"), since
":" separates the parts of a choice id."""
Pick = Callable[[str], Button]
"""The button that picks a place, from its `place_arg`."""
_COORDINATES = re.compile(r"^(-?\d{1,3}\.\d{1,15}) ?[,; ] ?(-?\d{1,3}\.\d{1,15})$")
COORDINATES_LENGTH = 60


class AskAgain(Protocol):
    """Ask for the place again, at the flow's own step, with this prompt."""

    def __call__(self, key: str, /, **params: object) -> None: ...


def place_arg(place: Place) -> str:
    """The choice argument that names `place` (short enough for 64-byte choice ids)."""
    return place.key.replace(":", ARG_SEPARATOR)


def typed_coordinates(text: str) -> tuple[float, float] | None:
    """(latitude, longitude) typed as "45.76,4.84" or "45.76 4.84", else None."""
    typed = " ".join(text.split())
    point = _COORDINATES.match(typed) if len(typed) <= COORDINATES_LENGTH else None
    return None if point is None else (float(point[1]), float(point[2]))


async def picked_location(arg: str) -> Location:
    """The Location of the place a homonym button names; a made-up one is a stale choice."""
    place = (await load_places()).get(arg.replace(ARG_SEPARATOR, ":", 1))
    if place is None:
        raise KoomError("engine.stale_choice")
    return place_location(place)


async def read_place(
    turn: Turn,
    value: StepInput,
    pick: Pick,
    *,
    ask_again: AskAgain,
) -> Location | None:
    """The coarse Location `value` stands for, or None once the person has been asked again:
    to pick one of several places of that name (the buttons `pick` makes of each place's
    `place_arg`), or to type another name. Out-of-range coordinates raise
    Invalid("error.bad_coordinates")."""
    await load_places()  # off the event loop the first time
    match value:
        case LocationInput(latitude=latitude, longitude=longitude):
            return snap(latitude, longitude)
        case TextInput(text=text):
            typed = " ".join(text.split())
            point = typed_coordinates(typed)
            if point is not None:
                return snap(*point)
            found = resolve_place(typed)
            if len(found) == 1:
                return place_location(found[0])
            if not found:
                ask_again("place.unknown", text=short(typed))
                return None
            rows = [
                [turn.choice(short(place.label, LABEL_LENGTH), pick(place_arg(place)))]
                for place in found
            ]
            turn.send(turn.t("place.which", text=short(typed)), rows)
            ask_again("place.ask_again")
            return None
        case _:  # a form where a place is awaited
            ask_again("place.ask_again")
            return None
