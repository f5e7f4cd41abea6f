"""Telegram long polling serves one instance: a second one started on the same database says
so once and does not poll, instead of the two taking updates from each other in a loop of 409s;
it takes over once the first one is gone."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bots.telegram import app
from bots.telegram.app import TelegramAdapter
from core.app import load_demo
from core.i18n import Translator
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
