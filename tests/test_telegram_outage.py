"""A Telegram outage while long polling: one warning when it starts, one when updates flow
again, and no traceback per failed poll."""

from __future__ import annotations

import logging

import pytest

from tests.fake_telegram import FakeTelegram, Person
from tests.test_telegram_e2e import Bot, bot, fake  # noqa: F401 - fixtures

ALICE = Person(5102, "Alice")


async def test_a_telegram_outage_is_one_warning_not_a_traceback_per_poll(
    bot: Bot,  # noqa: F811
    fake: FakeTelegram,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="bots")
    polls = len(fake.calls_of("getUpdates"))
    fake.fail("getUpdates", 502, "Bad Gateway", times=3)
    await fake.wait_until(lambda: len(fake.calls_of("getUpdates")) >= polls + 4, 20)
    assert await bot.say(ALICE, "/help")  # polling works again: the update is answered

    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split(" (")[0] for r in warnings] == [
        "Telegram cannot be reached",
        "Telegram reachable again after 3 failed polls",
    ]
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
