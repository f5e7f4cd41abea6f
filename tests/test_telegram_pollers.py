"""Telegram long polling serves one instance: a second one started on the same database says
so once and does not poll, instead of the two taking updates from each other in a loop of 409s;
it takes over once the first one is gone, at once when that one was killed on this host."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bots.telegram import app
from bots.telegram.app import TelegramAdapter
from core.app import load_demo
from core.i18n import Translator
from core.roles import hold_role
from core.services import Services
from core.settings import Settings
from tests.fake_telegram import FakeTelegram, Person
from tests.test_telegram_e2e import telegram_settings

ALICE = Person(7001, "Alice", "fr")


async def test_a_second_long_poller_says_so_and_never_polls(
    services: Services,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app, "POLLER_LEASE", 1.0)
    monkeypatch.setattr(app, "POLLER_RENEW", 0.25)
    await load_demo(services, replace=False)
    fake = FakeTelegram()
    await fake.start()
    settings = telegram_settings(settings, fake)
    first = TelegramAdapter(services, settings, webhook_listen="127.0.0.1")
    second = TelegramAdapter(services, settings, webhook_listen="127.0.0.1")
    try:
        await first.start()
        await fake.wait_until(lambda: len(fake.calls_of("getUpdates")) >= 1)
        await second.start()
        for _ in range(100):
            if second.told_second_poller:
                break
            await asyncio.sleep(0.05)
        assert second.told_second_poller
        assert second.application.updater is not None
        assert not second.application.updater.running
        polls = len(fake.calls_of("getUpdates"))

        await fake.push(fake.text(ALICE, "/help"))
        await fake.wait_until(lambda: any("Voici" in t for t in fake.texts(ALICE.id)), seconds=30)
        assert first.application.updater is not None and first.application.updater.running
        await asyncio.sleep(1.0)
        assert len(fake.calls_of("getUpdates")) <= polls + 3  # the first one alone, no loop
    finally:
        await second.stop()
        await first.stop()
        await fake.close()
    told = Translator(settings.default_locale)("telegram.second_poller")
    assert [r.getMessage() for r in caplog.records].count(told) == 1
    assert caplog.records  # and it was an error, in the operator's language
    assert any(r.levelno == logging.ERROR and r.getMessage() == told for r in caplog.records)


async def test_the_poller_role_is_taken_over_after_a_poller_stops(
    services: Services, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app, "POLLER_LEASE", 1.0)
    monkeypatch.setattr(app, "POLLER_RENEW", 0.25)
    await load_demo(services, replace=False)
    fake = FakeTelegram()
    await fake.start()
    settings = telegram_settings(settings, fake)
    first = TelegramAdapter(services, settings, webhook_listen="127.0.0.1")
    second = TelegramAdapter(services, settings, webhook_listen="127.0.0.1")
    try:
        await first.start()
        await second.start()
        await first.stop()
        assert second.application.updater is not None
        for _ in range(100):
            if second.application.updater.running:
                break
            await asyncio.sleep(0.05)
        assert second.application.updater.running and not second.told_second_poller
        await fake.push(fake.text(ALICE, "/help"))
        await fake.wait_until(lambda: any("Voici" in t for t in fake.texts(ALICE.id)), seconds=30)
    finally:
        await second.stop()
        await fake.close()


async def test_a_second_poller_that_said_so_takes_over_when_the_first_stops_much_later(
    services: Services, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app, "POLLER_LEASE", 1.0)
    monkeypatch.setattr(app, "POLLER_RENEW", 0.25)
    await load_demo(services, replace=False)
    fake = FakeTelegram()
    await fake.start()
    settings = telegram_settings(settings, fake)
    first = TelegramAdapter(services, settings, webhook_listen="127.0.0.1")
    second = TelegramAdapter(services, settings, webhook_listen="127.0.0.1")
    try:
        await first.start()
        await second.start()
        await eventually(lambda: second.told_second_poller)
        await asyncio.sleep(1.0)  # well past the patience of a second poller (1.5 leases)
        await first.stop()  # an hour later, say: the bot must not go deaf
        assert second.application.updater is not None
        await eventually(
            lambda: second.application.updater is not None and second.application.updater.running
        )
        await fake.push(fake.text(ALICE, "/help"))
        await fake.wait_until(lambda: any("Voici" in t for t in fake.texts(ALICE.id)), seconds=30)
    finally:
        await second.stop()
        await fake.close()


async def eventually(predicate: Callable[[], bool], seconds: float = 30.0) -> None:
    """Wait until `predicate()` holds (checked every 50 ms); fails after `seconds`."""
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def gone_process() -> str:
    """The instance id a process of this host had: a poller killed with SIGKILL."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], **OUT)
    return f"{socket.gethostname()[:40]}:{int(child.stdout)}:deadbeef:0000"


OUT: dict[str, Any] = {"capture_output": True, "text": True, "check": True}


async def test_a_restart_after_a_kill_polls_at_once_without_waiting_out_the_lease(
    services: Services, settings: Settings
) -> None:
    await load_demo(services, replace=False)
    now = services.clock.now()
    lease = timedelta(seconds=app.POLLER_LEASE)
    assert await services.db.transaction(hold_role, app.POLLER_ROLE, gone_process(), now, lease)
    fake = FakeTelegram()
    await fake.start()
    adapter = TelegramAdapter(services, telegram_settings(settings, fake))
    try:
        await adapter.start()  # the killed poller's lease (20 s) still runs
        assert adapter.application.updater is not None and adapter.application.updater.running
        await fake.push(fake.text(ALICE, "/help"))
        await fake.wait_until(lambda: any("Voici" in t for t in fake.texts(ALICE.id)), seconds=30)
    finally:
        await adapter.stop()
        await fake.close()


@pytest.mark.parametrize(
    "holder",
    [
        pytest.param(lambda: f"{socket.gethostname()[:40]}:{os.getppid()}:0:0", id="alive-here"),
        pytest.param(lambda: "elsewhere:1:deadbeef:0000", id="other-host"),
    ],
)
async def test_a_role_held_by_a_live_or_unknown_process_waits_for_its_lease(
    services: Services, holder: Any
) -> None:
    now, lease = services.clock.now(), timedelta(seconds=20)
    held_by = holder()
    assert await services.db.transaction(hold_role, app.POLLER_ROLE, held_by, now, lease)
    assert not await services.db.transaction(hold_role, app.POLLER_ROLE, "me:1:2:3", now, lease)
    later = now + lease
    assert await services.db.transaction(hold_role, app.POLLER_ROLE, "me:1:2:3", later, lease)
