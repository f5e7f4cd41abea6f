"""Whether a member chose their language, so that their app's is noted until they do; a
challenge's and its tiers' texts in other languages; when sharers heard of who joined.

Revision ID: 0007
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db.types

revision = "0007"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(
            sa.Column("language_chosen", sa.Boolean(), nullable=False, server_default="0")
        )
    # Until now only a choice stored a language.
    op.execute("UPDATE members SET language_chosen = (language IS NOT NULL)")
    for table in ("challenges", "tiers"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("translations", sa.JSON(), nullable=True))
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("referrals_told_at", core.db.types.UTCDateTime(), nullable=True))
    with op.batch_alter_table("pledges") as batch:
        batch.add_column(sa.Column("referral_told_at", core.db.types.UTCDateTime(), nullable=True))
    # Pledges made before feedback existed are not announced to their referrers now.
    op.execute("UPDATE pledges SET referral_told_at = created_at WHERE referrer_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("pledges") as batch:
        batch.drop_column("referral_told_at")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("referrals_told_at")
    for table in ("challenges", "tiers"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("translations")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("language_chosen")
