"""Organisations with their staff, groups and challenges; sponsor accounts; conditional pledges.

Revision ID: 0013
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db.types

revision = "0013"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("logo_file", sa.String(length=200), nullable=True),
        sa.Column("colour", sa.String(length=7), nullable=True),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("privacy_url", sa.String(length=300), nullable=True),
        sa.Column("created_at", core.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("slug", name=op.f("uq_organisations_slug")),
    )
    op.create_table(
        "organisation_members",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("created_at", core.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_organisation_members_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_organisation_members_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organisation_id", "member_id", name=op.f("pk_organisation_members")
        ),
    )
    op.create_index("ix_organisation_members_member_id", "organisation_members", ["member_id"])
    op.create_table(
        "organisation_invites",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("expires_at", core.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_organisation_invites_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_organisation_invites")),
    )
    op.create_index(
        op.f("ix_organisation_invites_organisation_id"),
        "organisation_invites",
        ["organisation_id"],
    )
    op.create_table(
        "organisation_groups",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_organisation_groups_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_organisation_groups_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_organisation_groups")),
    )
    op.create_index(
        op.f("ix_organisation_groups_organisation_id"), "organisation_groups", ["organisation_id"]
    )
    with op.batch_alter_table("challenges") as batch:
        batch.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_challenges_organisation_id_organisations"),
            "organisations",
            ["organisation_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(batch.f("ix_challenges_organisation_id"), ["organisation_id"])
    op.create_table(
        "conditional_pledges",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=12), nullable=False),
        sa.Column("scope_key", sa.String(length=120), nullable=False),
        sa.Column("scope_label", sa.String(length=120), nullable=True),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.types.UTCDateTime(), nullable=False),
        sa.Column("activated_at", core.db.types.UTCDateTime(), nullable=True),
        sa.CheckConstraint("threshold > 0", name=op.f("ck_conditional_pledges_threshold_positive")),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_conditional_pledges_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_conditional_pledges_challenge_id_challenges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", "challenge_id", name=op.f("pk_conditional_pledges")),
    )
    op.create_index(
        "ix_conditional_pledges_challenge_id_activated_at",
        "conditional_pledges",
        ["challenge_id", "activated_at"],
    )

    op.create_table(
        "sponsors",
        sa.Column("tier_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.types.UTCDateTime(), nullable=False),
        sa.Column("forecast_at", core.db.types.UTCDateTime(), nullable=True),
        sa.Column("told_at", core.db.types.UTCDateTime(), nullable=True),
        sa.Column("reminded_at", core.db.types.UTCDateTime(), nullable=True),
        sa.Column("confirmed_at", core.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tier_id"], ["tiers.id"], name=op.f("fk_sponsors_tier_id_tiers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_sponsors_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tier_id", name=op.f("pk_sponsors")),
    )
    op.create_index(op.f("ix_sponsors_member_id"), "sponsors", ["member_id"])


def downgrade() -> None:
    op.drop_table("sponsors")
    op.drop_table("conditional_pledges")
    with op.batch_alter_table("challenges") as batch:
        batch.drop_index(batch.f("ix_challenges_organisation_id"))
        batch.drop_constraint(
            batch.f("fk_challenges_organisation_id_organisations"), type_="foreignkey"
        )
        batch.drop_column("organisation_id")
    op.drop_table("organisation_groups")
    op.drop_table("organisation_invites")
    op.drop_table("organisation_members")
    op.drop_table("organisations")
