"""The console chat: the bot's flows in a terminal, typed by hand or piped line by line."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import os
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from rich.console import Console

from bots.console.render import Expect, Line, NoSuchChoice, Screen, Style, parse_line, render
from conversations.engine import Engine
from conversations.model import (
    Capabilities,
    Command,
    Document,
    End,
    Envelope,
    Image,
    Input,
    Sender,
)
from conversations.registry import default_flows
from core.i18n import Translator, resolve_locale
from core.identity import AccountRef, ChatRef, Platform
from core.services import Services

CAPABILITIES = Capabilities(forms=False, location_requests=True)
STYLES = {Style.TEXT: "", Style.CHOICE: "bold cyan", Style.HINT: "dim"}
PROMPT = "> "


class Terminal:
    """Writes lines: in colour through Rich on a terminal, as plain flushed text otherwise."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._rich = Console(file=out, highlight=False, emoji=False) if out.isatty() else None

    def show(self, lines: Sequence[Line]) -> None:
        """Write the lines and flush them."""
        for line in lines:
            if self._rich is not None:
                self._rich.print(line.text, style=STYLES[line.style], markup=False)
            else:
                self._out.write(line.text + "\n")
        self._out.flush()


class LineReader:
    """Reads input on a daemon thread, one line when asked, so the event loop stays free."""

    def __init__(self, source: TextIO, prompt: str) -> None:
        self._loop = asyncio.get_running_loop()
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._wanted = threading.Semaphore(0)
        self._source = source
        self._prompt = prompt
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            self._wanted.acquire()
            line: str | None
            try:
                line = input(self._prompt) if self._prompt else self._source.readline() or None
            except EOFError:
                line = None
            self._loop.call_soon_threadsafe(self._lines.put_nowait, line)
            if line is None:
                return

    async def next(self) -> str | None:
        """The next line, or None at the end of input."""
        self._wanted.release()
        return await self._lines.get()


@functools.cache
def _image_folder() -> str:
    """This process's own folder for pictures (made fresh, readable by its owner only), so
    nobody sharing the temporary folder can plant a link or read a picture."""
    return tempfile.mkdtemp(prefix="climat-koom-")


def save_image(image: Image | Document) -> str:
    """Write an image (or a document) to a new file of the chat's private folder; its path."""
    name = Path(image.filename)
    descriptor, path = tempfile.mkstemp(
        suffix=name.suffix, prefix=f"{name.stem}-", dir=_image_folder()
    )
    with os.fdopen(descriptor, "wb") as file:
        file.write(image.data)
    return path


class ConsoleChat:
    """One person, `console:NAME` in the private chat `console:NAME`, talking to the engine."""

    def __init__(self, services: Services, sender: Sender, t: Translator, out: TextIO) -> None:
        self.engine = Engine(services, default_flows(), CAPABILITIES)
        self.services = services
        self.sender = sender
        self.chat = ChatRef(Platform.CONSOLE, sender.account.external_id)
        self.t = t
        self.terminal = Terminal(out)
        self.screen = Screen()
        self.started = False

    async def send(self, message: Input) -> None:
        """Hand one input to the engine and show its replies."""
        answer = await self.engine.answer(Envelope(self.sender, self.chat, message))
        self.t = Translator(answer.locale)  # the console's own hints follow a change too
        screen = render(answer.replies, self.t, save_image)
        self.terminal.show([Line(""), *screen.lines] if self.started else screen.lines)
        self.started = True
        # Replies without choices leave the last ones on screen, and so pickable; a refusal
        # that asks again ("please type a number") still awaits the same answer.
        if not screen.choices:
            asks_again = screen.expect is Expect.ANYTHING and not any(
                isinstance(reply, End) for reply in answer.replies
            )
            expect = self.screen.expect if asks_again else screen.expect
            screen = replace(screen, choices=self.screen.choices, expect=expect)
        self.screen = screen

    async def receive(self, line: str) -> None:
        """Read one typed line against the last replies and act on it."""
        parsed = parse_line(line, self.screen)
        if isinstance(parsed, NoSuchChoice):
            hint = self.t("console.no_such_choice", number=parsed.number, count=parsed.count)
            self.terminal.show([Line(hint, Style.HINT)])
        elif parsed is not None:
            await self.send(parsed)


async def chat(
    services: Services,
    name: str,
    language: str | None,
    language_code: str | None,
    source: TextIO | None = None,
    out: TextIO | None = None,
) -> None:
    """Chat until the end of input.

    `language` was asked for explicitly and becomes the member's language, as if chosen in
    settings; `language_code` is the terminal's, a hint like a chat app's language code.
    """
    source = source or sys.stdin
    out = out or sys.stdout
    interactive = source.isatty() and out.isatty()
    if interactive:
        with contextlib.suppress(ImportError):
            importlib.import_module("readline")  # line editing and history for input()
    account = AccountRef(Platform.CONSOLE, name)
    member = await services.members.ensure(account, name)
    if language is not None and member.language != language:
        member = await services.members.update(member.id, language=language)
    default = services.settings.default_locale
    t = Translator(resolve_locale(member.language, language_code, default))
    session = ConsoleChat(services, Sender(account, name, language or language_code), t, out)
    if interactive:
        session.terminal.show([Line(t("console.hint"), Style.HINT)])
    await session.send(Command("start"))
    reader = LineReader(source, PROMPT if interactive else "")
    while (line := await reader.next()) is not None:
        await session.receive(line)
    if interactive:
        session.terminal.show([Line(""), Line(t("console.bye"), Style.HINT)])
