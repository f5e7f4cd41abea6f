"""Each pledge keeps its own reminder rhythm: daily or weekly, and the day of its weekly
reminders; NULL follows the member's settings, as every existing row does.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.add_column(sa.Column("rhythm", sa.String(6), nullable=True))
        batch.add_column(sa.Column("weekday", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.drop_column("weekday")
        batch.drop_column("rhythm")
