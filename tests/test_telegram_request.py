"""The Bot API calls over aiohttp: parameters and files reach the server, a server that does
not answer in time is a TimedOut, one that cannot be reached a NetworkError."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from telegram import Bot, InputFile
from telegram.error import NetworkError, TimedOut

from bots.telegram.request import AiohttpRequest
from tests.fake_telegram import TOKEN, FakeTelegram, Person

ALICE = Person(1, "Alice", "fr")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    server.know(ALICE)
    await server.start()
    yield server
    await server.close()


async def test_parameters_and_files_reach_the_bot_api(fake: FakeTelegram) -> None:
    bot = Bot(TOKEN, base_url=fake.base_url, request=AiohttpRequest())
    async with bot:
        sent = await bot.send_message(ALICE.id, "Bonjour é ✅", disable_notification=True)
        photo = InputFile(b"\x89PNG picture", filename="map.png")
        await bot.send_photo(ALICE.id, photo, caption="La carte")
    assert sent.text == "Bonjour é ✅" and sent.chat.id == ALICE.id
    [text, picture] = fake.sent(ALICE.id)
    assert text.text == "Bonjour é ✅"
    assert picture.photo == b"\x89PNG picture" and picture.caption == "La carte"
    assert fake.calls_of("sendMessage")[0].params["disable_notification"] is True


async def test_the_session_opens_again_after_a_shutdown(fake: FakeTelegram) -> None:
    request = AiohttpRequest()
    bot = Bot(TOKEN, base_url=fake.base_url, request=request)
    async with bot:
        await bot.send_message(ALICE.id, "un")
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post(f"{fake.base_url}{TOKEN}/getMe")
    async with bot:
        await bot.send_message(ALICE.id, "deux")
    assert [m.text for m in fake.sent(ALICE.id)] == ["un", "deux"]


async def test_a_server_that_does_not_answer_in_time_is_a_timeout() -> None:
    async def silent(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_post("/{path:.*}", silent)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await request.post(f"http://127.0.0.1:{port}/close", read_timeout=0.2)
    finally:
        await request.shutdown()
        await runner.cleanup()


async def test_a_server_that_cannot_be_reached_is_a_network_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await request.post(f"http://127.0.0.1:{port}/getMe")
        assert not isinstance(raised.value, TimedOut)
    finally:
        await request.shutdown()
