"""Claimed deliveries and sweep ticks, so that several instances share one database.

A delivery row is claimed with a lease (who, until when) before it is sent; a periodic sweep
claims its tick, so it runs once per tick across instances.

Revision ID: 0012
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db.types

revision = "0012"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("lease_until", core.db.types.UTCDateTime(), nullable=True))
    op.create_table(
        "sweep_ticks",
        sa.Column("job", sa.String(40), nullable=False),
        sa.Column("ran_at", core.db.types.UTCDateTime(), nullable=False),
        sa.Column("ran_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("job", name="pk_sweep_ticks"),
    )


def downgrade() -> None:
    op.drop_table("sweep_ticks")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
