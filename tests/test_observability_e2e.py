"""`koom run` as an operator runs it, in a process of its own against the fake Bot API: one
log line per handled update at INFO (here as JSON), and /metrics, /healthz, /readyz on
KOOM_METRICS_PORT with plausible values after a pledge and a broadcast."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from pathlib import Path
from typing import IO, Any

import aiohttp

from tests.fake_telegram import TOKEN, FakeTelegram, Person, Sent
from tests.instances import koom_run
from tests.test_startup_errors import environment
from tests.test_web import free_port

ALICE = Person(5101, "Alice")
BROADCAST = "Rendez-vous samedi au marché"


async def koom(env: dict[str, str], cwd: Path, *args: str, log: IO[bytes] | None = None) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log or asyncio.subprocess.DEVNULL,
        stderr=log or asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(process.wait(), 60)


class Chat:
    """Alice's private chat with the bot running in another process."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake

    async def send(self, update: dict[str, Any]) -> None:
        before = len(self.fake.sent(ALICE.id))
        await self.fake.deliver(update)
        await self.fake.wait_until(lambda: len(self.fake.sent(ALICE.id)) > before, 30)

    async def say(self, text: str) -> None:
        await self.send(self.fake.text(ALICE, text))

    async def press(self, label: str) -> None:
        # An answer may come in several messages: wait for the one that shows the button.
        await self.fake.wait_until(lambda: self.showing(label) is not None, 30)
        message = self.showing(label)
        assert message is not None
        await self.send(self.fake.press(ALICE, message, label))

    def showing(self, label: str) -> Sent | None:
        for message in reversed(self.fake.sent(ALICE.id)):
            if any(label in button["text"] for button in message.buttons):
                return message
        return None


def series(page: str, name: str, **labels: str) -> float:
    """The value of one series of a Prometheus text page (summed over unnamed labels)."""
    total, found = 0.0, False
    for line in page.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total, found = total + float(match.group(3)), True
    assert found, f"no {name} {labels} in /metrics"
    return total


async def test_a_running_bot_logs_each_update_and_exposes_its_metrics(tmp_path: Path) -> None:
    fake = FakeTelegram()
    await fake.start()
    fake.know(ALICE)
    metrics_port = free_port()
    env = environment(
        tmp_path,
        TELEGRAM_TOKEN=TOKEN,
        TELEGRAM_BASE_URL=fake.base_url,
        KOOM_LOG_LEVEL="INFO",
        KOOM_LOG_FORMAT="json",
        KOOM_METRICS_PORT=str(metrics_port),
    )
    log_path = tmp_path / "koom.log"
    try:
        with log_path.open("wb") as log:
            assert await koom(env, tmp_path, "demo") == 0
            bot = await koom_run(env, tmp_path, log)
            try:
                base = f"http://127.0.0.1:{metrics_port}"
                async with aiohttp.ClientSession() as http:
                    await ready(http, base)
                    chat = Chat(fake)
                    await chat.say("/challenges")
                    await chat.press("Trier mes déchets")
                    await chat.press("🤝 Je m'engage")
                    await chat.press("✅ Oui, je m'engage")
                    await chat.press("Passer")
                    await chat.press("Pas de rappel")
                    fake.fail("sendMessage", 429, "Too Many Requests", retry_after=1)
                    broadcast = ["broadcast", "-a", "members", "-m", BROADCAST, "--yes"]
                    assert await koom(env, tmp_path, *broadcast, "--no-follow") == 0
                    await fake.wait_until(
                        lambda: any(BROADCAST in text for text in fake.texts(ALICE.id)), 30
                    )
                    page = await scrape(http, base)
                    async with http.get(f"{base}/healthz") as health:
                        assert health.status == 200
            finally:
                bot.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(bot.wait(), 30) == 0
    finally:
        await fake.close()

    assert series(page, "koom_updates_handled_total", platform="telegram") >= 6
    assert series(page, "koom_updates_handled_total", platform="telegram", kind="command") >= 1
    assert series(page, "koom_update_duration_seconds_count", platform="telegram") >= 6
    assert 0 < series(page, "koom_update_duration_seconds_sum", platform="telegram") < 60
    assert series(page, "koom_deliveries", status="sent") == 1
    assert series(page, "koom_deliveries", status="pending") == 0
    assert series(page, "koom_delivery_attempts_total", platform="telegram", outcome="sent") == 1
    assert series(page, "koom_rate_limited_total", platform="telegram") == 1
    assert series(page, "koom_scheduler_tick_duration_seconds_count") >= 4
    assert series(page, "koom_database_errors_total") == 0
    assert "# TYPE koom_broadcast_deliveries gauge" in page

    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    handled = [line for line in lines if line["message"].startswith("handled telegram")]
    assert len(handled) >= 6
    first = handled[0]
    assert (first["platform"], first["kind"], first["flow"]) == ("telegram", "command", "browse")
    assert first["level"] == "INFO" and isinstance(first["duration_ms"], float)
    assert {line["kind"] for line in handled} == {"command", "choice"}
    assert "Alice" not in log_path.read_text()  # no personal text, not even a name


async def ready(http: aiohttp.ClientSession, base: str) -> None:
    """Wait until the bot's /readyz says it takes traffic."""
    for _ in range(300):
        try:
            async with http.get(f"{base}/readyz") as answer:
                if answer.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the bot never became ready")


async def scrape(http: aiohttp.ClientSession, base: str) -> str:
    """/metrics once the delivery worker marked the broadcast sent."""
    for _ in range(100):
        async with http.get(f"{base}/metrics") as answer:
            assert answer.status == 200
            assert answer.headers["Content-Type"].startswith("text/plain")
            page = await answer.text()
        if 'koom_deliveries{status="sent"} 1.0' in page:
            return page
        await asyncio.sleep(0.1)
    raise AssertionError(f"the broadcast was never marked sent:\n{page}")
