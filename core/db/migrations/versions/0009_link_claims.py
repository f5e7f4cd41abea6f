"""A link code claimed by another account, waiting for the code owner's confirmation.

Revision ID: 0009
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("link_codes") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(90), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("link_codes") as batch:
        batch.drop_column("claimed_by")
