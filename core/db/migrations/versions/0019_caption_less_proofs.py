"""A sponsor's proof picture sent without a caption keeps no text: each reader gets a line in
their own language. Such proofs stored "📷" as their text until now.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

PICTURE_PROOF = "📷"
WITH_PICTURE = "id IN (SELECT tier_id FROM proof_pictures)"


def upgrade() -> None:
    op.get_bind().execute(
        sa.text(f"UPDATE tiers SET proof = NULL WHERE proof = :old AND {WITH_PICTURE}"),
        {"old": PICTURE_PROOF},
    )


def downgrade() -> None:
    op.get_bind().execute(
        sa.text(
            "UPDATE tiers SET proof = :old "
            f"WHERE proof IS NULL AND kept_at IS NOT NULL AND {WITH_PICTURE}"
        ),
        {"old": PICTURE_PROOF},
    )
