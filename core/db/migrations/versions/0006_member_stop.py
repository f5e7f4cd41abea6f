"""The moment a member said STOP.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("stopped_at", core.db.types.UTCDateTime(), nullable=True))
    # Before this column, STOP paused every reminder row and set news_opt_out: those rows
    # stay paused, as their members left them.


def downgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.drop_column("stopped_at")
