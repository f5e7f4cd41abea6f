"""Neutral replies as Discord messages: text within 2,000 characters, choices as buttons (5
rows of 5) or, for long lists, select menus of 25 options; requests for text or a form as a
button that opens a modal (a modal can only answer the press of a button or a command).

Every component's `custom_id` is ours: a neutral choice id, or one of the adapter's own ids
below, which start with `~` (no choice id does: they start with a flow name).
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import discord

from conversations.engine import split_text
from conversations.model import (
    AskForm,
    AskLocation,
    AskText,
    Choice,
    Document,
    End,
    FormField,
    Image,
    Message,
    Reply,
)
from core.i18n import Translator

MAX_TEXT = 2000
MAX_ROWS = 5
MAX_PER_ROW = 5
MAX_OPTIONS = 25
BUTTON_LABEL = 80
OPTION_LABEL = 100
MODAL_TITLE = 45
FIELD_LABEL = 45
PLACEHOLDER = 100
MODAL_FIELDS = 5
MAX_ANSWER = 4000
ANSWER = "~text"
"""The button (and modal) that answers a request for text."""
FORM = "~form"
"""The button that opens the awaited form, and the form's modal."""
PICK = "~pick"
"""Select menus: `~pick.N`, unique in their message."""
ANSWER_FIELD = "answer"

Item = discord.ui.Item[Any]
ComponentFactory = Callable[[Item], Item]
"""Wraps a button or select so that its presses come back (the adapter's dynamic item)."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One Discord message to send: text, rows of components, an optional picture.

    `replaces` says it may replace the message whose button was pressed.
    """

    content: str
    rows: tuple[tuple[Item, ...], ...] = ()
    image: Image | Document | None = None
    replaces: bool = False

    def view(self) -> discord.ui.View | None:
        """The components as a view that never times out, or None."""
        if not self.rows:
            return None
        view = discord.ui.View(timeout=None)
        for index, row in enumerate(self.rows):
            for item in row:
                item.row = index
                view.add_item(item)
        return view

    def file(self) -> discord.File | None:
        """The picture as a fresh file to upload, or None."""
        if self.image is None:
            return None
        return discord.File(io.BytesIO(self.image.data), filename=self.image.filename)

    def send_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `send` (a channel, or an interaction's follow-up)."""
        kwargs: dict[str, Any] = {}
        if self.content:
            kwargs["content"] = self.content
        if (view := self.view()) is not None:
            kwargs["view"] = view
        if (file := self.file()) is not None:
            kwargs["file"] = file
        return kwargs

    def edit_kwargs(self) -> dict[str, Any]:
        """Keyword arguments to replace a message with this one (old components go)."""
        file = self.file()
        return {
            "content": self.content or None,
            "view": self.view(),
            "attachments": [file] if file is not None else [],
        }


def render(replies: Sequence[Reply], t: Translator, wrap: ComponentFactory) -> list[Outgoing]:
    """The messages that show `replies`, in order."""
    out: list[Outgoing] = []
    for reply in replies:
        match reply:
            case Message(text=text, choices=rows, replaces=replaces):
                out.extend(_messages(text, layout(rows, wrap), replaces=replaces))
            case Image(caption=caption) | Document(caption=caption):
                first, *rest = split_text(caption, MAX_TEXT) if caption else [""]
                out.append(Outgoing(first, image=reply))
                out.extend(Outgoing(part) for part in rest)
            case AskText(prompt=prompt):
                out.extend(_messages(prompt, [[(answer_button(t, wrap),)]]))
            case AskLocation(prompt=prompt, skip=skip):
                row = (answer_button(t, wrap), *([] if skip is None else [button(skip, wrap)]))
                out.extend(_messages(prompt, [[row]]))
            case AskForm(title=title):
                form = wrap(discord.ui.Button(label=t("discord.open_form"), custom_id=FORM))
                out.extend(_messages(title, [[(form,)]]))
            case End():
                pass
    return out


def _messages(
    text: str, pages: list[list[tuple[Item, ...]]], *, replaces: bool = False
) -> list[Outgoing]:
    """Text cut to Discord's length, the components on its last part; components beyond
    one message's five rows go on in further messages."""
    parts = split_text(text, MAX_TEXT) if text else []
    if not parts and not any(pages):
        return []
    first_rows, *more = pages or [[]]
    out = [Outgoing(part, replaces=replaces and index == 0) for index, part in enumerate(parts)]
    if out:
        last = out[-1]
        out[-1] = Outgoing(last.content, tuple(first_rows), replaces=last.replaces)
    else:
        out.append(Outgoing("", tuple(first_rows), replaces=replaces))
    out.extend(Outgoing("", tuple(rows)) for rows in more)
    return out


def layout(
    rows: Sequence[Sequence[Choice]], wrap: ComponentFactory
) -> list[list[tuple[Item, ...]]]:
    """Rows of choices as component rows, five rows to a message.

    Up to five rows stay buttons. Beyond, a list (the choices alone on their row, of the
    most common kind, such as "open this challenge") goes into select menus of 25 options
    where it starts; the other rows (navigation, links) stay buttons.
    """
    rows = [row[i : i + MAX_PER_ROW] for row in rows for i in range(0, len(row), MAX_PER_ROW)]
    listed: set[int] = set()
    if len(rows) > MAX_ROWS:
        alone = [i for i, row in enumerate(rows) if len(row) == 1 and row[0].url is None]
        kinds = Counter(_kind(rows[i][0]) for i in alone)
        kind, count = kinds.most_common(1)[0] if kinds else ("", 0)
        listed = {i for i in alone if count > 1 and _kind(rows[i][0]) == kind}
        if len(rows) - len(listed) + math.ceil(len(listed) / MAX_OPTIONS) > MAX_ROWS:
            listed = set(alone)
    choices = [rows[i][0] for i in sorted(listed)]
    chunks = [choices[i : i + MAX_OPTIONS] for i in range(0, len(choices), MAX_OPTIONS)]
    action_rows: list[tuple[Item, ...]] = []
    for index, row in enumerate(rows):
        if index in listed and index == min(listed):
            action_rows += [
                (select(chunk, n, start=n * MAX_OPTIONS, paged=len(chunks) > 1, wrap=wrap),)
                for n, chunk in enumerate(chunks)
            ]
        elif index not in listed:
            action_rows.append(tuple(button(c, wrap) for c in row))
    return [action_rows[i : i + MAX_ROWS] for i in range(0, len(action_rows), MAX_ROWS)]


def _kind(choice: Choice) -> str:
    """What a choice does, without its arguments: `flow:action`."""
    return ":".join(choice.id.split(":")[:2])


def button(choice: Choice, wrap: ComponentFactory) -> Item:
    """A link button for a url choice, else a button whose custom_id is the choice id."""
    label = clip(choice.label, BUTTON_LABEL)
    if choice.url is not None:
        return discord.ui.Button(label=label, url=choice.url)
    return wrap(discord.ui.Button(label=label, custom_id=choice.id))


def select(
    choices: Sequence[Choice], index: int, *, start: int, paged: bool, wrap: ComponentFactory
) -> Item:
    """A select menu whose option values are the choice ids; numbered when there are several."""
    options = [discord.SelectOption(label=clip(c.label, OPTION_LABEL), value=c.id) for c in choices]
    placeholder = f"{start + 1}–{start + len(choices)}" if paged else None
    return wrap(
        discord.ui.Select(custom_id=f"{PICK}.{index}", placeholder=placeholder, options=options)
    )


def answer_button(t: Translator, wrap: ComponentFactory) -> Item:
    """The button that opens a one-field modal to answer a request for text."""
    return wrap(
        discord.ui.Button(
            label=t("discord.answer"), custom_id=ANSWER, style=discord.ButtonStyle.primary
        )
    )


def answer_modal(label: str, prompt: str) -> discord.ui.Modal:
    """A modal with one long text field, titled like the button that opened it; the
    request's text shows as the field's placeholder."""
    modal = discord.ui.Modal(title=clip(label, MODAL_TITLE), custom_id=ANSWER, timeout=None)
    modal.add_item(
        discord.ui.TextInput(
            label=clip(label, FIELD_LABEL),
            custom_id=ANSWER_FIELD,
            placeholder=clip(prompt.replace("\n", " "), PLACEHOLDER) or None,
            style=discord.TextStyle.paragraph,
            max_length=MAX_ANSWER,
        )
    )
    return modal


def form_modal(title: str, fields: Sequence[FormField]) -> discord.ui.Modal:
    """The form as a modal: one text input per field (Discord shows five at most)."""
    modal = discord.ui.Modal(title=clip(title, MODAL_TITLE), custom_id=FORM, timeout=None)
    for field in fields[:MODAL_FIELDS]:
        modal.add_item(
            discord.ui.TextInput(
                label=clip(field.label, FIELD_LABEL),
                custom_id=field.name,
                placeholder=clip(field.placeholder, PLACEHOLDER) or None,
                style=discord.TextStyle.paragraph if field.long else discord.TextStyle.short,
                required=field.required,
                max_length=min(field.max_length, MAX_ANSWER),
            )
        )
    return modal


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
