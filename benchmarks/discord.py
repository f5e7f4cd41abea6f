"""Discord interactions: time to acknowledge and throughput of the bot, beside a minimal
discord.py bot that only defers, both against the fake Discord of the tests on loopback.

Each simulated member runs 10 interactions one after the other (the whole journey of a new
member: /start, language, /challenges, open the card, pledge, yes, no place, no reminder,
/mypledges, /checkin); the members run at once. The acknowledgement time runs from the
fake's INTERACTION_CREATE to the bot's first callback; the fake refuses callbacks after 3 s.
The fake and the simulated members run in a process of their own, so that the bot's event
loop is the bot's alone, as it would be in production. The minimal bot answers nothing, so
its members wait for nothing but the acknowledgement and send many more interactions per
second: its figures are discord.py's (and the fake's) under the heaviest load they can make.

Run: .venv/bin/python -m benchmarks.discord [--members 100]
Targets: acknowledgement p99 < 500 ms and within 2x of the minimal bot's; none left
unacknowledged. The last line is `key=value` pairs for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import discord

from bots.discord.app import INTENTS, DiscordAdapter, point_at
from core.app import load_demo, open_services
from core.settings import Settings
from tests.fake_discord import TOKEN, FakeDiscord, Interaction, user_payload

STEPS = 10
FIRST_MEMBER = 10_000


@dataclass
class Run:
    """What one bot did with every interaction of every member."""

    acks: list[float] = field(default_factory=list)
    replies: list[float] = field(default_factory=list)
    unacknowledged: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    """Members whose journey broke off (a reply without the expected button, a timeout)."""

    @property
    def interactions(self) -> int:
        return len(self.acks) + self.unacknowledged

    def add(self, record: Interaction, finished: float | None = None) -> None:
        if record.acked_at is None:
            self.unacknowledged += 1
            return
        self.acks.append(record.ack_seconds)
        if finished is not None:
            self.replies.append(finished - record.dispatched_at)


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank), in ms."""
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def button(fake: FakeDiscord, record: Interaction, prefix: str) -> tuple[dict[str, Any], str]:
    """The message and custom_id of the bot's button starting with `prefix`."""
    for message in fake.answers(record) + [fake.messages[i] for i in record.edited_ids]:
        for row in message["components"]:
            for component in row["components"]:
                if str(component.get("custom_id", "")).startswith(prefix):
                    return message, component["custom_id"]
    raise LookupError(prefix)


def has(fake: FakeDiscord, prefix: str) -> Callable[[Interaction], bool]:
    def check(record: Interaction) -> bool:
        try:
            button(fake, record, prefix)
        except LookupError:
            return False
        return True

    return check


def answered(record: Interaction) -> bool:
    return bool(record.message_ids)


async def journey(fake: FakeDiscord, run: Run, user_id: int, demo_id: int) -> None:
    """One member's ten interactions with the climat-koom bot."""
    user = user_payload(user_id, f"Member {user_id}")
    where = fake.dm(user_id)

    async def step(
        act: Callable[[], Awaitable[Interaction]], done: Callable[[Interaction], bool]
    ) -> Interaction:
        try:
            record = await act()
        except TimeoutError:
            run.unacknowledged += 1
            raise
        await fake.until(record, done)
        run.add(record, time.perf_counter())
        return record

    def press(record: Interaction, prefix: str) -> Callable[[], Awaitable[Interaction]]:
        message, custom_id = button(fake, record, prefix)
        return lambda: fake.press(user, where, message, custom_id)

    last = await step(lambda: fake.slash(user, where, "start"), has(fake, "start:lang:fr"))
    last = await step(press(last, "start:lang:fr"), has(fake, "browse:page:"))
    last = await step(lambda: fake.slash(user, where, "challenges"), has(fake, "browse:open:"))
    last = await step(press(last, f"browse:open:{demo_id}:"), has(fake, "pledge:go:"))
    last = await step(press(last, "pledge:go:"), has(fake, "pledge:yes:"))
    last = await step(press(last, "pledge:yes:"), has(fake, "pledge:loc_skip:"))
    last = await step(press(last, "pledge:loc_skip:"), has(fake, "pledge:remind:"))
    last = await step(press(last, f"pledge:remind:{demo_id}:none"), has(fake, "mine:list"))
    await step(lambda: fake.slash(user, where, "mypledges"), answered)
    slug = "trier-dechets-lyon"
    await step(lambda: fake.slash(user, where, "checkin", challenge=slug), answered)


def simulate(conn: Connection, members: int, demo_id: int | None) -> None:
    """The child process: the fake Discord, then the members once a bot is connected.

    Sends the fake's addresses, then the Run; keeps the fake up until told to stop.
    """
    asyncio.run(_simulate(conn, members, demo_id))


async def _simulate(conn: Connection, members: int, demo_id: int | None) -> None:
    fake = FakeDiscord()
    await fake.start()
    conn.send((fake.api_url, fake.gateway_url))
    await asyncio.to_thread(conn.recv)  # the bot has started
    run = Run()
    users = range(FIRST_MEMBER, FIRST_MEMBER + members)
    started = time.perf_counter()
    if demo_id is None:
        await asyncio.gather(*(minimal_journey(fake, run, user_id) for user_id in users))
    else:
        ended = await asyncio.gather(
            *(journey(fake, run, user_id, demo_id) for user_id in users), return_exceptions=True
        )
        run.failures = [repr(error) for error in ended if isinstance(error, BaseException)]
    run.seconds = time.perf_counter() - started
    conn.send(run)
    await asyncio.to_thread(conn.recv)  # the bot has stopped
    await fake.close()


async def minimal_journey(fake: FakeDiscord, run: Run, user_id: int) -> None:
    """The same kinds of interactions for the minimal bot: commands and button presses."""
    user, where = user_payload(user_id, f"Member {user_id}"), fake.dm(user_id)
    message = fake.bot_message(where.channel_id, "?", [_row("pledge:yes:1")])
    for index in range(STEPS):
        try:
            if index in (0, 2, 8, 9):
                run.add(await fake.slash(user, where, "challenges"))
            else:
                run.add(await fake.press(user, where, message, "pledge:yes:1"))
        except TimeoutError:
            run.unacknowledged += 1


def _row(custom_id: str) -> dict[str, Any]:
    return {
        "type": 1,
        "components": [{"type": 2, "style": 2, "label": "x", "custom_id": custom_id}],
    }


class MinimalBot(discord.Client):
    """The least a discord.py bot can do with an interaction: defer it."""

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer()


async def measure(members: int, folder: Path | None) -> Run:
    """Start the simulation, then a bot against it (climat-koom with a database folder, else
    the minimal bot); the members' Run once they are done."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    settings = services = None
    demo_id = None
    if folder is not None:
        settings = Settings(
            _env_file=None,
            DATABASE_URL=f"sqlite+aiosqlite:///{folder / 'koom.db'}",
            DISCORD_TOKEN=TOKEN,
        )
        services = await open_services(settings)
        demo_id = (await load_demo(services, replace=False)).id
    process = context.Process(target=simulate, args=(child, members, demo_id))
    process.start()
    api_url, gateway_url = await asyncio.to_thread(parent.recv)
    stop: Callable[[], Awaitable[None]]
    if services is not None and settings is not None:
        settings = settings.model_copy(
            update={"discord_api_base_url": api_url, "discord_gateway_url": gateway_url}
        )
        adapter = DiscordAdapter(services, settings)
        await adapter.start()
        stop = adapter.stop
    else:
        point_at(api_url, gateway_url)
        client = MinimalBot(intents=INTENTS)
        await client.login(TOKEN)
        connection = asyncio.create_task(client.connect())
        await client.wait_for("connect")

        async def stop() -> None:
            await client.close()
            await connection

    parent.send("started")
    try:
        run: Run = await asyncio.to_thread(parent.recv)
    finally:
        await stop()
        if services is not None:
            await services.db.dispose()
        parent.send("stopped")
        await asyncio.to_thread(process.join)
    return run


def report(name: str, run: Run) -> dict[str, float]:
    figures = {
        f"{name}_interactions_per_s": run.interactions / run.seconds if run.seconds else 0.0,
        f"{name}_ack_p50_ms": percentile(run.acks, 0.50) if run.acks else float("nan"),
        f"{name}_ack_p99_ms": percentile(run.acks, 0.99) if run.acks else float("nan"),
        f"{name}_unacknowledged": float(run.unacknowledged),
    }
    if run.replies:
        figures[f"{name}_reply_p50_ms"] = percentile(run.replies, 0.50)
        figures[f"{name}_reply_p99_ms"] = percentile(run.replies, 0.99)
    print(
        f"{name}: {run.interactions} interactions in {run.seconds:.2f} s "
        f"({figures[f'{name}_interactions_per_s']:.0f}/s); acknowledged in "
        f"p50 {figures[f'{name}_ack_p50_ms']:.1f} ms, p99 {figures[f'{name}_ack_p99_ms']:.1f} ms"
        + (
            f"; answered in p50 {figures[f'{name}_reply_p50_ms']:.1f} ms, "
            f"p99 {figures[f'{name}_reply_p99_ms']:.1f} ms"
            if run.replies
            else ""
        )
        + f"; {run.unacknowledged} unacknowledged (mean ack "
        f"{1000 * statistics.fmean(run.acks) if run.acks else float('nan'):.1f} ms)"
    )
    if run.failures:
        print(f"{name}: {len(run.failures)} journeys broke off, first: {run.failures[0]}")
    figures[f"{name}_journeys_broken"] = float(len(run.failures))
    return figures


async def main(members: int) -> None:
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        minimal = await measure(members, None)
        koom = await measure(members, Path(folder))
    figures = report("minimal", minimal) | report("koom", koom)
    ratio = figures["koom_ack_p99_ms"] / figures["minimal_ack_p99_ms"]
    met = (
        figures["koom_ack_p99_ms"] < 500
        and ratio <= 2
        and koom.unacknowledged == 0
        and not koom.failures
        and koom.interactions == members * STEPS
    )
    print(f"p99 ratio {ratio:.2f} (target <= 2), p99 < 500 ms: {'met' if met else 'NOT met'}")
    pairs = {**figures, "ack_p99_ratio": ratio, "members": members, "target_met": int(met)}
    print(
        " ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in pairs.items())
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100)
    asyncio.run(main(parser.parse_args().members))
