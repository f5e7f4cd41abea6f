"""A fake Telegram Bot API on 127.0.0.1, for end-to-end tests and the benchmark.

It answers the methods the bot uses with Telegram's JSON shapes and error answers (400 with
Telegram's descriptions, 403 when blocked or kicked, 409 for getUpdates beside a webhook or
cut short by another poller, 429 with retry_after), checks Telegram's limits (4,096-character
texts, 64-byte callback data...) and keeps what the bot sent, as it stands after edits.

Telegram's flood limits are enforced only when asked (`enforce_limits`, off by default): at
most 30 messages a second overall, 1 a second per private chat and 20 a minute per group,
each count multiplied by an integer `scale` to keep long runs short. Only sends count
(`SENDING_METHODS`, what puts a new message in a chat): Telegram's published limits speak of
messages, so edits, button and inline answers and the other calls do not. A send beyond a
limit is answered 429 with an integer `parameters.retry_after`, the seconds until its window
has room (rounded up, at least 1, as Telegram gives them), and is not counted itself. Every
accepted send is kept in `accepted` and every 429 in `refused` (those injected with `fail`
too), with their times, so tests and benchmarks can compute rates and check that no window
held too many (`window_peaks`, `limit_violations`), limits enforced or not. `know` lets the
bot write to people who never wrote to it here (members of an earlier run).

    fake = FakeTelegram()
    await fake.start()                         # then TELEGRAM_BASE_URL=fake.base_url
    alice = Person(1, "Alice", "fr")
    await fake.deliver(fake.text(alice, "/start"))   # returned by getUpdates (or posted to
    fake.sent(alice.id)[-1].text                     # the webhook), then acknowledged
    fake.enforce_limits(scale=8)               # optional: Telegram's flood limits, x8
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

TOKEN = "4242:AAFakeTokenThatMustNeverBeLogged"
BOT_USER = {
    "id": 4242,
    "is_bot": True,
    "first_name": "Climat Koom",
    "username": "koom_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": True,
}
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WAIT = 10
"""Seconds a test waits for the bot before failing (never a measure of speed)."""
STARTUP = 60
"""Seconds a `koom run` process may take to start (imports, migrations) before its first
request, on a machine busy with other test processes."""
COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
# Parameters sent as plain strings; every other one is JSON (as python-telegram-bot sends).
RAW = frozenset(
    {
        "text",
        "caption",
        "callback_query_id",
        "inline_query_id",
        "url",
        "secret_token",
        "language_code",
        "next_offset",
        "parse_mode",
        "ip_address",
    }
)
SENDING_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVideo",
        "sendAnimation",
        "sendAudio",
        "sendVoice",
        "sendVideoNote",
        "sendSticker",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendPoll",
        "sendDice",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
    }
)
"""Methods that count against the flood limits (of these, the fake answers sendMessage,
sendPhoto and sendDocument; the others are refused 404 before any limit)."""
OVERALL, PRIVATE_CHAT, GROUP = "overall", "private_chat", "group"
INJECTED = "injected"
ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
}


class ApiError(Exception):
    """An error answer: Telegram's error code, description and parameters."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


class Flooded(ApiError):
    """A 429 for a send beyond one of the enforced limits (`limit` names which)."""

    def __init__(self, limit: str, retry_after: int) -> None:
        super().__init__(
            429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
        )
        self.limit = limit
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limits:
    """Telegram's flood limits, as (messages, seconds) windows, every count times `scale`."""

    scale: int = 1
    overall: tuple[int, float] = (30, 1.0)
    private_chat: tuple[int, float] = (1, 1.0)
    group: tuple[int, float] = (20, 60.0)

    def __post_init__(self) -> None:
        if isinstance(self.scale, bool) or not isinstance(self.scale, int) or self.scale < 1:
            raise ValueError("scale must be a positive integer")

    def window(self, kind: str) -> tuple[int, float]:
        """(messages, seconds) of OVERALL, PRIVATE_CHAT or GROUP, scaled."""
        count, per = {OVERALL: self.overall, PRIVATE_CHAT: self.private_chat, GROUP: self.group}[
            kind
        ]
        return count * self.scale, per


@dataclass(frozen=True)
class Accepted:
    """A send that counts against the limits: the message was stored."""

    at: float
    method: str
    chat_id: int
    is_group: bool
    wall: float = field(default_factory=time.time)
    """The same moment on the wall clock (`at` is time.monotonic()), to compare with times
    another process wrote down."""


@dataclass(frozen=True)
class Refused:
    """A 429 answered: `limit` is OVERALL, PRIVATE_CHAT, GROUP or INJECTED (by `fail`)."""

    at: float
    method: str
    chat_id: int | None
    retry_after: int
    limit: str


@dataclass
class Person:
    """A Telegram user the tests speak as."""

    id: int
    first_name: str
    language_code: str | None = "fr"

    def user(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    def chat(self) -> dict[str, Any]:
        return {"id": self.id, "type": "private", "first_name": self.first_name}


def group(chat_id: int, title: str, kind: str = "group") -> dict[str, Any]:
    """A group (or supergroup) chat object."""
    return {"id": chat_id, "type": kind, "title": title}


@dataclass
class Sent:
    """A message the bot sent, as it stands now (after edits)."""

    chat_id: int
    message_id: int
    text: str | None = None
    caption: str | None = None
    photo: bytes | None = None
    document: bytes | None = None
    reply_markup: dict[str, Any] | None = None
    edits: int = 0
    at: float = field(default_factory=time.monotonic)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """The inline buttons, row after row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    def button(self, label: str) -> dict[str, Any]:
        """The one inline button whose text is, or else contains, `label`."""
        exact = [b for b in self.buttons if b["text"] == label]
        found = exact or [b for b in self.buttons if label in b["text"]]
        if len(found) != 1:
            raise AssertionError(f"{len(found)} buttons match {label!r} in {self.buttons}")
        return found[0]


@dataclass
class Call:
    """One request the bot made, with its decoded parameters."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Fault:
    """An error to answer instead of the next matching call(s)."""

    method: str
    error: ApiError
    chat_id: int | None
    times: int


class FakeTelegram:
    """The fake server: start it, point the bot at `base_url`, inject updates, read `sent`."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.messages: dict[int, dict[int, Sent]] = {}
        self.blocked: set[int] = set()
        self.kicked: set[int] = set()
        self.statuses: dict[tuple[int, int], str] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.inline_answers: dict[str, dict[str, Any]] = {}
        self.webhook: dict[str, Any] | None = None
        self.on_message: Callable[[Sent], None] | None = None
        """Called with each message the bot sends (the benchmark times replies with it)."""
        self._chats: dict[int, dict[str, Any]] = {}
        self._pending: list[dict[str, Any]] = []
        self._again: set[int] = set()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._polls = 0
        self._served: dict[int, int] = {}
        self.limits: Limits | None = None
        """The enforced flood limits; None (the default) lets every send through."""
        self.accepted: list[Accepted] = []
        """Every send that counts against the limits (enforced or not), oldest first."""
        self.refused: list[Refused] = []
        """Every 429 answered, oldest first."""
        self._windows: dict[tuple[str, int | None], deque[float]] = {}
        self._changed = asyncio.Condition()
        self.files: dict[str, bytes] = {}
        """The files people sent (by file_id), served by getFile and the file path."""
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._balanced: Iterator[str] | None = None
        self.port = 0

    # --- server -----------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)  # a crowd at once
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        self._closing = True
        await self._notify()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """TELEGRAM_BASE_URL for the bot."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def _file(self, request: web.Request) -> web.Response:
        """A file's content, at the path getFile gave (the token checked as the API does)."""
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        file_id = request.match_info["path"].removeprefix("photos/")
        if file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id], content_type="application/octet-stream")

    async def _api_getFile(self, params: dict[str, Any]) -> Any:
        file_id = str(params.get("file_id", ""))
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(self.files[file_id]),
            "file_path": f"photos/{file_id}",
        }

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(ApiError(401, "Unauthorized"))
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append(Call(method, params))
        handler = getattr(self, f"_api_{method}", None)
        sending = method in SENDING_METHODS
        try:
            if handler is None:
                raise ApiError(404, "Not Found")
            self._fault(method, params)
            if sending:
                self._check_limits(params)
            result = await handler(params)  # the send handlers never await: nothing slips in
        except ApiError as error:
            if error.code == 429:
                self._refuse(method, params, error)
            await self._notify()
            return _error(error)
        if sending:
            self._count(method, params)
        await self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_until(self, predicate: Callable[[], bool], seconds: float = WAIT) -> None:
        """Wait until `predicate()` holds after some request (fails after `seconds`)."""
        async with asyncio.timeout(seconds), self._changed:
            await self._changed.wait_for(predicate)

    # --- faults and people ------------------------------------------------------------

    def fail(
        self,
        method: str,
        code: int,
        description: str,
        *,
        retry_after: int | None = None,
        chat_id: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls of `method` (to `chat_id`) with an error."""
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        self._faults.append(Fault(method, ApiError(code, description, parameters), chat_id, times))

    def _fault(self, method: str, params: dict[str, Any]) -> None:
        for fault in self._faults:
            if fault.method == method and fault.chat_id in (None, params.get("chat_id")):
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                raise fault.error

    # --- flood limits ---------------------------------------------------------------------

    def enforce_limits(self, scale: int = 1) -> Limits:
        """From now on, answer 429 to sends beyond Telegram's flood limits times `scale`."""
        self.limits = Limits(scale)
        self._windows.clear()
        return self.limits

    def _chat_kind(self, chat_id: int) -> str:
        chat = self._chats.get(chat_id)
        group = chat["type"] != "private" if chat is not None else chat_id < 0
        return GROUP if group else PRIVATE_CHAT

    def _window(self, kind: str, key: int | None, now: float) -> deque[float]:
        """The accepted send times of one window that still count at `now`."""
        assert self.limits is not None
        _, per = self.limits.window(kind)
        times = self._windows.setdefault((kind, key), deque())
        while times and times[0] <= now - per:
            times.popleft()
        return times

    def _check_limits(self, params: dict[str, Any]) -> None:
        """Refuse (429) a send that one more message would put over a limit."""
        if self.limits is None:
            return
        now = time.monotonic()
        chat_id = params.get("chat_id")
        windows: list[tuple[str, int | None]] = [(OVERALL, None)]
        if isinstance(chat_id, int):
            windows.insert(0, (self._chat_kind(chat_id), chat_id))
        for kind, key in windows:
            count, per = self.limits.window(kind)
            times = self._window(kind, key, now)
            if len(times) >= count:
                raise Flooded(kind, max(1, math.ceil(times[len(times) - count] + per - now)))

    def _count(self, method: str, params: dict[str, Any]) -> None:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int):
            return
        now = time.monotonic()
        kind = self._chat_kind(chat_id)
        self.accepted.append(Accepted(now, method, chat_id, kind == GROUP))
        if self.limits is not None:
            self._window(OVERALL, None, now).append(now)
            self._window(kind, chat_id, now).append(now)

    def _refuse(self, method: str, params: dict[str, Any], error: ApiError) -> None:
        chat_id = params.get("chat_id")
        retry_after = (error.parameters or {}).get("retry_after")
        self.refused.append(
            Refused(
                time.monotonic(),
                method,
                chat_id if isinstance(chat_id, int) else None,
                retry_after if isinstance(retry_after, int) else 0,
                error.limit if isinstance(error, Flooded) else INJECTED,
            )
        )

    def received(self, chat_ids: Iterable[int] | None = None) -> dict[int, int]:
        """Accepted sends per chat (of `chat_ids` only, when given)."""
        wanted = None if chat_ids is None else set(chat_ids)
        counts: dict[int, int] = {}
        for send in self.accepted:
            if wanted is None or send.chat_id in wanted:
                counts[send.chat_id] = counts.get(send.chat_id, 0) + 1
        return counts

    def window_peaks(self, limits: Limits | None = None) -> dict[str, int]:
        """The most accepted sends any window held: overall, in one private chat, in one
        group, each window as long as in `limits` (the enforced ones by default)."""
        limits = limits or self.limits or Limits()
        by_chat: dict[tuple[str, int | None], list[float]] = {(OVERALL, None): []}
        for send in self.accepted:
            by_chat[(OVERALL, None)].append(send.at)
            kind = GROUP if send.is_group else PRIVATE_CHAT
            by_chat.setdefault((kind, send.chat_id), []).append(send.at)
        peaks = {OVERALL: 0, PRIVATE_CHAT: 0, GROUP: 0}
        for (kind, _), times in by_chat.items():
            peaks[kind] = max(peaks[kind], window_peak(times, limits.window(kind)[1]))
        return peaks

    def limit_violations(self, limits: Limits | None = None) -> dict[str, tuple[int, int]]:
        """The windows that held more accepted sends than `limits` allow (the enforced ones
        by default): kind -> (peak, allowed). Empty when every window was kept."""
        limits = limits or self.limits or Limits()
        peaks = self.window_peaks(limits)
        allowed = {kind: limits.window(kind)[0] for kind in peaks}
        return {k: (peaks[k], allowed[k]) for k in peaks if peaks[k] > allowed[k]}

    def set_status(self, chat_id: int, user_id: int, status: str) -> None:
        """What getChatMember says of a user in a chat (default: member)."""
        self.statuses[(chat_id, user_id)] = status

    # --- what the bot sent ------------------------------------------------------------

    def sent(self, chat_id: int) -> list[Sent]:
        """The messages sent to a chat, oldest first."""
        return list(self.messages.get(chat_id, {}).values())

    def texts(self, chat_id: int) -> list[str]:
        """The texts (or captions) sent to a chat, oldest first."""
        return [m.text or m.caption or "" for m in self.sent(chat_id)]

    def calls_of(self, method: str) -> list[Call]:
        """Every call of one method, oldest first."""
        return [call for call in self.calls if call.method == method]

    # --- updates ----------------------------------------------------------------------

    def text(
        self,
        person: Person,
        text: str,
        chat: dict[str, Any] | None = None,
        reply_to: Sent | None = None,
    ) -> dict[str, Any]:
        """An update: `person` writes `text` (in their private chat unless `chat`)."""
        message = self._message(person, chat)
        message["text"] = text
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        if reply_to is not None:
            message["reply_to_message"] = self._message_json(reply_to)
        return {"update_id": next(self._ids), "message": message}

    def location(self, person: Person, latitude: float, longitude: float) -> dict[str, Any]:
        """An update: `person` shares a location in their private chat."""
        message = self._message(person, None)
        message["location"] = {"latitude": latitude, "longitude": longitude}
        return {"update_id": next(self._ids), "message": message}

    def photo(self, person: Person, data: bytes, caption: str = "") -> dict[str, Any]:
        """An update: `person` sends a photo (its bytes served by getFile), with a caption."""
        file_id = f"photo{next(self._ids)}"
        self.files[file_id] = data
        message = self._message(person, None)
        size = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(data)}
        message["photo"] = [{**size, "width": 90, "height": 90}]
        if caption:
            message["caption"] = caption
        return {"update_id": next(self._ids), "message": message}

    def attachment(self, person: Person, kind: str) -> dict[str, Any]:
        """An update: `person` sends a sticker, photo, document or contact (no text)."""
        file = {"file_id": f"f{kind}", "file_unique_id": f"u{kind}"}
        content: dict[str, Any] = {
            "sticker": {
                **file,
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            },
            "photo": [{**file, "width": 90, "height": 90}],
            "document": file,
            "contact": {"phone_number": "+33600000000", "first_name": "Zoe"},
        }
        message = self._message(person, None)
        message[kind] = content[kind]
        return {"update_id": next(self._ids), "message": message}

    def press(
        self, person: Person, message: Sent, label: str | None = None, *, data: str | None = None
    ) -> dict[str, Any]:
        """An update: `person` presses the button `label` of `message` (or sends any `data`)."""
        if data is None:
            assert label is not None
            data = message.button(label)["callback_data"]
        query = {
            "id": str(next(self._query_ids)),
            "from": person.user(),
            "chat_instance": f"ci{message.chat_id}",
            "message": self._message_json(message),
            "data": data,
        }
        return {"update_id": next(self._ids), "callback_query": query}

    def member_change(
        self, person: Person, chat: dict[str, Any], old: str, new: str
    ) -> dict[str, Any]:
        """An update: the bot's status in `chat` changed from `old` to `new`, by `person`."""
        self._chats[chat["id"]] = chat
        if new in ("left", "kicked"):
            (self.blocked if chat["type"] == "private" else self.kicked).add(chat["id"])
        else:
            self.blocked.discard(chat["id"])
            self.kicked.discard(chat["id"])
        change = {
            "chat": chat,
            "from": person.user(),
            "date": int(time.time()),
            "old_chat_member": _member(BOT_USER, old),
            "new_chat_member": _member(BOT_USER, new),
        }
        return {"update_id": next(self._ids), "my_chat_member": change}

    def migration(self, person: Person, old: dict[str, Any], new_id: int) -> dict[str, Any]:
        """An update: the group `old` became the supergroup `new_id`."""
        message = self._message(person, old)
        message["migrate_to_chat_id"] = new_id
        self._chats[new_id] = group(new_id, old.get("title", ""), "supergroup")
        return {"update_id": next(self._ids), "message": message}

    def inline(self, person: Person, query: str) -> dict[str, Any]:
        """An update: `person` types `@bot query` in some chat."""
        inline = {"id": str(next(self._query_ids)), "from": person.user(), "query": query}
        inline["offset"] = ""
        return {"update_id": next(self._ids), "inline_query": inline}

    def know(self, *chats: Person | dict[str, Any]) -> None:
        """Let the bot write to these people or groups without their writing first (as
        members known from an earlier run)."""
        for chat in chats:
            data = chat.chat() if isinstance(chat, Person) else chat
            self._chats[data["id"]] = data

    def _message(self, person: Person, chat: dict[str, Any] | None) -> dict[str, Any]:
        chat = chat or person.chat()
        self._chats[chat["id"]] = chat
        if chat["type"] == "private":
            self.blocked.discard(chat["id"])  # writing to a bot unblocks it
        return {
            "message_id": next(self._message_ids),
            "from": person.user(),
            "chat": chat,
            "date": int(time.time()),
        }

    async def push(self, update: dict[str, Any], *, again: bool = False) -> None:
        """Make an update available to getUpdates at once; `again` serves it even when the
        bot acknowledged it already (a redelivery, as after a crash)."""
        if again:
            self._again.add(update["update_id"])
        self._pending.append(update)
        self._pending.sort(key=lambda u: u["update_id"])
        await self._notify()

    async def deliver(self, update: dict[str, Any], *, again: bool = False) -> None:
        """Hand an update to the bot and wait until it took it: posted to the webhook and
        answered, or returned by getUpdates and acknowledged by the next poll."""
        if self.webhook is not None:
            status = await self.post_webhook(update)
            assert status == 200, f"the webhook answered {status}"
            return
        await self.push(update, again=again)
        update_id = update["update_id"]
        await self.wait_until(
            lambda: update_id in self._served and self._polls > self._served[update_id]
        )

    def balance(self, *urls: str) -> None:
        """Post webhooks to these URLs in turn, as a load balancer in front of instances."""
        self._balanced = itertools.cycle(urls)

    async def post_webhook(
        self, update: dict[str, Any], secret: str | None = None, within: float | None = None
    ) -> int:
        """Post an update to the webhook as Telegram does (to the next instance when balanced);
        the HTTP status, 504 when no answer came `within` seconds."""
        assert self.webhook is not None, "no webhook is set"
        if self._session is None:
            self._session = aiohttp.ClientSession()
        token = self.webhook.get("secret_token") if secret is None else secret
        headers = {SECRET_HEADER: token} if token else {}
        url = self.webhook["url"] if self._balanced is None else next(self._balanced)
        try:
            async with self._session.post(
                url, json=update, headers=headers, timeout=aiohttp.ClientTimeout(total=within)
            ) as resp:
                return resp.status
        except TimeoutError:
            return 504

    async def post_until_taken(
        self, update: dict[str, Any], within: float | None = None, tries: int = 10
    ) -> list[int]:
        """Post an update as Telegram does, again after a 5xx or a timeout (to the next
        instance when balanced) until it is answered 2xx; the statuses, in order."""
        statuses: list[int] = []
        while len(statuses) < tries and (not statuses or statuses[-1] >= 500):
            statuses.append(await self.post_webhook(update, within=within))
        return statuses

    # --- the Bot API ------------------------------------------------------------------

    async def _api_getMe(self, params: dict[str, Any]) -> Any:
        return BOT_USER

    async def _api_getUpdates(self, params: dict[str, Any]) -> Any:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._polls += 1  # the bot has queued what the previous poll returned
        poll = self._polls
        await self._notify()
        offset = params.get("offset")
        if offset is not None:
            self._pending = [
                u
                for u in self._pending
                if u["update_id"] >= offset or u["update_id"] in self._again
            ]
        limit = params.get("limit") or 100
        timeout = params.get("timeout") or 0
        if not self._pending and timeout and not self._closing:
            async with self._changed:
                with suppress(TimeoutError):  # the long poll's time is up
                    async with asyncio.timeout(timeout):
                        await self._changed.wait_for(
                            lambda: bool(self._pending) or self._closing or self._polls != poll
                        )
        if self._polls != poll:  # another poller came meanwhile, as Telegram answers then
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        batch = self._pending[:limit]
        for update in batch:
            self._served[update["update_id"]] = self._polls
            self._again.discard(update["update_id"])
        return batch

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _api_setWebhook(self, params: dict[str, Any]) -> Any:
        url = params.get("url") or ""
        if not url.startswith(("https://", "http://127.0.0.1")):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = params
        return True

    async def _api_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        url = self.webhook["url"] if self.webhook else ""
        return {"url": url, "has_custom_certificate": False, "pending_update_count": 0}

    async def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        chat_id = self._writable(params)
        text = params.get("text") or ""
        _check_text(text, 4096, "message text is empty", "message is too long")
        markup = _check_markup(params.get("reply_markup"), self._chats[chat_id])
        return self._store(Sent(chat_id, next(self._message_ids), text=text, reply_markup=markup))

    async def _api_sendPhoto(self, params: dict[str, Any]) -> Any:
        chat_id = self._writable(params)
        caption = params.get("caption") or ""
        if _utf16(caption) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        photo = params.get("photo")
        if not isinstance(photo, bytes) or not photo:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        markup = _check_markup(params.get("reply_markup"), self._chats[chat_id])
        sent = Sent(chat_id, next(self._message_ids), caption=caption or None, photo=photo)
        sent.reply_markup = markup
        return self._store(sent)

    async def _api_sendDocument(self, params: dict[str, Any]) -> Any:
        chat_id = self._writable(params)
        caption = params.get("caption") or ""
        if _utf16(caption) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        document = params.get("document")
        if not isinstance(document, bytes) or not document:
            raise ApiError(400, "Bad Request: there is no document in the request")
        markup = _check_markup(params.get("reply_markup"), self._chats[chat_id])
        sent = Sent(chat_id, next(self._message_ids), caption=caption or None, document=document)
        sent.reply_markup = markup
        return self._store(sent)

    async def _api_editMessageText(self, params: dict[str, Any]) -> Any:
        message = self._editable(params)
        if message.text is None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text = params.get("text") or ""
        _check_text(text, 4096, "message text is empty", "message is too long")
        markup = _check_inline(params.get("reply_markup"))
        if text == message.text and markup == message.reply_markup:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        message.text, message.reply_markup = text, markup
        message.edits += 1
        return self._message_json(message, edited=True)

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        message = self._editable(params)
        markup = _check_inline(params.get("reply_markup"))
        if markup == message.reply_markup:
            raise ApiError(400, "Bad Request: message is not modified")
        message.reply_markup = markup
        message.edits += 1
        return self._message_json(message, edited=True)

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        query_id = params.get("callback_query_id", "")
        if query_id in self.callback_answers:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        if len(params.get("text") or "") > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.callback_answers[query_id] = params
        return True

    async def _api_answerInlineQuery(self, params: dict[str, Any]) -> Any:
        query_id = params.get("inline_query_id", "")
        if query_id in self.inline_answers:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired")
        results = params.get("results") or []
        if len(results) > 50:
            raise ApiError(400, "Bad Request: RESULTS_TOO_MUCH")
        for result in results:
            if not 1 <= len(str(result.get("id", "")).encode()) <= 64:
                raise ApiError(400, "Bad Request: RESULT_ID_INVALID")
            if result.get("type") == "article" and not result.get("title"):
                raise ApiError(400, "Bad Request: RESULT_TITLE_EMPTY")
            content = result.get("input_message_content") or {}
            _check_text(
                content.get("message_text") or "", 4096, "MESSAGE_EMPTY", "MESSAGE_TOO_LONG"
            )
            _check_inline(result.get("reply_markup"))
        self.inline_answers[query_id] = params
        return True

    async def _api_getChatMember(self, params: dict[str, Any]) -> Any:
        chat_id, user_id = params.get("chat_id"), params.get("user_id")
        if chat_id not in self._chats:
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self.kicked:
            raise ApiError(403, "Forbidden: bot was kicked from the group chat")
        status = self.statuses.get((chat_id, user_id), "member")
        return _member({"id": user_id, "is_bot": False, "first_name": "Someone"}, status)

    async def _api_setMyCommands(self, params: dict[str, Any]) -> Any:
        commands = params.get("commands") or []
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands")
        for command in commands:
            if not COMMAND.fullmatch(command.get("command", "")):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: command description is empty or too long")
        self.commands[self._scope_key(params)] = commands
        return True

    async def _api_deleteMyCommands(self, params: dict[str, Any]) -> Any:
        self.commands.pop(self._scope_key(params), None)
        return True

    def _scope_key(self, params: dict[str, Any]) -> tuple[str, str]:
        """The scope and language of a set/deleteMyCommands call; a chat must be known."""
        scope = params.get("scope") or {"type": "default"}
        if scope.get("type") == "chat" and scope.get("chat_id") not in self._chats:
            raise ApiError(400, "Bad Request: chat not found")
        return json.dumps(scope, sort_keys=True), params.get("language_code") or ""

    async def _api_deleteMessage(self, params: dict[str, Any]) -> Any:
        message = self._editable(params)
        del self.messages[message.chat_id][message.message_id]
        return True

    # --- helpers ----------------------------------------------------------------------

    def menu(self, scope_type: str, language: str = "") -> list[str]:
        """The commands set for a scope type and language ("" for the default)."""
        for (scope, code), commands in self.commands.items():
            if json.loads(scope)["type"] == scope_type and code == language:
                return [c["command"] for c in commands]
        return []

    def chat_menu(self, chat_id: int, language: str = "") -> list[str] | None:
        """The commands set for one chat and language ("" for the default); None when the
        chat has no menu of its own (it sees its scope's)."""
        key = (json.dumps({"type": "chat", "chat_id": chat_id}, sort_keys=True), language)
        commands = self.commands.get(key)
        return None if commands is None else [c["command"] for c in commands]

    def _writable(self, params: dict[str, Any]) -> int:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int) or chat_id not in self._chats:
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.kicked:
            raise ApiError(403, "Forbidden: bot was kicked from the group chat")
        return chat_id

    def _editable(self, params: dict[str, Any]) -> Sent:
        chat_id = self._writable(params)
        message = self.messages.get(chat_id, {}).get(params.get("message_id", -1))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return message

    def _store(self, sent: Sent) -> dict[str, Any]:
        self.messages.setdefault(sent.chat_id, {})[sent.message_id] = sent
        if self.on_message is not None:
            self.on_message(sent)
        return self._message_json(sent)

    def _message_json(self, sent: Sent, edited: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": sent.message_id,
            "from": BOT_USER,
            "chat": self._chats.get(sent.chat_id) or _unknown_chat(sent.chat_id),
            "date": int(time.time()),
        }
        if sent.text is not None:
            data["text"] = sent.text
        if sent.photo is not None:
            data["photo"] = [
                {"file_id": f"p{sent.message_id}", "file_unique_id": f"u{sent.message_id}"}
                | {"width": 800, "height": 400, "file_size": len(sent.photo)}
            ]
        if sent.document is not None:
            data["document"] = {
                "file_id": f"d{sent.message_id}",
                "file_unique_id": f"u{sent.message_id}",
                "file_size": len(sent.document),
            }
        if sent.caption is not None:
            data["caption"] = sent.caption
        if sent.reply_markup is not None and "inline_keyboard" in sent.reply_markup:
            data["reply_markup"] = sent.reply_markup
        if edited:
            data["edit_date"] = int(time.time())
        return data


def window_peak(times: list[float], per: float) -> int:
    """The most times (sorted) that lie in one window (t - per, t]."""
    peak, first = 0, 0
    for last, t in enumerate(times):
        while times[first] <= t - per:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


def _unknown_chat(chat_id: int) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "Someone"}
    return group(chat_id, "A group")


def _member(user: dict[str, Any], status: str) -> dict[str, Any]:
    data: dict[str, Any] = {"user": user, "status": status}
    if status == "administrator":
        data |= ADMIN_RIGHTS
    elif status == "creator":
        data["is_anonymous"] = False
    elif status == "kicked":
        data["until_date"] = 0
    return data


def _error(error: ApiError) -> web.Response:
    body: dict[str, Any] = {
        "ok": False,
        "error_code": error.code,
        "description": error.description,
    }
    if error.parameters:
        body["parameters"] = error.parameters
    return web.json_response(body, status=error.code)


async def _params(request: web.Request) -> dict[str, Any]:
    """A request's parameters: query string, JSON body, form or multipart (files as bytes)."""
    raw: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        return raw | (body if isinstance(body, dict) else {})
    if request.can_read_body:
        form = await request.post()
        for name, value in form.items():
            raw[name] = value.file.read() if isinstance(value, web.FileField) else value
    params: dict[str, Any] = {}
    for name, value in raw.items():
        if isinstance(value, str) and name not in RAW:
            with suppress(ValueError):
                value = json.loads(value)
        params[name] = value
    return params


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _check_text(text: str, limit: int, empty: str, too_long: str) -> None:
    if not text.strip():
        raise ApiError(400, f"Bad Request: {empty}")
    if _utf16(text) > limit:
        raise ApiError(400, f"Bad Request: {too_long}")


def _check_inline(markup: Any) -> dict[str, Any] | None:
    """An inline keyboard (the only markup an edit takes), checked like Telegram does."""
    if markup is None:
        return None
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        raise ApiError(400, "Bad Request: inline keyboard expected")
    for row in markup["inline_keyboard"]:
        for button in row:
            if not button.get("text"):
                raise ApiError(400, "Bad Request: BUTTON_TEXT_EMPTY")
            actions = [k for k in button if k != "text"]
            if len(actions) != 1:
                raise ApiError(400, "Bad Request: BUTTON_TYPE_INVALID")
            if "callback_data" in button and not 1 <= len(button["callback_data"].encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            if "url" in button and not button["url"].startswith(("https://", "http://", "tg://")):
                raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
    return markup  # type: ignore[no-any-return]


def _check_markup(markup: Any, chat: dict[str, Any]) -> dict[str, Any] | None:
    if markup is None or "inline_keyboard" in markup:
        return _check_inline(markup)
    if "keyboard" in markup:
        for row in markup["keyboard"]:
            for button in row:
                if button.get("request_location") and chat["type"] != "private":
                    # Telegram only offers location buttons in private chats.
                    raise ApiError(400, "Bad Request: BUTTON_TYPE_INVALID")
        if len(markup.get("input_field_placeholder", "")) > 64:
            raise ApiError(400, "Bad Request: placeholder is too long")
    elif "force_reply" in markup:
        if len(markup.get("input_field_placeholder", "")) > 64:
            raise ApiError(400, "Bad Request: placeholder is too long")
    elif "remove_keyboard" not in markup:
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    return markup  # type: ignore[no-any-return]
