"""Reminder rows and member reminder settings; organiser broadcasts and their deliveries.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(
            sa.Column("reminder_minute", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("reminder_weekday", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("quiet_start", sa.Integer(), server_default="1260", nullable=False)
        )
        batch.add_column(sa.Column("quiet_end", sa.Integer(), server_default="480", nullable=False))
    op.create_table(
        "reminders",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("next_due_at", core.db.types.UTCDateTime(), nullable=True),
        sa.Column("last_due_at", core.db.types.UTCDateTime(), nullable=True),
        sa.Column("paused", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", core.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_reminders_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_reminders_challenge_id_challenges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", "challenge_id", name=op.f("pk_reminders")),
    )
    op.create_index(op.f("ix_reminders_next_due_at"), "reminders", ["next_due_at"])
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("challenge_id", sa.Integer(), nullable=True),
        sa.Column("audience", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("send_at", core.db.types.UTCDateTime(), nullable=True),
        sa.Column("recipients", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", core.db.types.UTCDateTime(), nullable=False),
        sa.Column("launched_at", core.db.types.UTCDateTime(), nullable=True),
        sa.Column("cancelled_at", core.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["members.id"],
            name=op.f("fk_broadcasts_created_by_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_broadcasts_challenge_id_challenges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
    )
    op.create_index("ix_broadcasts_status_send_at", "broadcasts", ["status", "send_at"])
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("broadcast_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_deliveries_broadcast_id_broadcasts"),
            "broadcasts",
            ["broadcast_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index(op.f("ix_deliveries_broadcast_id"), ["broadcast_id"])


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index(op.f("ix_deliveries_broadcast_id"))
        batch.drop_constraint(op.f("fk_deliveries_broadcast_id_broadcasts"), type_="foreignkey")
        batch.drop_column("broadcast_id")
    op.drop_index("ix_broadcasts_status_send_at", table_name="broadcasts")
    op.drop_table("broadcasts")
    op.drop_index(op.f("ix_reminders_next_due_at"), table_name="reminders")
    op.drop_table("reminders")
    with op.batch_alter_table("members") as batch:
        for column in ("quiet_end", "quiet_start", "reminder_weekday", "reminder_minute"):
            batch.drop_column(column)
