"""Reachability of accounts and groups; the log of processed platform updates.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("unreachable_at", core.db.types.UTCDateTime(), nullable=True))
    with op.batch_alter_table("groups") as batch:
        batch.add_column(sa.Column("unreachable_at", core.db.types.UTCDateTime(), nullable=True))
    op.create_table(
        "processed_updates",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("update_key", sa.String(length=64), nullable=False),
        sa.Column("received_at", core.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "update_key", name=op.f("pk_processed_updates")),
    )
    op.create_index(op.f("ix_processed_updates_received_at"), "processed_updates", ["received_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_processed_updates_received_at"), table_name="processed_updates")
    op.drop_table("processed_updates")
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("unreachable_at")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("unreachable_at")
