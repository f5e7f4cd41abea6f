"""Neutral replies as numbered plain text, and typed lines back as neutral inputs."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from conversations.model import (
    AskForm,
    AskLocation,
    AskText,
    Choice,
    ChoiceInput,
    Command,
    Document,
    End,
    Image,
    Input,
    LocationInput,
    Message,
    PictureInput,
    Reply,
    TextInput,
)
from core.errors import Invalid
from core.i18n import Translator
from core.pictures import MAX_BYTES

COORDINATES = re.compile(r"^(-?\d{1,2}(?:\.\d{1,15})?) ?[,; ] ?(-?\d{1,3}(?:\.\d{1,15})?)$")
"""Matched against the line with its spaces collapsed, and only when it is short."""
COORDINATES_LENGTH = 60
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")


class Style(StrEnum):
    """How a line is shown on a colour terminal."""

    TEXT = "text"
    CHOICE = "choice"
    HINT = "hint"


class Expect(StrEnum):
    """What the last replies asked for, which decides how the next line is read."""

    ANYTHING = "anything"
    TEXT = "text"
    LOCATION = "location"


@dataclass(frozen=True, slots=True)
class Line:
    """One line of output."""

    text: str
    style: Style = Style.TEXT


@dataclass(frozen=True, slots=True)
class Screen:
    """Replies as lines, with the choices they numbered (1 is `choices[0]`)."""

    lines: tuple[Line, ...] = ()
    choices: tuple[Choice, ...] = ()
    expect: Expect = Expect.ANYTHING


@dataclass(frozen=True, slots=True)
class NoSuchChoice:
    """A number that names none of the choices shown."""

    number: int
    count: int


def render(
    replies: Sequence[Reply],
    t: Translator,
    save_image: Callable[[Image | Document], str] | None = None,
) -> Screen:
    """Lay out replies as text; choices are numbered from 1 across all the replies.

    When free text is asked for, numbers are answers, so choices are shown as `#1`.
    """
    lines: list[Line] = []
    choices: list[Choice] = []
    expect = _expectation(replies)
    marker = "#" if expect is Expect.TEXT else ""

    def number(choice: Choice) -> None:
        choices.append(choice)
        lines.append(Line(f"  {marker}{len(choices)}. {choice.label}", Style.CHOICE))

    for reply in replies:
        if lines and not isinstance(reply, End):
            lines.append(Line(""))
        match reply:
            case Message(text=text, choices=rows):
                lines.extend(Line(part) for part in text.splitlines())
                for row in rows:
                    for choice in row:
                        if choice.url is None:
                            number(choice)
                        else:
                            lines.append(Line(f"  {choice.label}: {choice.url}", Style.HINT))
            case AskText(prompt=prompt, placeholder=placeholder):
                lines.extend(Line(part) for part in prompt.splitlines())
                if placeholder:
                    lines.append(Line(t("console.placeholder", example=placeholder), Style.HINT))
            case AskLocation(prompt=prompt, button_label=label, skip=skip):
                lines.extend(Line(part) for part in prompt.splitlines())
                lines.append(Line(t("console.location_hint", label=label), Style.HINT))
                if skip is not None:
                    number(skip)
            case AskForm(title=title, fields=fields):
                # Only reached where the engine did not split the form into questions.
                lines.append(Line(title))
                lines.extend(Line(f"- {field.label}", Style.HINT) for field in fields)
            case (
                Image(caption=caption, filename=filename)
                | Document(caption=caption, filename=filename)
            ):
                lines.extend(Line(part) for part in caption.splitlines())
                where = save_image(reply) if save_image is not None else filename
                key = "console.image" if isinstance(reply, Image) else "console.document"
                lines.append(Line(t(key, path=where), Style.HINT))
            case End():
                pass
    return Screen(tuple(lines), tuple(choices), expect)


def _expectation(replies: Sequence[Reply]) -> Expect:
    """What the last request among the replies asks for."""
    for reply in reversed(replies):
        if isinstance(reply, AskText):
            return Expect.TEXT
        if isinstance(reply, AskLocation):
            return Expect.LOCATION
    return Expect.ANYTHING


def parse_line(line: str, screen: Screen) -> Input | NoSuchChoice | None:
    """Read one typed line against the last screen; None for a blank line.

    `/name args` is a command; `#2` picks the second choice shown, and so does `2` unless
    free text was asked for; coordinates such as `45.76,4.84` answer a location request;
    the path of a picture file (`~/receipt.jpg`) sends that picture; anything else is text.
    """
    text = line.strip()
    if not text:
        return None
    picture = _picture_file(text)  # before commands: an absolute path starts with "/"
    if picture is not None:
        return picture
    command = Command.parse(text)
    if command is not None:
        return command
    if screen.expect is Expect.LOCATION:
        typed = " ".join(text.split()) if len(text) <= COORDINATES_LENGTH else ""
        found = COORDINATES.match(typed)
        if found is not None:
            latitude, longitude = float(found[1]), float(found[2])
            if -90 <= latitude <= 90 and -180 <= longitude <= 180:
                return LocationInput(latitude, longitude)
    digits = text[1:] if text.startswith("#") else text
    picks = text.startswith("#") or screen.expect is not Expect.TEXT
    if picks and screen.choices and digits.isascii() and digits.isdigit():
        picked = int(digits)
        if 1 <= picked <= len(screen.choices):
            return ChoiceInput(screen.choices[picked - 1].id)
        return NoSuchChoice(picked, len(screen.choices))
    return TextInput(text)


def _picture_file(text: str) -> PictureInput | None:
    """An existing file named like a picture, read only when a flow wants it."""
    if not text.lower().endswith(PICTURE_SUFFIXES):
        return None
    path = Path(text).expanduser()
    if not path.is_file():
        return None

    async def load() -> bytes:
        if path.stat().st_size > MAX_BYTES:
            raise Invalid("error.picture.too_large", megabytes=MAX_BYTES // 1_000_000)
        return await asyncio.to_thread(path.read_bytes)

    return PictureInput("", load)
