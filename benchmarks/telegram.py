"""The Telegram bot under load, beside a minimal python-telegram-bot echo bot, both polling the
fake Bot API of the tests on loopback.

Each simulated member sends its next update as soon as the bot has answered the previous one
(its first reply times it; the next update waits for all of its replies): the echo bot
gets text to echo; climat-koom gets a journey of 10
(/help, /challenges, open the card, pledge, confirm, skip the place, no reminder, /mypledges,
/checkin, /help) on a fresh SQLite database. Latency runs from the moment an update can be
fetched to the moment its reply reaches the server. Each bot runs in its own process, with
the same python-telegram-bot set-up (concurrent updates, rate limits off: the fake has none).

CPU time per update is the bot process's own (Linux /proc), counted over the load only.
With KOOM_BENCH_PROFILE=FILE, climat-koom's process runs under cProfile and writes its
statistics to FILE when it stops (read them with `python -m pstats FILE`).

Run: .venv/bin/python -m benchmarks.telegram [--members 200] [--updates 10]
Target: climat-koom's p99 <= 2x the echo bot's, no reply lost or duplicated.
The last line is `key=value` pairs for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fake_telegram import TOKEN, FakeTelegram, Person, Sent

JOURNEY: tuple[tuple[str, int], ...] = (
    ("/help", 1),
    ("/challenges", 1),
    ("press:Trier mes déchets", 1),
    ("press:🤝 Je m'engage", 1),
    ("press:✅ Oui, je m'engage", 2),  # the thanks, then where the person lives
    ("press:Passer", 1),
    ("press:Pas de rappel", 1),
    ("/mypledges", 1),
    ("/checkin", 1),
    ("/help", 1),
)
"""Each step and the number of messages that answer it."""
APOLOGY = "Désolé"
PROFILE_SWITCH = "KOOM_BENCH_PROFILE"
SETTLE_SECONDS = 1.0
"""How long to wait after the last reply for late or duplicated ones."""


@dataclass
class Outcome:
    """What one bot did under load."""

    name: str
    updates: int
    seconds: float
    latencies: list[float]
    replies: int
    apologies: int
    cpu_seconds: float
    per_member: dict[int, int] = field(default_factory=dict)
    expected_each: int = 0
    """The messages each member should get."""

    @property
    def cpu_ms_per_update(self) -> float:
        return self.cpu_seconds / self.updates * 1000

    @property
    def rate(self) -> float:
        return self.updates / self.seconds

    def percentile(self, p: int) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000


# --- the bots, each in a child process --------------------------------------------------


async def serve_echo(base_url: str) -> None:
    """The minimal echo bot, with the adapter's python-telegram-bot set-up."""
    from telegram import Update
    from telegram.ext import (
        AIORateLimiter,
        ApplicationBuilder,
        ContextTypes,
        MessageHandler,
        filters,
    )

    from bots.telegram.app import MAX_CONCURRENT_UPDATES

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(update.message.text)

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(base_url)
        .rate_limiter(unlimited())
        .concurrent_updates(MAX_CONCURRENT_UPDATES)
        .job_queue(None)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    assert isinstance(app.bot.rate_limiter, AIORateLimiter)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(timeout=30)
    await stopped()
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


async def serve_koom(base_url: str, database: Path) -> None:
    """climat-koom's Telegram adapter over a fresh database with the demo challenge."""
    from bots.telegram.app import TelegramAdapter
    from core.app import open_services
    from core.settings import Settings

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        TELEGRAM_TOKEN=TOKEN,
        TELEGRAM_BASE_URL=base_url,
        KOOM_DEFAULT_LOCALE="fr",
    )
    services = await open_services(settings, demo=True)
    adapter = TelegramAdapter(services, settings, rate_limiter=unlimited())
    await adapter.start()
    with profiled(os.environ.get(PROFILE_SWITCH)):  # the load only, not the start
        await stopped()
    await adapter.stop()
    await services.db.dispose()


@contextmanager
def profiled(path: str | None) -> Iterator[None]:
    """Run the block under cProfile and dump its statistics to `path` (no path: as is)."""
    if not path:
        yield
        return
    profile = cProfile.Profile(time.process_time)  # CPU time: waits for a core do not count
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        profile.dump_stats(path)


def unlimited() -> Any:
    """AIORateLimiter without flood limits (429s still waited out)."""
    from telegram.ext import AIORateLimiter

    return AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)


async def stopped() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


# --- the load, in this process ---------------------------------------------------------


async def measure(name: str, members: int, updates: int, folder: Path) -> Outcome:
    """Start the bot `name` in a child process, run the load against it, stop it."""
    fake = FakeTelegram()
    replies: dict[int, asyncio.Queue[Sent]] = defaultdict(asyncio.Queue)
    fake.on_message = lambda sent: replies[sent.chat_id].put_nowait(sent)
    await fake.start()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.telegram",
        "--serve",
        name,
        "--base-url",
        fake.base_url,
        "--database",
        str(folder / f"{name}.db"),
        env=os.environ | {"PYTHONPATH": str(Path.cwd())},
    )
    try:
        await fake.wait_until(lambda: bool(fake.calls_of("getUpdates")))
        people = [Person(10_000 + i, f"Member {i}", "fr") for i in range(members)]
        choose = echo_update if name == "echo" else journey_update
        expected = echo_replies if name == "echo" else journey_replies
        latencies: list[float] = []
        cpu_before = cpu_seconds(child.pid)
        started = time.perf_counter()
        await asyncio.gather(
            *(member(fake, p, updates, choose, expected, replies[p.id], latencies) for p in people)
        )
        seconds = time.perf_counter() - started
        await asyncio.sleep(SETTLE_SECONDS)
        cpu = cpu_seconds(child.pid) - cpu_before
    finally:
        child.send_signal(signal.SIGTERM)
        await child.wait()
        await fake.close()
    per_member = {p.id: len(fake.sent(p.id)) for p in people}
    texts = [m.text or "" for p in people for m in fake.sent(p.id)]
    return Outcome(
        name,
        members * updates,
        seconds,
        latencies,
        sum(per_member.values()),
        sum(APOLOGY in text for text in texts),
        cpu,
        per_member,
        sum(expected(step) for step in range(updates)),
    )


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from Linux's /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def member(
    fake: FakeTelegram,
    person: Person,
    updates: int,
    choose: Callable[[FakeTelegram, Person, int], dict[str, Any]],
    expected: Callable[[int], int],
    replies: asyncio.Queue[Sent],
    latencies: list[float],
) -> None:
    """Send `updates` updates, each once the previous one was answered in full; the
    latency is to the first reply, the one the person sees."""
    for step in range(updates):
        update = choose(fake, person, step)
        sent_at = time.perf_counter()
        await fake.push(update)
        await asyncio.wait_for(replies.get(), timeout=120)
        latencies.append(time.perf_counter() - sent_at)
        for _ in range(expected(step) - 1):
            await asyncio.wait_for(replies.get(), timeout=120)


def echo_replies(step: int) -> int:
    return 1


def journey_replies(step: int) -> int:
    return JOURNEY[step % len(JOURNEY)][1]


def echo_update(fake: FakeTelegram, person: Person, step: int) -> dict[str, Any]:
    return fake.text(person, f"hello {step}")


def journey_update(fake: FakeTelegram, person: Person, step: int) -> dict[str, Any]:
    action = JOURNEY[step % len(JOURNEY)][0]
    if action.startswith("press:"):
        label = action.removeprefix("press:")
        return fake.press(person, fake.sent(person.id)[-1], label)
    return fake.text(person, action)


def report(echo: Outcome, koom: Outcome, members: int, updates: int) -> None:
    expected = members * updates
    for outcome in (echo, koom):
        print(
            f"{outcome.name}: {outcome.rate:,.0f} updates/s, "
            f"p50 {outcome.percentile(50):.1f} ms, p99 {outcome.percentile(99):.1f} ms, "
            f"{outcome.replies} replies for {expected} updates, {outcome.apologies} apologies, "
            f"{outcome.cpu_ms_per_update:.1f} ms of CPU per update"
        )
    ratio = koom.percentile(99) / echo.percentile(99)
    lost = sum(max(0, koom.expected_each - n) for n in koom.per_member.values())
    duplicated = sum(max(0, n - koom.expected_each) for n in koom.per_member.values())
    print(f"p99 ratio (climat-koom / echo): {ratio:.2f} (target <= 2)")
    print(
        f"echo_updates_per_s={echo.rate:.0f} echo_p50_ms={echo.percentile(50):.1f} "
        f"echo_p99_ms={echo.percentile(99):.1f} koom_updates_per_s={koom.rate:.0f} "
        f"koom_p50_ms={koom.percentile(50):.1f} koom_p99_ms={koom.percentile(99):.1f} "
        f"p99_ratio={ratio:.2f} echo_cpu_ms={echo.cpu_ms_per_update:.2f} "
        f"koom_cpu_ms={koom.cpu_ms_per_update:.2f} lost={lost} duplicated={duplicated} "
        f"apologies={koom.apologies}"
    )


async def main(members: int, updates: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        echo = await measure("echo", members, updates, Path(tmp))
        koom = await measure("koom", members, updates, Path(tmp))
    report(echo, koom, members, updates)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--serve", choices=("echo", "koom"), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve == "echo":
        asyncio.run(serve_echo(args.base_url))
    elif args.serve == "koom":
        asyncio.run(serve_koom(args.base_url, args.database))
    else:
        asyncio.run(main(args.members, args.updates))
