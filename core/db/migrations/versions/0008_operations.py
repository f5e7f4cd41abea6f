"""The claimed runs of periodic jobs (the daily purge); stored time zones repaired.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

import core.db.types
from core.settings import is_time_zone

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("last_run_at", core.db.types.UTCDateTime(), nullable=True),
    )
    # Before time zones were checked, KOOM_DEFAULT_TIMEZONE was stored on new members as it
    # was written, and every pledge of theirs then failed: give them the default zone.
    default = context.config.attributes.get("default_timezone", "Europe/Paris")
    members = sa.table("members", sa.column("id"), sa.column("timezone"))
    bind = op.get_bind()
    zones = [row.timezone for row in bind.execute(sa.select(members.c.timezone).distinct())]
    broken = [zone for zone in zones if not is_time_zone(zone)]
    if broken:
        bind.execute(
            sa.update(members).where(members.c.timezone.in_(broken)).values(timezone=default)
        )


def downgrade() -> None:
    op.drop_table("job_runs")
