"""A Hypothesis stateful fuzz test: random sequences of inputs from several members (commands,
texts, offered, forged and stale choices, shared locations, restarts of the engine) through
every flow, on SQLite and on PostgreSQL when configured. After each step:

- every challenge's pledge counter equals its active pledge rows;
- no milestone or tier announcement was written twice;
- no exception escaped the engine (the harness re-raises what the engine would apologise for);
- nobody was shown another member's data (their name, their exported rows).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import func, select

from conversations.model import Reply
from conversations.testing import ChatHarness, Person, choices, texts
from core.clock import FakeClock
from core.db.database import Database
from core.db.migrate import upgrade
from core.db.tables import challenges, outbox, pledges
from core.drafts import ChallengeDraft
from core.models import ChallengeStatus
from core.services import Services
from core.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.factories import open_challenge

PEOPLE = {  # account -> a name nobody types, so a leak of it is unmistakable
    "console:orga": ("Qorgazed", "fr"),
    "telegram:5101": ("Qalphazed", "fr"),
    "discord:5202": ("Qbravozed", "en"),
    "console:charlie": ("Qcharlized", "en"),
}
COMMANDS = (
    "/start", "/start tri-lyon", "/start tri-lyon_zz", "/help", "/language", "/challenges",
    "/challenge tri-lyon", "/pledge", "/pledge tri-lyon", "/mypledges", "/checkin",
    "/withdraw", "/settings", "/mydata", "/forgetme", "/link", "/link ABCDEFGH", "/map",
    "/map tri-lyon", "/new", "/manage", "/broadcast", "/cancel", "/follow", "/progress",
    "/nosuchcommand",
)  # fmt: skip
TEXTS = st.one_of(
    st.sampled_from(
        ("Lyon", "Villeurbanne", "69001", "45.76,4.84", "22h-7h", "off", "18:30", "7 pm",
         "Europe/Paris", "demain 9h", "1 000", "oui", "1", "2", "3", "#1", "stop", "STOP")
    ),
    st.text(max_size=60),
    st.text(alphabet=" \t-:h0123456789", min_size=100, max_size=400),
)  # fmt: skip
WHO = st.sampled_from(tuple(PEOPLE))
PICKS = st.lists(st.integers(0, 3), min_size=1, max_size=5)
FORGED = st.one_of(
    st.builds(
        lambda flow, action, arg: f"{flow}:{action}:{arg}",
        st.sampled_from(("remind", "settings", "pledge", "browse", "mine", "orga", "bcast")),
        st.sampled_from(
            ("notyet", "done", "snooze", "pause", "resume", "forget_yes", "link_ok",
             "link_no", "open", "yes", "withdraw", "publish", "send", "x")
        ),
        st.sampled_from(("1", "2", "3", "99", "0", "-1", "ABCDEFGH", "x")),
    ),
    st.text(max_size=64),
)  # fmt: skip


class Fuzz(RuleBasedStateMachine):
    """Several members talking to one bot, at random."""

    backend = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.folder = tempfile.TemporaryDirectory()
        self.db, self.schema = self.run(self._database())
        self.clock = FakeClock(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
        self.services = self._services()
        self.harness = ChatHarness(self.services)
        self.people = self._people()
        self.seen: dict[str, list[Reply]] = {}

    # --- set-up and tear-down ----------------------------------------------------------

    def run(self, work: Any) -> Any:
        return self.loop.run_until_complete(work)

    async def _database(self) -> tuple[Database, str | None]:
        if self.backend == "sqlite":
            db = Database(f"sqlite+aiosqlite:///{Path(self.folder.name) / 'koom.db'}")
            await upgrade(db)
            return db, None
        assert POSTGRES_URL is not None
        schema = f"f_{uuid.uuid4().hex[:12]}"
        admin = Database(POSTGRES_URL)
        async with admin.write() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        await admin.dispose()
        db = Database(POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})
        await upgrade(db)
        return db, schema

    def _services(self) -> Services:
        settings_ = Settings(
            _env_file=None,
            DATABASE_URL=self.db.url,
            KOOM_ORGANISERS="console:orga",
            KOOM_DEFAULT_LOCALE="fr",
        )
        return Services(db=self.db, settings=settings_, clock=self.clock)

    def _people(self) -> dict[str, Person]:
        return {
            account: self.harness.person(account, name=name, lang=lang)
            for account, (name, lang) in PEOPLE.items()
        }

    def teardown(self) -> None:
        async def close() -> None:
            await self.db.dispose()
            if self.schema is not None:
                assert POSTGRES_URL is not None
                admin = Database(POSTGRES_URL)
                async with admin.write() as conn:
                    await conn.exec_driver_sql(f'DROP SCHEMA "{self.schema}" CASCADE')
                await admin.dispose()

        self.run(close())
        self.loop.close()
        self.folder.cleanup()

    @initialize()
    def challenges(self) -> None:
        async def make() -> None:
            await open_challenge(self.services, goal=4, tiers=((2, "Acme", "plants trees"),))
            draft = ChallengeDraft(
                slug="secret-plan",
                title="Secret plan",
                action="an unannounced action",
                goal=10,
                deadline=self.clock.now() + timedelta(days=30),
                status=ChallengeStatus.DRAFT,
            )
            await self.services.challenges.create(draft)

        self.run(make())

    # --- inputs ------------------------------------------------------------------------

    def _said(self, account: str, replies: list[Reply]) -> None:
        self.seen.setdefault(account, []).extend(replies)

    @rule(who=WHO, command=st.sampled_from(COMMANDS))
    def command(self, who: str, command: str) -> None:
        self._said(who, self.run(self.people[who].command(command)))

    @rule(who=WHO, text=TEXTS)
    def text(self, who: str, text: str) -> None:
        if text.strip():
            self._said(who, self.run(self.people[who].text(text)))

    @rule(who=WHO, pick=st.integers(0, 30))
    def press_offered(self, who: str, pick: int) -> None:
        offered = choices(self.people[who].last_replies())
        if offered:
            choice = offered[pick % len(offered)]
            self._said(who, self.run(self.people[who].press_id(choice.id)))

    def _walk(self, who: str, start: str, picks: list[int]) -> None:
        """A command, then a few of the offered choices in a row: deep into a flow."""
        person = self.people[who]
        self._said(who, self.run(person.command(start)))
        for pick in picks:
            offered = choices(person.last_replies())
            if not offered:
                break
            self._said(who, self.run(person.press_id(offered[pick % len(offered)].id)))

    @rule(who=WHO, start=st.sampled_from(COMMANDS), picks=PICKS)
    def walk(self, who: str, start: str, picks: list[int]) -> None:
        self._walk(who, start, picks)

    @rule(who=WHO, picks=PICKS)
    def pledge(self, who: str, picks: list[int]) -> None:
        self._walk(who, "/pledge tri-lyon", picks)

    @rule(who=WHO, picks=PICKS)
    def withdraw(self, who: str, picks: list[int]) -> None:
        self._walk(who, "/withdraw", picks)

    @rule(
        who=WHO,
        other=WHO,
        pick=st.integers(0, 30),
    )
    def press_someone_elses(self, who: str, other: str, pick: int) -> None:
        """A stale or stolen choice: one offered to another member (or earlier)."""
        offered = choices(self.seen.get(other, []))
        if offered:
            choice = offered[pick % len(offered)]
            self._said(who, self.run(self.people[who].press_id(choice.id)))

    @rule(who=WHO, choice_id=FORGED)
    def press_forged(self, who: str, choice_id: str) -> None:
        if choice_id:
            self._said(who, self.run(self.people[who].press_id(choice_id)))

    @rule(
        who=WHO,
        latitude=st.floats(-95, 95, allow_nan=False),
        longitude=st.floats(-185, 185, allow_nan=False),
    )
    def location(self, who: str, latitude: float, longitude: float) -> None:
        self._said(who, self.run(self.people[who].location(latitude, longitude)))

    @rule(hours=st.integers(0, 72))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))

    @rule()
    def restart(self) -> None:
        """A new process: new services and engine over the same database."""
        self.services = self._services()
        self.harness = ChatHarness(self.services)
        self.people = self._people()

    # --- invariants --------------------------------------------------------------------

    @invariant()
    def counters_equal_active_pledges(self) -> None:
        async def check() -> None:
            async with self.db.read() as conn:
                rows = await conn.execute(
                    select(
                        challenges.c.id, challenges.c.pledge_count, func.count(pledges.c.member_id)
                    )
                    .outerjoin(
                        pledges,
                        (pledges.c.challenge_id == challenges.c.id)
                        & pledges.c.withdrawn_at.is_(None),
                    )
                    .group_by(challenges.c.id, challenges.c.pledge_count)
                )
                for challenge_id, counter, active in rows:
                    assert counter == active, (challenge_id, counter, active)

        self.run(check())

    @invariant()
    def no_announcement_twice(self) -> None:
        async def check() -> None:
            async with self.db.read() as conn:
                rows = await conn.execute(
                    select(outbox.c.challenge_id, outbox.c.kind, outbox.c.payload).where(
                        outbox.c.kind.in_(("milestone", "tier_unlocked", "succeeded"))
                    )
                )
                seen = Counter(
                    (c, k, str(p.get("percent", p.get("sponsor", p.get("threshold", "")))))
                    for c, k, p in rows
                )
            assert all(n == 1 for n in seen.values()), seen

        self.run(check())

    @invariant()
    def nobody_sees_another_members_data(self) -> None:
        for account, replies in self.seen.items():
            shown = "\n".join(texts(replies))
            for other, (name, _) in PEOPLE.items():
                if other != account:
                    assert name not in shown, (account, other)


FuzzSQLite = Fuzz.TestCase
FuzzSQLite.settings = settings(
    max_examples=int(os.environ.get("KOOM_FUZZ_EXAMPLES", "12")),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class FuzzPostgres(Fuzz):
    backend = "postgres"


FuzzPostgresCase = pytest.mark.skipif(POSTGRES_URL is None, reason="KOOM_TEST_POSTGRES_URL unset")(
    FuzzPostgres.TestCase
)
FuzzPostgresCase.settings = FuzzSQLite.settings
