"""A harness to drive flows through the real engine in tests: inputs in, replies out.

    chat = ChatHarness(services)
    await chat.command("/start")            # as Alice (console:alice), in French
    await chat.press("Je m'engage")         # a choice among Alice's latest replies
    assert "Merci" in chat.all_text()
    bob = chat.person("telegram:2", name="Bob", lang="en")
    await bob.text("Lyon")

Unexpected exceptions in flows are raised, not turned into the engine's apology.
"""

from __future__ import annotations

from collections.abc import Sequence

from conversations.engine import DEFAULT_CAPABILITIES, Engine
from conversations.flow import Flow
from conversations.model import (
    AskForm,
    AskLocation,
    AskText,
    Capabilities,
    Choice,
    ChoiceInput,
    Command,
    Document,
    Envelope,
    FormInput,
    Image,
    Input,
    LocationInput,
    Message,
    Reply,
    Sender,
    TextInput,
)
from conversations.registry import default_flows
from core.identity import AccountRef, ChatRef
from core.services import Services


def texts(replies: Sequence[Reply]) -> list[str]:
    """The readable text of each reply (messages, captions, prompts, form titles)."""
    found: list[str] = []
    for reply in replies:
        match reply:
            case (
                Message(text=text)
                | Image(caption=text)
                | Document(caption=text)
                | AskText(prompt=text)
            ):
                found.append(text)
            case AskLocation(prompt=prompt):
                found.append(prompt)
            case AskForm(title=title):
                found.append(title)
    return found


def choices(replies: Sequence[Reply]) -> list[Choice]:
    """Every choice offered by the replies, in order."""
    found: list[Choice] = []
    for reply in replies:
        if isinstance(reply, Message):
            found.extend(choice for row in reply.choices for choice in row)
        elif isinstance(reply, AskLocation) and reply.skip is not None:
            found.append(reply.skip)
    return found


class Person:
    """Someone talking to the bot through a harness, in one chat."""

    def __init__(
        self,
        harness: ChatHarness,
        account: str,
        name: str,
        lang: str,
        chat: ChatRef | None,
        admin: bool = False,
    ) -> None:
        self.harness = harness
        self.account = account
        self.name = name
        self.lang = lang
        self.chat = chat
        self.admin = admin

    async def send(self, value: Input) -> list[Reply]:
        """Send any input; returns the replies."""
        return await self.harness.send(
            value,
            account=self.account,
            name=self.name,
            lang=self.lang,
            chat=self.chat,
            admin=self.admin,
        )

    async def command(self, text: str) -> list[Reply]:
        """Send `/name args`."""
        command = Command.parse(text if text.startswith("/") else f"/{text}")
        assert command is not None, text
        return await self.send(command)

    async def text(self, text: str) -> list[Reply]:
        """Type free text."""
        return await self.send(TextInput(text))

    async def press(self, label: str) -> list[Reply]:
        """Press the choice whose label is, or else uniquely contains, `label`, among the
        latest replies to this person."""
        offered = choices(self.last_replies())
        exact = [c for c in offered if c.label == label]
        found = exact or [c for c in offered if label in c.label]
        if len(found) != 1:
            labels = [c.label for c in offered]
            raise AssertionError(f"{len(found)} choices match {label!r} among {labels}")
        return await self.press_id(found[0].id)

    async def press_id(self, choice_id: str) -> list[Reply]:
        """Press a choice by its id (also one never offered, to test forged buttons)."""
        return await self.send(ChoiceInput(choice_id))

    async def location(self, latitude: float, longitude: float) -> list[Reply]:
        """Share a location."""
        return await self.send(LocationInput(latitude, longitude))

    async def form(self, **values: str) -> list[Reply]:
        """Submit a form (a modal) with these field values."""
        return await self.send(FormInput(values))

    def last_replies(self) -> list[Reply]:
        """The replies to this person's latest input."""
        return self.harness.latest.get(self.account, [])

    def last_texts(self) -> list[str]:
        """The texts of the replies to this person's latest input."""
        return texts(self.last_replies())

    def all_text(self) -> str:
        """Every text replied to this person so far, one per line."""
        return "\n".join(texts(self.harness.transcripts.get(self.account, [])))


class ChatHarness:
    """The real engine over test services; its shortcuts speak as Alice (console:alice, fr)."""

    def __init__(
        self,
        services: Services,
        flows: Sequence[Flow] | None = None,
        capabilities: Capabilities = DEFAULT_CAPABILITIES,
    ) -> None:
        flows = default_flows() if flows is None else flows
        self.engine = Engine(services, flows, capabilities, reraise=True)
        self.latest: dict[str, list[Reply]] = {}
        self.transcripts: dict[str, list[Reply]] = {}
        self.alice = self.person("console:alice", name="Alice", lang="fr")

    def person(
        self,
        account: str,
        *,
        name: str | None = None,
        lang: str = "fr",
        chat: ChatRef | None = None,
        admin: bool = False,
    ) -> Person:
        """Someone else (by default in their private chat; `admin` of the group chat)."""
        return Person(self, account, name or account.partition(":")[2], lang, chat, admin)

    async def send(
        self,
        value: Input,
        *,
        account: str = "console:alice",
        name: str = "Alice",
        lang: str = "fr",
        chat: ChatRef | None = None,
        admin: bool = False,
    ) -> list[Reply]:
        """Send an input from `account` (in their private chat unless `chat` is given)."""
        ref = AccountRef.parse(account)
        where = chat or ChatRef(ref.platform, ref.external_id)
        sender = Sender(ref, name, lang, is_chat_admin=admin)
        replies = await self.engine.handle(Envelope(sender, where, value))
        self.latest[account] = replies
        self.transcripts.setdefault(account, []).extend(replies)
        return replies

    async def command(self, text: str) -> list[Reply]:
        """Alice sends `/name args`."""
        return await self.alice.command(text)

    async def text(self, text: str) -> list[Reply]:
        """Alice types free text."""
        return await self.alice.text(text)

    async def press(self, label: str) -> list[Reply]:
        """Alice presses a choice by (part of) its label."""
        return await self.alice.press(label)

    async def press_id(self, choice_id: str) -> list[Reply]:
        """Alice presses a choice by id."""
        return await self.alice.press_id(choice_id)

    async def location(self, latitude: float, longitude: float) -> list[Reply]:
        """Alice shares a location."""
        return await self.alice.location(latitude, longitude)

    async def form(self, **values: str) -> list[Reply]:
        """Alice submits a form."""
        return await self.alice.form(**values)

    def last_texts(self) -> list[str]:
        """The texts of the replies to Alice's latest input."""
        return self.alice.last_texts()

    def all_text(self) -> str:
        """Every text replied to Alice so far."""
        return self.alice.all_text()
