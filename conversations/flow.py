"""Flows and the turn they work with: a flow reads the input, calls services and replies
through the turn; the engine persists what the turn leaves behind."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, ClassVar, TypeVar

from conversations.buttons import Button, MaxLength, pack
from conversations.model import (
    AskForm,
    AskLocation,
    AskText,
    Capabilities,
    Choice,
    Document,
    End,
    FormField,
    Image,
    Message,
    Reply,
    Sender,
    StepInput,
)
from conversations.state import PendingForm, Write
from core.errors import KoomError
from core.i18n import Translator, read_in
from core.identity import ChatRef
from core.models import Member
from core.services import Services
from core.services.organisations import Actor

ENGINE_FLOW = "engine"
"""The flow name of the engine's own choices (skipping an optional form field)."""
MAX_STEP_LENGTH = 40


class SkipField(Button, flow=ENGINE_FLOW, action="skip"):
    """Skip the optional field `field` of the form being asked one field at a time."""

    field: Annotated[str, MaxLength(40)]


class Turn:
    """Everything a flow works with while it handles one input.

    `data` is kept between inputs until the flow ends (or is cancelled, replaced by another
    flow, or expires); it must hold JSON values only. Choices carry their own context in
    their arguments, so old buttons keep working after `data` is gone.
    """

    t: Translator
    locale: str

    def __init__(
        self,
        *,
        services: Services,
        member: Member,
        sender: Sender,
        chat: ChatRef,
        locale: str,
        organiser_check: Callable[[], Awaitable[bool]],
        capabilities: Capabilities,
        flow_name: str | None,
        data: dict[str, Any],
    ) -> None:
        self.services = services
        self.settings = services.settings
        self.clock = services.clock
        self.member = member
        self.sender = sender
        self.chat = chat
        self._organiser_check = organiser_check
        self._organiser: bool | None = None
        self._organises: bool | None = None
        self.capabilities = capabilities
        self.flow_name = flow_name
        self.data = data
        self.replies: list[Reply] = []
        self.step: str | None = None
        self.form: PendingForm | None = None
        self.ended = False
        self.forgotten = False
        self.writes: list[Write] = []
        self.set_locale(locale)

    def write_later(self, write: Write) -> None:
        """Write `write` (a unit of work whose result the replies do not need) with the
        turn's state, in one unit, once the flow is done; dropped if the turn is refused."""
        self.writes.append(write)

    async def is_organiser(self) -> bool:
        """Whether the person may use the organiser flows (asked once, only when needed)."""
        if self._organiser is None:
            self._organiser = await self._organiser_check()
        return self._organiser

    async def actor(self) -> Actor:
        """The person as the organisation rules see them (an administrator or not)."""
        return Actor(self.member.id, is_admin=await self.is_organiser())

    async def may_organise(self) -> bool:
        """Whether the person may use the organiser flows: an administrator, or the staff
        of an organisation (who then reach only its challenges)."""
        if self._organises is None:
            self._organises = await self.services.organisations.may_organise(await self.actor())
        return self._organises

    # --- speaking ---------------------------------------------------------------------

    def say(self, key: str, /, **params: object) -> None:
        """Reply the translation of `key`."""
        self.replies.append(Message(self.t(key, **params)))

    def say_plural(self, key: str, n: int, /, **params: object) -> None:
        """Reply the plural form of `key` for `n`."""
        self.replies.append(Message(self.t.plural(key, n, **params)))

    def send(
        self, text: str, rows: Sequence[Sequence[Choice]] = (), replaces: bool = False
    ) -> None:
        """Reply already translated text, with rows of choices."""
        self.replies.append(Message(text, tuple(tuple(row) for row in rows), replaces))

    def image(self, data: bytes, caption: str, filename: str = "image.png") -> None:
        """Reply a PNG picture with an already translated caption."""
        self.replies.append(Image(data, caption, filename))

    def document(self, data: bytes, caption: str, filename: str) -> None:
        """Reply a file (sent as a document) with an already translated caption."""
        self.replies.append(Document(data, caption, filename))

    def choice(self, label: str, button: Button) -> Choice:
        """A button that brings `button` back to its flow; it is accepted once sent."""
        choice_id = pack(button)
        if len(choice_id.encode()) > self.capabilities.choice_id_max_bytes:
            raise ValueError(f"choice id too long for this platform: {choice_id!r}")
        return Choice(choice_id, label)

    def link(self, label: str, url: str) -> Choice:
        """A button that opens `url` (nothing comes back to the bot)."""
        return Choice("", label, url)

    # --- asking -----------------------------------------------------------------------

    def ask_text(self, step: str, key: str, /, **params: object) -> None:
        """Ask for free text; the answer comes to `on_input(step, TextInput)`."""
        self._await(step)
        self.replies.append(AskText(self.t(key, **params)))

    def ask_location(
        self,
        step: str,
        key: str,
        /,
        skip: Choice | None = None,
        button_key: str = "engine.share_location",
        **params: object,
    ) -> None:
        """Ask for a location (typed text also comes to `on_input`); `skip` goes on without.

        Where no location can be shared, the prompt is `key`'s "_typed" variant, which asks
        for a typed place only."""
        self._await(step)
        if not self.capabilities.location_requests:
            key = f"{key}_typed"
        self.replies.append(AskLocation(self.t(key, **params), self.t(button_key), skip))

    def ask_form(self, step: str, title_key: str, fields: Sequence[FormField]) -> None:
        """Ask for several fields; the values come to `on_input(step, FormInput)`.

        Where the platform has no forms, the engine asks one field at a time and checks
        each answer against its field (required, max_length) before the flow sees the form.
        """
        form = PendingForm(self.t(title_key), tuple(fields))
        if not self.capabilities.forms:
            self.send(form.title)
        self.continue_form(step, form)

    def continue_form(self, step: str, form: PendingForm) -> None:
        """Await `form` at `step` and ask for what it still lacks (engine use)."""
        self._await(step)
        self.form = form
        if self.capabilities.forms:
            self.replies.append(AskForm(form.title, form.fields))
            return
        current = form.current
        assert current is not None
        self.replies.append(AskText(current.label, current.placeholder))
        if not current.required:
            skip = self.choice(self.t("engine.form_skip"), SkipField(current.name))
            self.send(self.t("engine.form_optional"), [[skip]])

    def recall(self, name: str) -> Any:
        """A value an earlier input of this flow put in `data`.

        Raises KoomError("engine.data_lost") when it is gone: the conversation was
        cancelled or expired while its buttons were still on screen.
        """
        if name not in self.data:
            raise KoomError("engine.data_lost")
        return self.data[name]

    # --- ending and changing ----------------------------------------------------------

    def end(self) -> None:
        """The flow is over: nothing awaited, data forgotten; adapters may drop keyboards."""
        self.step = None
        self.form = None
        self.data.clear()
        self.ended = True
        self.replies.append(End())

    def forget_session(self) -> None:
        """The member was erased: the engine must not write this conversation back."""
        self.end()
        self.forgotten = True

    def set_locale(self, locale: str) -> None:
        """Speak `locale` for the rest of the turn (after a language change)."""
        self.t = Translator(locale)
        self.locale = self.t.locale
        read_in(self.locale)  # challenges loaded from now on speak it too

    def set_member(self, member: Member) -> None:
        """Use the updated member for the rest of the turn."""
        self.member = member

    def _await(self, step: str) -> None:
        if not step or len(step) > MAX_STEP_LENGTH:
            raise ValueError(f"step names are 1-{MAX_STEP_LENGTH} characters: {step!r}")
        self.step = step
        self.form = None
        self.ended = False


class Option(StrEnum):
    """What a command's one optional argument holds."""

    CHALLENGE = "challenge"
    """A challenge's short name (or a share link's code)."""
    CODE = "code"
    """A code typed by the member (account linking)."""


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command, described once: platforms derive their menus and slash commands from it.

    `private_menu` and `group_menu` show it in those menus; `admin` is for the
    administrators of a group (shown to them, and checked by the flow too); `group_only`
    is offered in groups alone; `slash` False keeps it out of Discord's slash commands (an
    alias). Organiser flows' commands go to organisers' menus.
    """

    name: str
    option: Option | None = None
    private_menu: bool = False
    group_menu: bool = False
    admin: bool = False
    group_only: bool = False
    slash: bool = True


F = TypeVar("F", bound="Flow")
B = TypeVar("B", bound=Button)
Handler = Callable[[F, Turn, B], Awaitable[None]]
_HANDLES = "_koom_handles"


def on(kind: type[B]) -> Callable[[Handler[F, B]], Handler[F, B]]:
    """Make a flow's method the handler of the buttons of type `kind` (of that flow)."""

    def mark(handler: Handler[F, B]) -> Handler[F, B]:
        setattr(handler, _HANDLES, kind)
        return handler

    return mark


class Flow:
    """One conversation of the bot (pledge, settings, help...).

    `name` prefixes the ids of the flow's choices, so keep it short. A command in `commands`
    starts the flow; a pressed button comes back to the method marked `@on(ItsButtonType)`;
    answers to what it asked come to `on_input`. Organiser-only flows refuse everyone else
    before any method runs.
    """

    name: ClassVar[str]
    commands: ClassVar[tuple[CommandSpec, ...]] = ()
    organiser_only: ClassVar[bool] = False
    private_only: ClassVar[bool] = False
    """Personal flows (pledges, settings) refuse group chats before any method runs."""
    public: ClassVar[bool] = False
    """Its replies in a group speak to everyone there; other flows' are for the sender alone
    where the platform can say so (Discord's ephemeral messages)."""
    keywords: ClassVar[frozenset[str]] = frozenset()
    """Exact private messages this flow answers whatever the conversation awaits ("STOP")."""
    handlers: ClassVar[dict[type[Button], Callable[..., Awaitable[None]]]] = {}
    """The `@on` methods by the button type each handles (gathered from the class)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.handlers = {}
        for klass in reversed(cls.__mro__):
            for method in vars(klass).values():
                kind = getattr(method, _HANDLES, None)
                if kind is None:
                    continue
                if kind.flow != getattr(cls, "name", None):
                    raise TypeError(f"{cls.__name__} handles {kind.__name__} of {kind.flow!r}")
                cls.handlers[kind] = method

    async def on_button(self, turn: Turn, button: Button) -> None:
        """Run the handler of `button` (the engine checked this flow has one), once
        `authorise` let it through."""
        await self.authorise(turn, button)
        await self.handlers[type(button)](self, turn, button)

    async def authorise(self, turn: Turn, button: Button) -> None:
        """Raise `Forbidden` when this person may not press `button`; every button passes
        unless a flow says otherwise, in one place rather than in each handler."""

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        """Handle `/command args`."""
        raise NotImplementedError(f"{type(self).__name__} handles no command")

    async def on_keyword(self, turn: Turn, keyword: str) -> None:
        """Handle one of `keywords`, sent alone in a private chat."""
        raise NotImplementedError(f"{type(self).__name__} answers no keyword")

    async def on_input(self, turn: Turn, step: str, value: StepInput) -> None:
        """Handle the answer to what the flow asked at `step`."""
        raise NotImplementedError(f"{type(self).__name__} asks for nothing")
