"""The daily purge deletes only what is older than its retention, keeps what a later pledger
still needs, and runs once a day across instances."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, insert, select

from core.clock import FakeClock
from core.db.database import Database
from core.db.tables import conversations, deliveries, outbox, processed_updates
from core.services import Services
from core.settings import Settings
from tests.factories import open_challenge

DAY = timedelta(days=1)


async def add_delivery(
    services: Services,
    key: str,
    status: str,
    age: timedelta,
    event_id: int | None = None,
) -> None:
    created = services.clock.now() - age
    async with services.db.write() as conn:
        await conn.execute(
            insert(deliveries).values(
                event_id=event_id,
                platform="telegram",
                chat_id=key,
                locale="fr",
                kind="broadcast",
                payload={},
                dedupe_key=key,
                status=status,
                not_before=created,
                created_at=created,
            )
        )


async def add_event(services: Services, challenge_id: int, key: str, kind: str) -> int:
    async with services.db.write() as conn:
        return int(
            (
                await conn.execute(
                    insert(outbox)
                    .values(
                        kind=kind,
                        challenge_id=challenge_id,
                        payload={},
                        dedupe_key=key,
                        created_at=services.clock.now() - 40 * DAY,
                        fanned_out_at=services.clock.now() - 40 * DAY,
                    )
                    .returning(outbox.c.id)
                )
            ).scalar_one()
        )


async def remaining(db: Database, column: object) -> set[str]:
    async with db.read() as conn:
        return {row[0] for row in await conn.execute(select(column))}


async def test_purge_deletes_only_what_is_older_than_its_retention(services: Services) -> None:
    now = services.clock.now()
    for key, status, age in (
        ("sent-old", "sent", 31 * DAY),
        ("dead-old", "dead", 31 * DAY),
        ("cancelled-old", "cancelled", 31 * DAY),
        ("sent-recent", "sent", 29 * DAY),
        ("pending-old", "pending", 31 * DAY),  # still to send: never purged
    ):
        await add_delivery(services, key, status, age)
    async with services.db.write() as conn:
        for chat, age in (("idle", 31 * DAY), ("recent", 29 * DAY)):
            await conn.execute(
                insert(conversations).values(
                    platform="telegram",
                    chat_id=chat,
                    account_id=chat,
                    data={},
                    offered=[],
                    updated_at=now - age,
                )
            )
        for update_key, age in (("old", 3 * DAY), ("recent", DAY)):
            await conn.execute(
                insert(processed_updates).values(
                    platform="telegram", update_key=update_key, received_at=now - age
                )
            )

    purged = await services.retention.purge()

    assert (purged.deliveries, purged.conversations, purged.updates) == (3, 1, 1)
    assert await remaining(services.db, deliveries.c.dedupe_key) == {"sent-recent", "pending-old"}
    assert await remaining(services.db, conversations.c.chat_id) == {"recent"}
    assert await remaining(services.db, processed_updates.c.update_key) == {"recent"}


async def test_the_latest_announcement_of_a_challenge_stays(services: Services) -> None:
    challenge = await open_challenge(services)
    older = await add_event(services, challenge.id, "m25", "milestone")
    latest = await add_event(services, challenge.id, "m50", "milestone")
    await add_delivery(services, "heard-older", "sent", 40 * DAY, older)
    await add_delivery(services, "heard-latest", "sent", 40 * DAY, latest)

    await services.retention.purge()

    # Who pledges again later is not told the latest one twice (core.delivery.latest).
    assert await remaining(services.db, deliveries.c.dedupe_key) == {"heard-latest"}


async def test_the_retention_follows_the_settings(
    db: Database, settings: Settings, clock: FakeClock
) -> None:
    shorter = settings.model_copy(update={"keep_deliveries_days": 7})
    services = Services(db=db, settings=shorter, clock=clock)
    await add_delivery(services, "eight-days", "sent", 8 * DAY)
    await add_delivery(services, "six-days", "sent", 6 * DAY)
    assert (await services.retention.purge()).deliveries == 1
    assert await remaining(db, deliveries.c.dedupe_key) == {"six-days"}


async def test_once_a_day_across_instances(
    db: Database, settings: Settings, clock: FakeClock
) -> None:
    second_db = Database(db.url, **_same_schema(db))
    try:
        first = Services(db=db, settings=settings, clock=clock)
        second = Services(db=second_db, settings=settings, clock=clock)
        runs = await asyncio.gather(first.retention.purge_daily(), second.retention.purge_daily())
        assert sum(run is not None for run in runs) == 1  # two processes, one purge
        clock.advance(timedelta(hours=12))
        assert await first.retention.purge_daily() is None
        assert await second.retention.purge_daily() is None
        clock.advance(timedelta(hours=12))
        assert await second.retention.purge_daily() is not None
    finally:
        await second_db.dispose()


def _same_schema(db: Database) -> dict[str, object]:
    """Engine options of `db` that matter to reach the same tables (PostgreSQL's schema)."""
    url = db.engine.url
    if url.get_backend_name() != "postgresql":
        return {}
    search_path = db.engine.dialect.default_schema_name
    return {"connect_args": {"server_settings": {"search_path": search_path}}}


async def test_a_purge_counts_nothing_when_nothing_is_old(services: Services) -> None:
    await add_delivery(services, "fresh", "sent", timedelta(hours=1))
    purged = await services.retention.purge()
    assert (purged.deliveries, purged.conversations, purged.updates) == (0, 0, 0)
    async with services.db.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(deliveries))).scalar_one()
