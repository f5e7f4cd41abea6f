"""A broadcast to 10,000 members under Telegram's flood limits, while one member chats.

`koom run` runs in a process of its own (the real Telegram adapter, delivery worker and
scheduler) against the fake Bot API of the tests on loopback, which enforces Telegram's limits
(30 messages/s overall, 1/s per private chat, 20/min per group) times `--scale` and answers
429 beyond them. The worker's pacer gets the same limits times the same scale (its module
constant is swapped in the child before `koom run` starts: nothing else changes), so a run
takes a minute or so instead of seven at the real limits. The broadcast is confirmed in the
database before the bot starts; the scheduler's sweep launches it. Meanwhile one member sends
/help every `--chat-every` seconds; its latency runs from the moment the update can be
fetched to the reply. The run is made twice: once clean, once with the bot killed (SIGKILL)
when half the members have the message, then started again. Also reported: the time from
each send (as the fake got it) to its row marked sent, which is what a kill repeats.

With `--instances 1,2` the runs are made for each number of `koom run` processes: one on a
SQLite file as above, several on a fresh PostgreSQL database (`--postgres`) sharing Telegram's
limits in Redis (`--redis`); the first instance long-polls and answers the chat. The killed run
then kills the last instance for good: the others take over its leases
(KOOM_DELIVERY_LEASE_SECONDS=LEASE, at once on this host). They are paused (SIGSTOP) for the
half second it takes to count the dead one's sends in flight, a pause the rate leaves out.

A run that stalls (TIMEOUT) or whose instance dies says why, with the end of each instance's
log, and the other runs still go. `--profile DIR` runs each instance under cProfile and saves
its stats to DIR (one file per instance, written when it is stopped).

Run: .venv/bin/python -m benchmarks.delivery [--members 10000] [--scale 8] [--instances 1,2]
    [--profile DIR]
Targets: >= 0.93 of the enforced overall limit (replies included), no duplicate, no loss,
chat replies p99 < 1 s. The last lines (one per number of instances, all at the end) are
`key=value` pairs; `targets=met|missed` says whether a run met them all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import itertools
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from sqlalchemy import func, select

from core.db.database import Database
from core.db.migrate import upgrade
from core.db.tables import deliveries
from core.drafts import ChallengeDraft
from core.identity import AccountRef, Platform
from core.models import ChallengeStatus
from core.pacing import BULK_SHARE, TOLERANCE
from core.services import Services
from core.services.broadcasts import Audience
from core.settings import Settings
from tests.factories import add_members
from tests.fake_telegram import TOKEN, FakeTelegram, Person, Sent
from tests.instances import fresh_database, kill, koom_env

FIRST_ID = 100_000
CHATTER = Person(42, "Chatty", "fr")
TEXT = "Grande marche pour le climat samedi à 14 h, place Bellecour : venez nombreux !"
POLL = 0.5
TIMEOUT = 600.0
"""Seconds allowed to each phase before the run is given up."""
SETTLE = 2.0
"""Seconds to wait after the last row was marked, for late or repeated sends."""
LEASE = 10
TARGET_SHARE = 0.93
"""Of the enforced overall limit, replies included."""
TARGET_P99_MS = 1000.0
PROFILE_ENV = "KOOM_BENCH_PROFILE"
"""Set in a child's environment: `koom run` runs under cProfile, its stats saved to that file."""
"""KOOM_DELIVERY_LEASE_SECONDS of the instances: how long a killed one's claims wait."""


@dataclass(frozen=True)
class Options:
    """What every run of one benchmark shares."""

    members: int
    scale: int
    every: float
    """Seconds between two /help of the member who chats."""
    postgres: str
    """The server on which runs of several instances make their database."""
    redis: str
    profile: Path | None = None
    """A folder: each instance saves its cProfile stats there (`KOOM_BENCH_PROFILE`)."""


class Stalled(Exception):
    """A phase of a run did not end in time, or an instance died on its own."""


@dataclass
class Run:
    """What one run measured."""

    members: int
    scale: int
    killed: bool
    instances: int = 1
    sends: list[float] = field(default_factory=list)
    """Accepted broadcast sends' times."""
    total_sends: int = 0
    """Every accepted send (the chat's replies too) from the first broadcast send to the last."""
    per_member: Counter[int] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    chats: list[tuple[float, float | None]] = field(default_factory=list)
    """(monotonic time of each /help, seconds to its reply or None when unanswered)."""
    down: tuple[float, float] | None = None
    """From the kill to the restarted bot's first poll (monotonic)."""
    mark_lags: list[float] = field(default_factory=list)
    """Seconds from each first send (as the fake received it) to its row marked sent."""
    statuses: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    downtime: float = 0.0
    received_at_kill: int = 0
    violations: dict[str, tuple[int, int]] = field(default_factory=dict)
    failure: str | None = None
    """Why the run is not to be trusted although it ended (an instance died on its own)."""

    @property
    def limit(self) -> int:
        return 30 * self.scale

    @property
    def seconds(self) -> float:
        """From the first broadcast send to the last, less the time the bot was down."""
        return max(self.sends[-1] - self.sends[0] - self.downtime, 1e-9)

    @property
    def rate(self) -> float:
        return (len(self.sends) - 1) / self.seconds

    @property
    def total_rate(self) -> float:
        """Every send, replies included, per second of the broadcast."""
        return (self.total_sends - 1) / self.seconds

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.per_member.values() if n > 1)

    @property
    def lost(self) -> int:
        return self.members - len(self.per_member)

    @property
    def latencies(self) -> list[float]:
        """The chat's reply times, but for the /help sent while the bot was down."""
        return [s for t, s in self.chats if s is not None and not self._while_down(t, s)]

    @property
    def unanswered(self) -> int:
        return sum(1 for t, s in self.chats if s is None and not self._while_down(t, 10.0))

    def _while_down(self, t: float, seconds: float) -> bool:
        return self.down is not None and t < self.down[1] and t + seconds > self.down[0]

    def latency_ms(self, p: int) -> float:
        return _percentile(self.latencies, p) * 1000

    def mark_lag_ms(self, p: int) -> float:
        return _percentile(self.mark_lags, p) * 1000


def _percentile(values: list[float], p: int) -> float:
    if len(values) < 2:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


# --- the bot, in a child process --------------------------------------------------------


def serve(scale: int) -> None:
    """`koom run`, with the delivery worker paced to Telegram's limits times `scale`."""
    from core.delivery import worker
    from core.pacing import TELEGRAM_LIMITS, Limit, Limits

    def scaled(limit: Limit) -> Limit:
        return Limit(limit.count * scale, limit.per)

    limits = Limits(
        overall=scaled(TELEGRAM_LIMITS.overall),
        private_chat=scaled(TELEGRAM_LIMITS.private_chat),
        group=scaled(TELEGRAM_LIMITS.group),
    )
    worker.LIMITS = {**worker.LIMITS, Platform.TELEGRAM: limits}
    from bots.telegram import app  # its pacer, shared with the worker, counts the replies
    from core import shared_budget  # the budget of several instances

    app.TELEGRAM_LIMITS = limits
    shared_budget.TELEGRAM_LIMITS = limits
    sys.argv = ["koom", "run"]
    from bots.cli import main

    profile_to = os.environ.get(PROFILE_ENV)
    if not profile_to:
        main()
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        main()
    finally:  # a SIGTERM stops `koom run` cleanly; a SIGKILL leaves no profile
        profiler.disable()
        profiler.dump_stats(profile_to)


async def start_bot(
    fake: FakeTelegram, url: str, options: Options, folder: Path, log: IO[bytes], name: str
) -> asyncio.subprocess.Process:
    env = koom_env(
        url,
        TELEGRAM_TOKEN=TOKEN,
        TELEGRAM_BASE_URL=fake.base_url,
        KOOM_DELIVERY_LEASE_SECONDS=str(LEASE),
    )
    if not url.startswith("sqlite"):
        env["KOOM_REDIS_URL"] = options.redis
    if options.profile is not None:
        options.profile.mkdir(parents=True, exist_ok=True)
        env[PROFILE_ENV] = str((options.profile / f"{name}.prof").resolve())
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.delivery",
        "--serve",
        "--scale",
        str(options.scale),
        cwd=folder,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )


# --- the data ---------------------------------------------------------------------------


async def prepare(url: str, people: list[Person]) -> int:
    """A challenge, one member per person with a Telegram account, and a broadcast to every
    member confirmed for now; the broadcast's id."""
    db = Database(url)
    await upgrade(db)
    services = Services(db=db, settings=Settings(_env_file=None, DATABASE_URL=url))  # type: ignore[call-arg]
    challenge = await services.challenges.create(
        ChallengeDraft(
            slug="marche-climat",
            title="Marche pour le climat",
            action="marcher pour le climat",
            goal=10_000,
            deadline=datetime.now(UTC) + timedelta(days=30),
            status=ChallengeStatus.OPEN,
        )
    )
    await add_members(db, people)
    # The member who chats is one too, whose news are off: without this, a /help handled
    # before the sweep launches the broadcast made them a member who accepts news, one row
    # more (10,001 for 10,000) and a broadcast message taken for a reply.
    await add_members(db, [CHATTER])
    chatter = await services.members.find(AccountRef(Platform.TELEGRAM, str(CHATTER.id)))
    assert chatter is not None
    await services.members.update(chatter.id, news_opt_out=True)
    draft = await services.broadcasts.create(None, {Audience.MEMBERS}, TEXT, challenge.id)
    await services.broadcasts.confirm(draft.id)
    await db.dispose()
    return draft.id


async def sent_at(db: Database, broadcast_id: int) -> dict[int, float]:
    """chat id -> when its row was marked sent (wall clock seconds)."""
    async with db.read() as conn:
        rows = await conn.execute(
            select(deliveries.c.chat_id, deliveries.c.sent_at).where(
                deliveries.c.broadcast_id == broadcast_id, deliveries.c.sent_at.is_not(None)
            )
        )
        return {int(r.chat_id): r.sent_at.timestamp() for r in rows}


async def rows_by_status(db: Database, broadcast_id: int) -> Counter[str]:
    """The broadcast's delivery rows by status: every row, not one per chat."""
    async with db.read() as conn:
        rows = await conn.execute(
            select(deliveries.c.status, func.count().label("n"))
            .where(deliveries.c.broadcast_id == broadcast_id)
            .group_by(deliveries.c.status)
        )
        return Counter({r.status: r.n for r in rows})


async def pending(db: Database, broadcast_id: int) -> int:
    async with db.read() as conn:
        return (
            await conn.execute(
                select(func.count()).where(
                    deliveries.c.broadcast_id == broadcast_id, deliveries.c.status == "pending"
                )
            )
        ).scalar_one()


# --- the member who chats ---------------------------------------------------------------


async def chat(fake: FakeTelegram, replies: asyncio.Queue[Sent], every: float, run: Run) -> None:
    """Send /help every `every` seconds; time each reply from the moment it can be fetched."""
    while True:
        started = time.monotonic()
        while not replies.empty():
            replies.get_nowait()  # a reply counted late, or a second message of one reply
        await fake.push(fake.text(CHATTER, "/help"))
        try:
            await asyncio.wait_for(replies.get(), timeout=10)
            run.chats.append((started, time.monotonic() - started))
        except TimeoutError:
            run.chats.append((started, None))
        await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))


# --- one run ----------------------------------------------------------------------------


async def measure(options: Options, killed: bool, folder: Path, instances: int) -> Run:
    if instances == 1:
        url = f"sqlite+aiosqlite:///{folder / ('killed.db' if killed else 'clean.db')}"
        return await _measure(options, killed, folder, 1, url)
    async with fresh_database(options.postgres, "koom_bench") as url:
        return await _measure(options, killed, folder, instances, url)


async def _until(
    fake: FakeTelegram,
    predicate: Callable[[], bool],
    children: list[asyncio.subprocess.Process],
    what: str,
) -> None:
    """Wait until `predicate()` holds; Stalled when TIMEOUT passes or an instance dies."""

    def done() -> bool:
        return predicate() or any(c.returncode is not None for c in children)

    try:
        await fake.wait_until(done, seconds=TIMEOUT)
    except TimeoutError:
        raise Stalled(f"{what}: not after {TIMEOUT:.0f} s") from None
    if not predicate():
        raise Stalled(f"{what}: an instance exited ({[c.returncode for c in children]})")


async def _measure(options: Options, killed: bool, folder: Path, instances: int, url: str) -> Run:
    members = options.members
    run = Run(members, options.scale, killed, instances)
    people = [Person(FIRST_ID + i, f"Member {i}", "fr") for i in range(members)]
    ids = {p.id for p in people}
    stem = f"{'killed' if killed else 'clean'}-{instances}"
    broadcast_id = await prepare(url, people)
    fake = FakeTelegram()
    fake.enforce_limits(options.scale)
    fake.know(*people)
    replies: asyncio.Queue[Sent] = asyncio.Queue()
    received = 0  # broadcast messages accepted so far (kept here: counting them is O(n))

    def on_message(sent: Sent) -> None:
        nonlocal received
        if sent.chat_id == CHATTER.id:
            replies.put_nowait(sent)
        elif sent.chat_id in ids:
            received += 1

    fake.on_message = on_message
    await fake.start()
    db = Database(url)
    logs = [folder / f"{stem}-{n}.log" for n in range(instances + 1)]
    children: list[asyncio.subprocess.Process] = []
    alive: list[asyncio.subprocess.Process] = []  # those that should not exit on their own
    chatter: asyncio.Task[None] | None = None
    try:
        for n in range(instances):
            with logs[n].open("wb") as log:
                child = await start_bot(fake, url, options, folder, log, f"{stem}-{n}")
            children.append(child)
            alive.append(child)
            if n == 0:  # the first one polls
                await _until(fake, lambda: bool(fake.calls_of("getUpdates")), alive, "first poll")
        chatter = asyncio.create_task(chat(fake, replies, options.every, run))
        if killed:
            await _until(fake, lambda: received >= members // 2, alive, "half the members")
            victim = alive.pop()  # with several, one that does not poll: the chat goes on
            killed_at = time.monotonic()
            run.received_at_kill = received
            in_flight = await kill(
                victim, db, broadcast_id, lambda: set(fake.received(ids)), TIMEOUT, alive
            )
            run.in_flight = len(in_flight)
            if instances > 1:  # the others were paused while the victim's sends were counted
                run.down = (killed_at, time.monotonic())
                run.downtime = run.down[1] - killed_at
            if instances == 1:  # started again; with several, the others take over
                polls = len(fake.calls_of("getUpdates"))
                with logs[-1].open("wb") as log:
                    child = await start_bot(fake, url, options, folder, log, f"{stem}-again")
                children.append(child)
                alive.append(child)
                await _until(
                    fake, lambda: len(fake.calls_of("getUpdates")) > polls, alive, "restart"
                )
                run.down = (killed_at, time.monotonic())
        await _until(fake, lambda: received > 0, alive, "first send")
        for _ in range(int(TIMEOUT / POLL)):  # past it, what is left pending counts as lost
            if not await pending(db, broadcast_id) or any(c.returncode is not None for c in alive):
                break
            await asyncio.sleep(POLL)
        await asyncio.sleep(SETTLE)
    except BaseException:
        _print_logs(logs)
        raise
    finally:
        if chatter is not None:
            chatter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await chatter
        for child in children:
            if child.returncode is None:
                child.send_signal(signal.SIGTERM)
            await child.wait()
        await fake.close()
    run.statuses = await rows_by_status(db, broadcast_id)
    marked = await sent_at(db, broadcast_id)
    await db.dispose()
    sends = [send for send in fake.accepted if send.chat_id in ids]
    first_sends: dict[int, float] = {}
    for send in sends:
        first_sends.setdefault(send.chat_id, send.wall)
    run.mark_lags = [marked[c] - w for c, w in first_sends.items() if c in marked]
    run.sends = [send.at for send in sends]
    run.total_sends = sum(1 for send in fake.accepted if run.sends[0] <= send.at <= run.sends[-1])
    run.per_member = Counter(send.chat_id for send in sends)
    run.refused = Counter(r.limit for r in fake.refused)
    run.violations = fake.limit_violations()
    if killed and instances == 1:  # the longest pause between two sends: the kill and restart
        run.downtime = max(b - a for a, b in itertools.pairwise(run.sends))
    for path in logs:
        if path.exists() and TOKEN in path.read_text(errors="replace"):
            raise AssertionError(f"the token shows in {path.name}")
    exited = [c.returncode for c in alive if c.returncode not in (0, -signal.SIGTERM)]
    if exited:
        _print_logs(logs)
        run.failure = f"an instance exited with {exited}"
    elif run.lost:
        _print_logs(logs)
        run.failure = f"{run.lost} members never got the message"
    return run


def _print_logs(logs: list[Path], lines: int = 15) -> None:
    """The end of each instance's log, to tell why a run failed (the token never shows)."""
    for path in logs:
        if path.exists():
            tail = path.read_text(errors="replace").replace(TOKEN, "***").splitlines()[-lines:]
            print(f"  --- {path.name} ---", *(f"  {line}" for line in tail), sep="\n")


def _name(instances: int, killed: bool) -> str:
    kill = "killed half way and restarted" if instances == 1 else "one killed half way"
    return f"{instances} instance{'s' if instances > 1 else ''}, {kill if killed else 'clean run'}"


TOLERANCE_MS = TOLERANCE.total_seconds() * 1000


def describe(run: Run) -> str:
    refused = ", ".join(f"{k} {v}" for k, v in sorted(run.refused.items())) or "none"
    lines = [
        f"{_name(run.instances, run.killed)}: {len(run.sends)} sends to {run.members} members "
        f"in {run.seconds:.1f} s" + (f" (+ {run.downtime:.1f} s down)" if run.killed else ""),
        f"  {run.rate:.1f} messages/s = {run.rate / run.limit:.3f} of the enforced overall "
        f"limit ({run.limit}/s; bulk share {BULK_SHARE} over windows {TOLERANCE_MS:.0f} ms longer "
        f"= {int(BULK_SHARE * run.limit) / (1 + TOLERANCE_MS / 1000):.0f}/s); "
        f"with the replies {run.total_rate:.1f}/s = {run.total_rate / run.limit:.3f}",
        f"  duplicates {run.duplicates}, lost {run.lost}, rows {dict(run.statuses)}",
        f"  429s: {sum(run.refused.values())} ({refused}); windows over the limits: "
        f"{run.violations or 'none'}",
        f"  chat: {len(run.latencies)} replies, p50 {run.latency_ms(50):.0f} ms, "
        f"p99 {run.latency_ms(99):.0f} ms, max {max(run.latencies, default=0) * 1000:.0f} ms, "
        f"{run.unanswered} unanswered"
        + (" (not counting those sent while the bot was down)" if run.killed else ""),
        f"  send -> row marked sent: p50 {run.mark_lag_ms(50):.0f} ms, "
        f"p99 {run.mark_lag_ms(99):.0f} ms, max {max(run.mark_lags, default=0) * 1000:.0f} ms "
        "(a kill repeats what is inside this lag)",
    ]
    if run.killed:
        lines.append(
            f"  killed at {run.received_at_kill} received; in flight (sent, not marked) "
            f"{run.in_flight}"
            + (
                f"; first poll {run.down[1] - run.down[0]:.1f} s after the kill"
                if run.down and run.instances == 1
                else ""
            )
        )
    if run.failure:
        lines.append(f"  FAILED: {run.failure}")
    return "\n".join(lines)


def figures(run: Run) -> dict[str, object]:
    """One run's figures as key=value pairs; `targets` says whether it met every target."""
    share = run.total_rate / run.limit
    met = (
        share >= TARGET_SHARE
        and run.duplicates <= (run.in_flight if run.killed else 0)
        and run.lost == 0
        and run.latency_ms(99) < TARGET_P99_MS
        and run.failure is None
    )
    pairs: dict[str, object] = {
        "rate_per_s": f"{run.rate:.1f}",
        "fraction": f"{run.rate / run.limit:.3f}",
        "fraction_with_replies": f"{share:.3f}",
        "duplicates": run.duplicates,
        "lost": run.lost,
        "refused_429": sum(run.refused.values()),
        "chat_p50_ms": f"{run.latency_ms(50):.0f}",
        "chat_p99_ms": f"{run.latency_ms(99):.0f}",
        "mark_lag_p99_ms": f"{run.mark_lag_ms(99):.0f}",
        "targets": "met" if met else "missed",
    }
    if run.killed:
        pairs["in_flight"] = run.in_flight
    return pairs


def summary(options: Options, instances: int, clean: Run | str, killed: Run | str) -> str:
    """The key=value line of one number of instances; a failed run gives its error's kind."""
    pairs: dict[str, object] = {
        "instances": instances,
        "members": options.members,
        "scale": options.scale,
        "limit_per_s": 30 * options.scale,
    }
    for prefix, run in (("", clean), ("killed_", killed)):
        if isinstance(run, str):
            pairs[f"{prefix}failed"] = run.split(":", 1)[0]
        else:
            pairs |= {prefix + k: v for k, v in figures(run).items()}
    return " ".join(f"{k}={v}" for k, v in pairs.items())


async def main(options: Options, instances: list[int]) -> None:
    """Each number of instances: a clean run, then a killed one; a run that fails says why
    and the others still run. The last lines: one key=value summary per number of instances."""
    summaries = []
    for count in instances:
        runs: dict[bool, Run | str] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for killed in (False, True):
                try:
                    run = await measure(options, killed, Path(tmp), count)
                except Exception as exc:
                    runs[killed] = f"{type(exc).__name__}: {exc}"
                    print(f"{_name(count, killed)}: FAILED, {runs[killed]}", flush=True)
                else:
                    runs[killed] = run
                    print(describe(run), flush=True)
        summaries.append(summary(options, count, runs[False], runs[True]))
    for line in summaries:
        print(line, flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--scale", type=int, default=8)
    parser.add_argument("--chat-every", type=float, default=0.5)
    parser.add_argument(
        "--instances", default="1", help="numbers of instances to run, comma-separated (1,2)"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "KOOM_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        ),
        help="a PostgreSQL database URL; each run with several instances creates its own",
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--profile", type=Path, help="a folder: each instance's cProfile stats are saved there"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.scale)
    else:
        counts = [int(n) for n in args.instances.split(",")]
        options = Options(
            args.members, args.scale, args.chat_every, args.postgres, args.redis, args.profile
        )
        asyncio.run(main(options, counts))
