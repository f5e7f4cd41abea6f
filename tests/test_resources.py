"""A long-running process: the open-file limit raised at start, loop errors and failing web
requests logged at most once a second per kind, with the count of those left out."""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bots.resources import Throttle, ThrottledLoopErrors, raise_open_file_limit
from bots.web import create_app
from bots.web.app import ERROR_LOG
from core.services import Services
from tests.factories import open_challenge


def test_the_open_file_soft_limit_is_raised_to_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(256, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        raised = raise_open_file_limit()
        expected = 65536 if hard == resource.RLIM_INFINITY else hard
        assert raised == expected == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_accept_errors_are_logged_once_a_second(caplog: pytest.LogCaptureFixture) -> None:
    """Out of files, every waiting connection fails accept() and each failure was logged
    with its traceback (65 MB of log in 30 s)."""
    time = FakeTime()
    handler = ThrottledLoopErrors(Throttle(1.0, time))
    loop = asyncio.get_running_loop()
    context: dict[str, Any] = {
        "message": "socket.accept() out of system resource",
        "exception": OSError(24, "Too many open files"),
    }
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        for _ in range(500):
            handler(loop, context)
            time.now += 0.004  # 500 in 2 s
        handler(loop, {"message": "another kind"})
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3
    assert messages[0] == "socket.accept() out of system resource"
    assert messages[1] == "socket.accept() out of system resource (249 more not logged)"
    assert messages[2] == "another kind"


async def test_failing_web_requests_are_logged_once_a_second(
    services: Services, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    await open_challenge(services)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(services.challenges, "list_open", broken)
    app = create_app(services)
    app[ERROR_LOG] = Throttle(1.0, FakeTime())  # time stands still: one second never ends
    async with TestClient(TestServer(app)) as client:
        with caplog.at_level(logging.ERROR, logger="bots.web.app"):
            for _ in range(50):
                assert (await client.get("/")).status == 500
    assert len([r for r in caplog.records if r.name == "bots.web.app"]) == 1
