"""Platform updates seen already: a redelivered update (restart, webhook retry) runs once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Connection

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
        return await self.db.transaction(_record, platform, update_key[:64], self.clock.now())


def _record(conn: Connection, platform: str, update_key: str, now: datetime) -> bool:
    return insert_ignore(
        conn, processed_updates, platform=platform, update_key=update_key, received_at=now
    )
