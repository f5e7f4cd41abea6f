"""Pledges every member of a database to its challenge, 50 at a time, printing each member
id once its pledge is confirmed; run as a subprocess that the writer crash test kills."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime

from core.clock import FakeClock
from core.db.database import Database
from core.services.pledges import PledgeService


async def main(url: str, options: str, now: str, challenge_id: int, member_ids: list[int]) -> None:
    db = Database(url, **json.loads(options))
    pledges = PledgeService(db, FakeClock(datetime.fromisoformat(now)))
    queue = list(reversed(member_ids))

    async def worker() -> None:
        while queue:
            member_id = queue.pop()
            await pledges.pledge(member_id, challenge_id)
            sys.stdout.write(f"{member_id}\n")
            sys.stdout.flush()

    await asyncio.gather(*(worker() for _ in range(50)))


if __name__ == "__main__":
    url, options, now, challenge, first, last = sys.argv[1:]
    ids = list(range(int(first), int(last) + 1))
    asyncio.run(main(url, options, now, int(challenge), ids))
