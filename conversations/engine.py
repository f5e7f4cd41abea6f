"""The conversation engine: one input in, replies out, with each session's state kept in the
database between inputs.

A session is one account in one chat. Its inputs run strictly one after another; different
sessions run concurrently. A turn's state is saved in one write once its flow has finished;
a refusal (KoomError) or a crash leaves the state as it was.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import assert_never

from conversations.buttons import Button, flow_of, unpack
from conversations.flow import ENGINE_FLOW, CommandSpec, Flow, SkipField, Turn
from conversations.model import (
    Answer,
    AskLocation,
    Capabilities,
    Choice,
    ChoiceInput,
    Command,
    End,
    Envelope,
    FormField,
    FormInput,
    Input,
    LocationInput,
    Message,
    OtherInput,
    PictureInput,
    Reply,
    Sender,
    StepInput,
    TextInput,
)
from conversations.state import (
    MAX_OFFERED,
    ConversationState,
    ConversationStore,
    PendingForm,
    SessionKey,
    Write,
    write_all,
)
from core.errors import KoomError
from core.i18n import Translator, read_in, reading_in, resolve_locale, supported_locale
from core.keyed_locks import KeyedLocks
from core.metrics import UPDATE_SECONDS, UPDATES
from core.models import Member
from core.services import Services

logger = logging.getLogger(__name__)

MAX_INPUT_LENGTH = 4000
CANCEL = "cancel"
CANCEL_COMMAND = CommandSpec(CANCEL, private_menu=True)
DEFAULT_CAPABILITIES = Capabilities()
MAX_FLOW_NAME = 40


class Engine:
    """Runs the flows for inputs from any platform."""

    def __init__(
        self,
        services: Services,
        flows: Sequence[Flow],
        capabilities: Capabilities = DEFAULT_CAPABILITIES,
        *,
        reraise: bool = False,
    ) -> None:
        """`reraise` lets unexpected exceptions through instead of apologising (for tests)."""
        self.services = services
        self.settings = services.settings
        self.capabilities = capabilities
        self.reraise = reraise
        self.store = ConversationStore(services.db)
        self._flows: dict[str, Flow] = {}
        self._commands: dict[str, Flow] = {}
        self._keywords: dict[str, Flow] = {}
        for flow in flows:
            if flow.name in self._flows or flow.name == ENGINE_FLOW or ":" in flow.name:
                raise ValueError(f"flow name taken or invalid: {flow.name!r}")
            if not 0 < len(flow.name) <= MAX_FLOW_NAME:
                raise ValueError(f"flow names are 1-{MAX_FLOW_NAME} characters: {flow.name!r}")
            self._flows[flow.name] = flow
            for spec in flow.commands:
                command = spec.name.lower()
                if command in self._commands or command == CANCEL:
                    raise ValueError(f"command /{command} is claimed twice")
                self._commands[command] = flow
            for keyword in flow.keywords:
                if keyword in self._keywords:
                    raise ValueError(f"keyword {keyword!r} is claimed twice")
                self._keywords[keyword] = flow
        self._locks: KeyedLocks[SessionKey] = KeyedLocks()

    async def handle(self, envelope: Envelope) -> list[Reply]:
        """Run one input through its session and return the replies, fitted to the platform."""
        return (await self.answer(envelope)).replies

    async def answer(self, envelope: Envelope, *, also: Sequence[Write] = ()) -> Answer:
        """Run one input through its session: the replies, fitted to the platform, and the
        language they speak (the turn's last: a language change speaks the new one).

        `also` (the adapter's writes, such as marking the platform's update handled) is
        written with the turn's state in one unit of work, or alone when the turn saves
        nothing; whatever the turn's outcome, before this returns.

        Never raises (unless `reraise`): a KoomError becomes its translated message, anything
        else is logged and becomes an apology.
        """
        with reading_in(None):  # the turn's language, for challenges too, stays in the turn
            return await self._turn(envelope, list(also))

    async def _turn(self, envelope: Envelope, writes: list[Write]) -> Answer:
        """One turn; `writes` are written with its state (the list is emptied once they are
        taken), else alone at the end."""
        sender = envelope.sender
        started = time.perf_counter()
        flow = None
        key = SessionKey.of(envelope)
        async with self._locks.hold(key):
            t = Translator(self.locale_of(None, sender))
            try:
                member, state = await self.store.load_with_member(key, sender.account)
                if _starts_in_private(envelope):  # the one way back after a block
                    await self.services.members.set_reachable(sender.account, True)
                if member is not None and (app := supported_locale(sender.language_code)):
                    member = await self.services.members.note_app_language(member, app)
                t = Translator(self.locale_of(member, sender))
                replies, flow, t = await self._run(envelope, member, state, t, writes)
                return Answer(fit(replies, self.capabilities), t.locale)
            except KoomError as error:
                return Answer(fit([refusal(t, error)], self.capabilities), t.locale)
            except Exception:
                logger.exception(
                    "conversation turn failed (%s, %s input)",
                    envelope.chat.platform.value,
                    type(envelope.input).__name__,
                )
                if self.reraise:
                    raise
                return Answer([Message(t("engine.internal_error"))], t.locale)
            finally:
                if writes:  # no state saved took them
                    await self.services.db.transaction(write_all, writes)
                _handled(envelope, flow, time.perf_counter() - started)

    def described(self) -> list[tuple[CommandSpec, bool]]:
        """Every command as its flow describes it, with whether it is for organisers only;
        in the flows' order, /cancel (the engine's own) last."""
        found = [
            (spec, flow.organiser_only) for flow in self._flows.values() for spec in flow.commands
        ]
        return [*found, (CANCEL_COMMAND, False)]

    def is_public(self, value: Input) -> bool:
        """Whether the replies to `value` in a group speak to everyone there (its flow is
        public), not to the sender alone."""
        match value:
            case Command(name=name):
                flow = self._commands.get(name.lower())
            case ChoiceInput(choice_id=choice_id):
                flow = self._flows.get(flow_of(choice_id))
            case _:
                flow = None
        return flow is not None and flow.public

    async def awaited_form(self, envelope: Envelope) -> PendingForm | None:
        """The form this session waits for, if any (an adapter opens it as a modal)."""
        return (await self.store.load(SessionKey.of(envelope))).form

    def locale_of(self, member: Member | None, sender: Sender) -> str:
        """The one rule for a person's language: the one stored for the member (chosen, or
        their app's noted earlier), else the app's of this input, else the default."""
        chosen = None if member is None else member.language
        return resolve_locale(chosen, sender.language_code, self.settings.default_locale)

    async def locale_for(self, sender: Sender) -> str:
        """The person's language, for words an adapter says outside a turn."""
        return self.locale_of(await self.services.members.find(sender.account), sender)

    async def _run(
        self,
        envelope: Envelope,
        member: Member | None,
        loaded: ConversationState,
        t: Translator,
        writes: list[Write],
    ) -> tuple[list[Reply], str, Translator]:
        """The replies to one input, the name of the flow that handled it, and the language
        the turn ended in. The turn's writes join `writes`, taken (emptied) by its state's."""
        key = SessionKey.of(envelope)
        state = loaded
        value = envelope.input
        if _longest_text(value) > MAX_INPUT_LENGTH:
            return [Message(t("error.text_too_long", limit=MAX_INPUT_LENGTH))], ENGINE_FLOW, t
        if (
            isinstance(value, ChoiceInput)
            and not self._unsolicited(value.choice_id)
            and not await self._was_offered(envelope, state)
        ):
            return [Message(t("engine.stale_choice"))], ENGINE_FLOW, t
        sender = envelope.sender
        if member is None:
            app = supported_locale(sender.language_code)
            member = await self.services.members.ensure(sender.account, sender.display_name, app)
        now = self.services.clock.now()
        expired = state.expired(now, timedelta(minutes=self.settings.conversation_ttl_minutes))
        if expired:
            state = state.reset()
        turn = Turn(
            services=self.services,
            member=member,
            sender=sender,
            chat=envelope.chat,
            locale=t.locale,
            organiser_check=lambda: self._is_organiser(sender),
            capabilities=self.capabilities,
            flow_name=state.flow,
            data=dict(state.data),
        )
        saving = await self._dispatch(turn, state, value, expired)
        writes.extend(turn.writes)
        if saving and not turn.forgotten:
            outcome = _outcome(turn, state)
            changed: list[tuple[SessionKey, ConversationState]] = []
            if outcome.active or _differs(outcome, loaded):
                changed.append((key, outcome))
            if envelope.chat.is_group and outcome.offered != loaded.offered:
                changed.append(await self._share_offered(envelope, turn))
            if changed:  # the turn's states and writes in one unit
                await self.store.save_all(changed, at=now, writes=writes)
                writes.clear()
        if envelope.chat.is_group and not turn.forgotten:  # "N people of this group" counts
            await self.services.groups.seen(envelope.chat, member.id)  # who acts here
        return turn.replies, self._handler(value, state), turn.t

    def _handler(self, value: Input, state: ConversationState) -> str:
        """The name of the flow an input went to (for logs and metrics)."""
        flow: Flow | None = None
        match value:
            case Command(name=name):
                flow = self._commands.get(name.lower())
            case ChoiceInput(choice_id=choice_id):
                flow = self._flows.get(flow_of(choice_id))
            case TextInput(text=text) if text.strip() in self._keywords:
                flow = self._keywords[text.strip()]
            case _:
                flow = self._flows.get(state.flow or "")
        return flow.name if flow is not None else ENGINE_FLOW

    def _unsolicited(self, choice_id: str) -> bool:
        """A choice on a message the bot sent on its own, which every session accepts."""
        try:
            button = unpack(choice_id)
        except ValueError:
            return False
        return button.unsolicited and button.flow in self._flows

    async def _was_offered(self, envelope: Envelope, state: ConversationState) -> bool:
        """A choice counts when it was shown to this person here or, in a group, where
        everyone sees the buttons, to anyone in the chat (flows check who may use it)."""
        choice_id = envelope.input.choice_id if isinstance(envelope.input, ChoiceInput) else ""
        if choice_id in state.offered:
            return True
        if not envelope.chat.is_group:
            return False
        return choice_id in (await self.store.load(SessionKey.of_chat(envelope))).offered

    async def _share_offered(
        self, envelope: Envelope, turn: Turn
    ) -> tuple[SessionKey, ConversationState]:
        """The group's shared record with the choices shown in it, for the whole chat."""
        key = SessionKey.of_chat(envelope)
        shared = await self.store.load(key)
        return key, _outcome(turn, shared, keep_flow=False)

    async def _dispatch(
        self, turn: Turn, state: ConversationState, value: Input, expired: bool
    ) -> bool:
        """Give the input to whoever handles it; True when the turn's state must be saved."""
        awaiting = self._flows.get(state.flow or "") if state.step is not None else None
        match value:
            case Command(name=name) if name.lower() == CANCEL:
                if not state.active:
                    turn.say("engine.nothing_to_cancel")
                    return False
                turn.say("engine.cancelled")
                turn.end()
                return True
            case Command(name=name, args=args):
                flow = self._commands.get(name.lower())
                if flow is None:
                    turn.say("engine.unknown_command", command=name)
                    return False
                if not await _enter(turn, flow, keep_data=False):
                    return False
                await flow.on_command(turn, name.lower(), args)
                return True
            case ChoiceInput(choice_id=choice_id):
                try:
                    button = unpack(choice_id)
                except ValueError:  # offered by an older version, its arguments changed since
                    turn.say("engine.stale_choice")
                    return False
                return await self._choice(turn, state, button)
            case TextInput(text=text) if (
                not turn.chat.is_group and (keyword := text.strip()) in self._keywords
            ):
                flow = self._keywords[keyword]
                if not await _enter(turn, flow, keep_data=False):
                    return False
                await flow.on_keyword(turn, keyword)
                return True
            case _ if expired:
                turn.say("engine.expired")
                turn.end()
                return True
            case _ if awaiting is None:
                if isinstance(value, LocationInput):
                    turn.say("engine.location_outside_flow")
                else:
                    turn.say("engine.not_understood")
                return False
            case TextInput() | LocationInput() | FormInput() | OtherInput() | PictureInput():
                if not await _enter(turn, awaiting, keep_data=True):
                    return False
                return await self._answer(turn, awaiting, state, value)
        assert_never(value)

    async def _choice(self, turn: Turn, state: ConversationState, button: Button) -> bool:
        if isinstance(button, SkipField):
            return await self._skip_field(turn, state, button)
        flow = self._flows.get(button.flow)
        if flow is None or type(button) not in flow.handlers:  # a flow no longer running
            turn.say("engine.stale_choice")
            return False
        waiting = state.step is not None and state.flow != flow.name
        if not await _enter(turn, flow, keep_data=flow.name == state.flow):
            return False
        await flow.on_button(turn, button)
        if waiting and turn.step is None and turn.form is None:
            _keep_waiting(turn, state)
        return True

    async def _answer(
        self,
        turn: Turn,
        flow: Flow,
        state: ConversationState,
        value: StepInput,
    ) -> bool:
        assert state.step is not None
        form = state.form
        if form is None:
            await flow.on_input(turn, state.step, value)
        elif isinstance(value, FormInput):
            values = {f.name: value.values.get(f.name, "").strip() for f in form.fields}
            problems = [p for f in form.fields if (p := _problem(turn.t, f, values[f.name]))]
            if problems:
                turn.send("\n".join(problems))
                turn.continue_form(state.step, form)
            else:
                await flow.on_input(turn, state.step, FormInput(values))
        elif isinstance(value, TextInput) and not self.capabilities.forms:
            assert form.current is not None
            text = value.text.strip()
            problem = _problem(turn.t, form.current, text)
            if problem:
                turn.send(problem)
                turn.continue_form(state.step, form)
            else:
                await _next_field(turn, flow, state.step, form.with_value(text))
        else:  # neither the form nor its current field: show what is awaited again
            turn.continue_form(state.step, form)
        return True

    async def _skip_field(self, turn: Turn, state: ConversationState, skip: SkipField) -> bool:
        form = state.form
        current = None if form is None else form.current
        flow = self._flows.get(state.flow or "")
        if (
            form is None
            or current is None
            or current.required
            or skip.field != current.name
            or flow is None
            or state.step is None
        ):
            turn.say("engine.stale_choice")
            return False
        if not await _enter(turn, flow, keep_data=True):
            return False
        await _next_field(turn, flow, state.step, form.with_value(""))
        return True

    async def _is_organiser(self, sender: Sender) -> bool:
        """Only the configured account itself: a linked account gains no organiser right."""
        return self.settings.is_organiser(sender.account)


def _handled(envelope: Envelope, flow: str | None, seconds: float) -> None:
    """One log line and the metrics of a handled input: where, what kind, which flow, how
    long; never what the person wrote."""
    platform = envelope.chat.platform.value
    kind = type(envelope.input).__name__.removesuffix("Input").lower()
    UPDATES.labels(platform, kind).inc()
    UPDATE_SECONDS.labels(platform).observe(seconds)
    milliseconds = round(seconds * 1000, 1)
    logger.info(
        "handled %s %s in flow %s in %s ms",
        platform,
        kind,
        flow or "-",
        milliseconds,
        extra={"platform": platform, "kind": kind, "flow": flow, "duration_ms": milliseconds},
    )


def _starts_in_private(envelope: Envelope) -> bool:
    value = envelope.input
    return isinstance(value, Command) and value.name == "start" and not envelope.chat.is_group


def _keep_waiting(turn: Turn, state: ConversationState) -> None:
    """A button of another conversation acted without asking anything: the conversation
    that was waiting for an answer goes on waiting, with what it had gathered."""
    turn.flow_name, turn.step, turn.form = state.flow, state.step, state.form
    turn.data = dict(state.data)
    turn.ended = False
    turn.replies = [reply for reply in turn.replies if not isinstance(reply, End)]


async def _enter(turn: Turn, flow: Flow, *, keep_data: bool) -> bool:
    """Switch the turn to `flow`; False, with a refusal, when the person may not use it."""
    if flow.organiser_only and not await turn.may_organise():
        turn.replies.append(Message(turn.t("error.not_organiser"), personal=True))
        return False
    if flow.organiser_only:
        read_in(None)  # organisers work on the original texts
    if flow.private_only and turn.chat.is_group and not turn.capabilities.private_in_groups:
        _refuse_in_group(turn)
        return False
    if not keep_data:
        turn.data.clear()
    turn.flow_name = flow.name
    return True


def _refuse_in_group(turn: Turn) -> None:
    """Personal flows run in the private chat; offer the way there where it is a link."""
    template = turn.capabilities.share_link_template
    if template.startswith(("https://", "http://")):
        private = turn.link(turn.t("engine.open_private"), template.format(payload=""))
        turn.send(turn.t("engine.private_only"), [[private]])
    else:
        turn.say("engine.private_only")


async def _next_field(turn: Turn, flow: Flow, step: str, form: PendingForm) -> None:
    """Ask the form's next field, or hand the complete form to the flow."""
    if form.current is None:
        await flow.on_input(turn, step, FormInput(dict(form.values)))
    else:
        turn.continue_form(step, form)


def _problem(t: Translator, field: FormField, value: str) -> str | None:
    """What is wrong with a field's value, translated, or None."""
    if field.required and not value:
        return t("engine.form_required", field=field.label)
    if len(value) > field.max_length:
        return t.plural("engine.form_too_long", field.max_length, field=field.label)
    return None


def _longest_text(value: Input) -> int:
    match value:
        case TextInput(text=text):
            return len(text)
        case Command(args=args):
            return len(args)
        case FormInput(values=values):
            return max(map(len, values.values()), default=0)
    return 0


def _outcome(turn: Turn, state: ConversationState, keep_flow: bool = True) -> ConversationState:
    """The state a turn leaves: the choices it showed join the offered ones, newest last.

    A flow that awaits nothing and remembers nothing leaves no flow behind; without
    `keep_flow` only the offered choices are kept (a group's shared buttons).
    """
    shown = list(dict.fromkeys(c.id for c in _choices(turn.replies) if c.url is None))
    kept = [choice_id for choice_id in state.offered if choice_id not in set(shown)]
    if not keep_flow:
        return ConversationState(offered=tuple((kept + shown)[-MAX_OFFERED:]))
    idle = turn.ended or (turn.step is None and not turn.data and turn.form is None)
    return ConversationState(
        flow=None if idle else turn.flow_name,
        step=turn.step,
        data=turn.data,
        form=turn.form,
        offered=tuple((kept + shown)[-MAX_OFFERED:]),
    )


def _differs(new: ConversationState, old: ConversationState) -> bool:
    """Whether saving `new` would change what is stored (the time aside)."""
    return (new.flow, new.step, dict(new.data), new.form, new.offered) != (
        old.flow,
        old.step,
        dict(old.data),
        old.form,
        old.offered,
    )


def _choices(replies: Sequence[Reply]) -> Iterator[Choice]:
    for reply in replies:
        if isinstance(reply, Message):
            for row in reply.choices:
                yield from row
        elif isinstance(reply, AskLocation) and reply.skip is not None:
            yield reply.skip


ECHOED_LENGTH = 120
"""A refusal's text parameter longer than this (a name pasted or typed wrong, which it says
back) is cut: titles stay whole (at most 120), a 4,000-character paste is not sent back."""


def refusal(t: Translator, error: KoomError) -> Message:
    """The refusal the person reads, for them alone."""
    params = {
        name: value[: ECHOED_LENGTH - 1] + "…"
        if isinstance(value, str) and len(value) > ECHOED_LENGTH
        else value
        for name, value in error.params.items()
    }
    return Message(t(error.key, **params), personal=True)


def fit(replies: Sequence[Reply], capabilities: Capabilities) -> list[Reply]:
    """Split long messages at line ends and wide rows of choices to fit the platform.

    The choices stay on the last part of a split message; only its first part replaces.
    """
    width = capabilities.max_buttons_per_row
    fitted: list[Reply] = []
    for reply in replies:
        if not isinstance(reply, Message):
            fitted.append(reply)
            continue
        rows = tuple(row[i : i + width] for row in reply.choices for i in range(0, len(row), width))
        parts = split_text(reply.text, capabilities.max_text_length)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            fitted.append(
                Message(part, rows if last else (), reply.replaces and index == 0, reply.personal)
            )
    return fitted


def split_text(text: str, limit: int) -> list[str]:
    """Cut `text` into parts of at most `limit` characters, at line ends where possible,
    else at a space, else anywhere."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current: str | None = None
    for line in text.split("\n"):
        while len(line) > limit:
            if current is not None:
                parts.append(current)
                current = None
            cut = line.rfind(" ", 1, limit + 1)
            cut = cut if cut > 0 else limit
            parts.append(line[:cut])
            line = line[cut:].lstrip(" ")
        if current is None:
            current = line
        elif len(current) + 1 + len(line) <= limit:
            current = f"{current}\n{line}"
        else:
            parts.append(current)
            current = line
    if current is not None:
        parts.append(current)
    return [part.strip("\n") for part in parts if part.strip()] or [text[:limit]]
