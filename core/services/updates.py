"""Platform updates seen already: a redelivered update (restart, webhook retry) runs once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from core.clock import Clock
from core.db.database import Database
from core.db.tables import processed_updates
from core.db.upsert import insert_ignore

KEEP_FOR = timedelta(days=2)


class UpdateLog:
    """Remembers processed update ids per platform for a while."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def first_time(self, platform: str, update_key: str) -> bool:
        """Record the update; False when it was processed before."""
        async with self.db.write() as conn:
            return await conn.run_sync(
                insert_ignore,
                processed_updates,
                platform=platform,
                update_key=update_key[:64],
                received_at=self.clock.now(),
            )

    async def prune(self) -> int:
        """Forget updates older than the redelivery window; returns how many."""
        async with self.db.write() as conn:
            result = await conn.execute(
                delete(processed_updates).where(
                    processed_updates.c.received_at < self.clock.now() - KEEP_FOR
                )
            )
            return int(result.rowcount)
