"""Typed button data: one small frozen dataclass per action of a flow, packed into the choice
id a platform carries back (`flow:action:arg...`, within Telegram's 64-byte callback data).

    class PledgeYes(Button, flow="pledge", action="yes"):
        challenge_id: int

    turn.choice(label, PledgeYes(challenge.id))   # "pledge:yes:12"
    unpack("pledge:yes:12") == PledgeYes(12)

Fields are `int` (0 or more), `str` (not empty; `Annotated[str, MaxLength(n)]` bounds it),
`bool`, a `StrEnum`, or any of those `| None = None` at the end (left out when None). The
wire format is the one the buttons had before they were typed, so buttons already sent keep
working. Anything else (unknown flow or action, wrong number of arguments, a bad number, a
value of no member of the enum) is refused by `unpack` with a ValueError.
"""

from __future__ import annotations

import re
from dataclasses import MISSING, dataclass, fields
from enum import StrEnum
from types import NoneType, UnionType
from typing import (
    Annotated,
    Any,
    ClassVar,
    Union,
    dataclass_transform,
    get_args,
    get_origin,
    get_type_hints,
)

SEPARATOR = ":"
MAX_BYTES = 64
"""Telegram's limit on callback data, in UTF-8 bytes (Discord's custom ids allow 100)."""
LARGEST_ID = 2**31 - 1
"""The largest database id (PostgreSQL's `integer`): what a realistic int argument reaches."""
_INT = re.compile(r"[0-9]{1,18}")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,19}")


@dataclass(frozen=True, slots=True)
class MaxLength:
    """The longest a `str` field may be, in characters: `Annotated[str, MaxLength(12)]`."""

    characters: int


@dataclass(frozen=True, slots=True)
class _Arg:
    """How one field is written and read back."""

    name: str
    kind: type
    optional: bool
    max_length: int | None

    def write(self, value: object) -> str:
        if isinstance(value, bool):
            return "1" if value else "0"
        text = str(value.value) if isinstance(value, StrEnum) else str(value)
        if isinstance(value, int) and value < 0:
            raise ValueError(f"{self.name} is negative: {value}")
        if not text or SEPARATOR in text:
            raise ValueError(f"{self.name} is empty or holds {SEPARATOR!r}: {text!r}")
        if self.max_length is not None and len(text) > self.max_length:
            raise ValueError(f"{self.name} is longer than {self.max_length}: {text!r}")
        return text

    def read(self, text: str) -> object:
        if self.kind is bool:
            if text not in ("0", "1"):
                raise ValueError(f"{self.name} is no flag: {text!r}")
            return text == "1"
        if self.kind is int:
            if not _INT.fullmatch(text):
                raise ValueError(f"{self.name} is no number: {text!r}")
            return int(text)
        if not text or (self.max_length is not None and len(text) > self.max_length):
            raise ValueError(f"{self.name} is empty or too long: {text!r}")
        return self.kind(text)  # str, or a StrEnum's ValueError for an unknown value


@dataclass_transform(frozen_default=True)
class Button:
    """The data of one button: subclass it with `flow=` and `action=` (and
    `unsolicited=True` for buttons the bot sends on its own, outside any conversation, which
    every session accepts; their flow checks they concern the person who pressed)."""

    flow: ClassVar[str]
    action: ClassVar[str]
    unsolicited: ClassVar[bool]
    _args: ClassVar[tuple[_Arg, ...]]

    def __init_subclass__(
        cls, *, flow: str, action: str, unsolicited: bool = False, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if not _NAME.fullmatch(action) or not flow or SEPARATOR in flow:
            raise TypeError(f"bad flow or action for {cls.__name__}: {flow!r}, {action!r}")
        if (flow, action) in _REGISTRY:
            raise TypeError(f"{flow}:{action} is declared twice ({cls.__name__})")
        dataclass(frozen=True)(cls)
        cls.flow, cls.action, cls.unsolicited = flow, action, unsolicited
        cls._args = _arguments(cls)
        _REGISTRY[flow, action] = cls


_REGISTRY: dict[tuple[str, str], type[Button]] = {}


def _arguments(cls: type) -> tuple[_Arg, ...]:
    """The fields of a button class, checked: supported types, optional ones last."""
    hints = get_type_hints(cls, include_extras=True)
    found: list[_Arg] = []
    for field in fields(cls):
        hint, max_length = hints[field.name], None
        if get_origin(hint) is Annotated:
            hint, *extras = get_args(hint)
            max_length = next((e.characters for e in extras if isinstance(e, MaxLength)), None)
        optional = get_origin(hint) in (Union, UnionType) and NoneType in get_args(hint)
        if optional:
            hint = next(arg for arg in get_args(hint) if arg is not NoneType)
            if field.default is not None:
                raise TypeError(f"{cls.__name__}.{field.name}: an optional field defaults to None")
        elif (found and found[-1].optional) or field.default is not MISSING:
            raise TypeError(f"{cls.__name__}.{field.name}: only optional fields come last")
        if not (hint in (int, str, bool) or (isinstance(hint, type) and issubclass(hint, StrEnum))):
            raise TypeError(f"{cls.__name__}.{field.name}: unsupported type {hint!r}")
        found.append(_Arg(field.name, hint, optional, max_length))
    return tuple(found)


def pack(button: Button) -> str:
    """The choice id of `button`; ValueError when a value cannot be written (empty, holding
    ":", negative, too long) or the id would exceed 64 UTF-8 bytes."""
    values = [getattr(button, arg.name) for arg in button._args]
    while values and values[-1] is None and button._args[len(values) - 1].optional:
        values.pop()
    if None in values:
        raise ValueError(f"an optional value is left out before a given one: {button!r}")
    parts = [button.flow, button.action]
    parts += [arg.write(value) for arg, value in zip(button._args, values, strict=False)]
    choice_id = SEPARATOR.join(parts)
    if len(choice_id.encode()) > MAX_BYTES:
        raise ValueError(f"choice id longer than {MAX_BYTES} bytes: {choice_id!r}")
    return choice_id


def unpack(choice_id: str) -> Button:
    """The button a choice id stands for; ValueError when it names no declared button or its
    arguments do not fit the button's fields (made up, or from an older version)."""
    if len(choice_id.encode()) > MAX_BYTES:
        raise ValueError(f"choice id longer than {MAX_BYTES} bytes")
    flow, _, rest = choice_id.partition(SEPARATOR)
    action, _, rest = rest.partition(SEPARATOR)
    kind = _REGISTRY.get((flow, action))
    if kind is None:
        raise ValueError(f"no button is {flow!r}:{action!r}")
    texts = rest.split(SEPARATOR) if rest or choice_id.endswith(SEPARATOR) else []
    required = sum(not arg.optional for arg in kind._args)
    if not required <= len(texts) <= len(kind._args):
        raise ValueError(f"{kind.__name__} takes {required}-{len(kind._args)} arguments")
    values = {arg.name: arg.read(text) for arg, text in zip(kind._args, texts, strict=False)}
    return kind(**values)


def flow_of(choice_id: str) -> str:
    """The name of the flow a choice id is for (whether or not it is valid)."""
    return choice_id.partition(SEPARATOR)[0]


def declared() -> list[type[Button]]:
    """Every button type declared so far."""
    return list(_REGISTRY.values())
