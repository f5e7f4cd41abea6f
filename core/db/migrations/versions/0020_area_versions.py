"""Area counts carry the version of the write that last changed them, so a card reads only the
rows changed since it last looked instead of every area of the challenge: each challenge
numbers its writes of area counts (`area_version`, bumped under the challenge's row lock),
and each `area_counts` row keeps the number of its last change. Existing rows start at 0.
Columns are added and dropped in place (no batch mode), on SQLite too.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "challenges", sa.Column("area_version", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column(
        "area_counts", sa.Column("version", sa.Integer(), nullable=False, server_default="0")
    )
    op.create_index(
        "ix_area_counts_challenge_id_version", "area_counts", ["challenge_id", "version"]
    )


def downgrade() -> None:
    # Not in batch mode: on SQLite a batch copies `challenges` into a new table and drops the
    # old one, and dropping it deletes every pledge, reminder and count of the challenge
    # (ON DELETE CASCADE). SQLite drops a column in place since 3.35.
    op.drop_index("ix_area_counts_challenge_id_version", "area_counts")
    op.drop_column("area_counts", "version")
    op.drop_column("challenges", "area_version")
