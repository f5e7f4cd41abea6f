"""Platform updates seen already: a redelivered update (restart, webhook retry) runs once."""

from __future__ import annotations

from core.clock import Clock
from core.db.database import Database
from core.db.tables import processed_updates
from core.db.upsert import insert_ignore


class UpdateLog:
    """Remembers processed update ids per platform until the daily purge forgets them."""

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
