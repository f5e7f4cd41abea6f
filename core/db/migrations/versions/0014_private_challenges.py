"""Private challenges: a challenge open to its organisation's members only.

Revision ID: 0014
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("challenges") as batch:
        batch.add_column(
            sa.Column("visibility", sa.String(length=10), nullable=False, server_default="public")
        )


def downgrade() -> None:
    with op.batch_alter_table("challenges") as batch:
        batch.drop_column("visibility")
