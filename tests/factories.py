"""Small builders for test data through the real services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db.database import Database
from core.db.tables import accounts, broadcasts, members, outbox
from core.drafts import ChallengeDraft, TierDraft
from core.identity import AccountRef
from core.models import Challenge, ChallengeStatus, EventKind, Frequency, Member, OutboxEvent
from core.services import Services
from core.services.broadcasts import Broadcast
from tests.fake_telegram import Person


async def open_challenge(
    services: Services,
    *,
    slug: str = "tri-lyon",
    goal: int = 8,
    tiers: tuple[tuple[int, str, str], ...] = ((4, "Acme", "1 000 € to Zero Waste Lyon"),),
    frequency: Frequency = Frequency.DAILY,
    impact: float | None = 0.5,
    days: int = 30,
) -> Challenge:
    """A published challenge with sponsor tiers."""
    draft = ChallengeDraft(
        slug=slug,
        title=f"Challenge {slug}",
        action="sort my waste",
        goal=goal,
        deadline=services.clock.now() + timedelta(days=days),
        frequency=frequency,
        impact_per_action=impact,
        impact_unit="kg CO2e",
        tiers=[TierDraft(threshold=t, sponsor=s, reward=r) for t, s, r in tiers],
        status=ChallengeStatus.OPEN,
    )
    return await services.challenges.create(draft)


async def member(services: Services, name: str, platform: str = "console") -> Member:
    """A member with one account `platform:name`."""
    return await services.members.ensure(AccountRef.parse(f"{platform}:{name}"), name.title())


async def events_for(conn: AsyncConnection, challenge_id: int) -> list[OutboxEvent]:
    """Every outbox event of a challenge, oldest first."""
    rows = await conn.execute(
        select(outbox).where(outbox.c.challenge_id == challenge_id).order_by(outbox.c.id)
    )
    return [
        OutboxEvent(r.id, EventKind(r.kind), r.challenge_id, r.payload, r.created_at) for r in rows
    ]


async def all_broadcasts(services: Services) -> list[Broadcast]:
    """Every broadcast row, drafts included, newest first."""
    async with services.db.read() as conn:
        rows = await conn.execute(select(broadcasts.c.id).order_by(broadcasts.c.id.desc()))
        ids = list(rows.scalars())
    return [await services.broadcasts.get(i) for i in ids]


async def add_members(db: Database, people: Sequence[Person], platform: str = "telegram") -> None:
    """One member with one account on `platform` (its id the person's) per person, written
    in bulk."""
    now = datetime.now(UTC)
    async with db.write() as conn:
        # Ids from the database (not chosen here), so that later members get fresh ones on
        # PostgreSQL too, whose sequence does not follow explicit ids.
        ids = (
            await conn.execute(
                insert(members).returning(members.c.id, sort_by_parameter_order=True),
                [
                    {
                        "display_name": p.first_name,
                        "language": p.language_code,
                        "timezone": "Europe/Paris",
                        "created_at": now,
                    }
                    for p in people
                ],
            )
        ).scalars()
        await conn.execute(
            insert(accounts),
            [
                {
                    "platform": platform,
                    "external_id": str(p.id),
                    "member_id": member_id,
                    "created_at": now,
                }
                for p, member_id in zip(people, ids, strict=True)
            ],
        )
