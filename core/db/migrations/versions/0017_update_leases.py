"""Updates claimed with a lease and ordered per person, so that several instances behind a
load balancer handle each Telegram update once and one person's in order.

An update row in flight has a lease (who, until when) and the person or chat it orders by,
with Telegram's update id; a row whose lease is empty is done.

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db.types

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("processed_updates") as batch:
        batch.add_column(sa.Column("order_key", sa.String(32), nullable=True))
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("lease_until", core.db.types.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("started", sa.Boolean(), nullable=False, server_default="0"))
    op.create_index(
        op.f("ix_processed_updates_order"), "processed_updates", ["platform", "order_key"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_processed_updates_order"), table_name="processed_updates")
    with op.batch_alter_table("processed_updates") as batch:
        batch.drop_column("started")
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
        batch.drop_column("seq")
        batch.drop_column("order_key")
