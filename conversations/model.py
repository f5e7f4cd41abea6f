"""Neutral inputs and replies: what every platform adapter translates to and from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from core.identity import AccountRef, ChatRef

# --- Inputs -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    """A command such as `/start payload` or a slash command, without the slash."""

    name: str
    args: str = ""

    @classmethod
    def parse(cls, text: str) -> Command | None:
        """`/name args` typed as text, or None when the text is not a command."""
        text = text.strip()
        if not text.startswith("/") or len(text) < 2:
            return None
        name, _, args = text[1:].partition(" ")
        return cls(name.lower(), args.strip())


@dataclass(frozen=True, slots=True)
class TextInput:
    """Free text typed by the person."""

    text: str


@dataclass(frozen=True, slots=True)
class ChoiceInput:
    """A button or menu option picked by the person, by its choice id."""

    choice_id: str


@dataclass(frozen=True, slots=True)
class LocationInput:
    """A location shared by the person (exact; the core keeps only a coarse version)."""

    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class FormInput:
    """Several named text fields at once (a modal)."""

    values: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class OtherInput:
    """Something sent that is neither text nor a place (a sticker, photo, file, contact):
    where an answer is awaited, the flow says what to type instead."""


@dataclass(frozen=True, slots=True)
class PictureInput:
    """A picture sent by the person (a Telegram photo, a Discord attachment, a console file),
    with its caption. `load()` fetches its bytes from the platform, only when a flow wants
    them (a flow that awaits none answers as for any other input it cannot use)."""

    caption: str
    load: Callable[[], Awaitable[bytes]] = field(compare=False, repr=False)


Input = Command | TextInput | ChoiceInput | LocationInput | FormInput | OtherInput | PictureInput
StepInput = TextInput | LocationInput | FormInput | OtherInput | PictureInput
"""What answers a flow's question (`Flow.on_input`)."""


@dataclass(frozen=True, slots=True)
class Sender:
    """Who speaks: their account, their name and the language their app reports."""

    account: AccountRef
    display_name: str
    language_code: str | None = None
    is_chat_admin: bool = False
    """In a group: whether the platform says this person administers it (checked when they
    act, by the adapter)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """One input from one person in one chat."""

    sender: Sender
    chat: ChatRef
    input: Input


# --- Replies ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    """A button: its id comes back as a ChoiceInput; the label is translated text.

    A choice with a `url` opens that link instead (e.g. the bot's private chat from a group)
    and never comes back; its id is empty.
    """

    id: str
    label: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """Text with optional rows of choices.

    `replaces` says the message may replace the one whose button was pressed (paging,
    settings toggles) where the platform can edit messages in place. `personal` says it is
    for the sender alone (a refusal), even where the conversation speaks to a whole channel.
    """

    text: str
    choices: tuple[tuple[Choice, ...], ...] = ()
    replaces: bool = False
    personal: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class Image:
    """A picture (PNG bytes) with a caption."""

    data: bytes
    caption: str
    filename: str = "image.png"


@dataclass(frozen=True, slots=True)
class Document:
    """A file (a PDF report...) sent as a document, with a caption: Telegram sendDocument,
    a Discord attachment, a file saved by the console."""

    data: bytes
    caption: str
    filename: str


@dataclass(frozen=True, slots=True)
class AskText:
    """A request for free text, with the prompt to show."""

    prompt: str
    placeholder: str = ""


@dataclass(frozen=True, slots=True)
class AskLocation:
    """A request for a location; `skip` lets the person go on without one."""

    prompt: str
    button_label: str
    skip: Choice | None = None


@dataclass(frozen=True, slots=True)
class FormField:
    """One field of a form."""

    name: str
    label: str
    placeholder: str = ""
    long: bool = False
    required: bool = True
    max_length: int = 4000


@dataclass(frozen=True, slots=True)
class AskForm:
    """A request for several fields at once (a modal where the platform has them)."""

    title: str
    fields: tuple[FormField, ...]


@dataclass(frozen=True, slots=True)
class End:
    """The conversation is over; adapters may remove custom keyboards."""


Reply = Message | Image | Document | AskText | AskLocation | AskForm | End


@dataclass(frozen=True, slots=True)
class Answer:
    """The replies to one input and the language they speak, which the adapter's own words
    (buttons, hints) follow too."""

    replies: list[Reply]
    locale: str


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an adapter can render; the engine degrades to fit."""

    forms: bool = False
    choice_id_max_bytes: int = 64
    max_buttons_per_row: int = 8
    max_text_length: int = 4096
    location_requests: bool = False
    private_in_groups: bool = False
    """Replies in a group can be seen by the sender alone (Discord's ephemeral messages), so
    personal flows may run there."""
    share_link_template: str = "/start {payload}"
    """How a person opens the bot on a deep-link payload here (a t.me link on Telegram)."""
    extra: Mapping[str, object] = field(default_factory=dict)
