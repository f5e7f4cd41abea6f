"""Challenges carry a revision that the database draws again at random whenever a challenge
changes in anything but its pledge and check-in counters, or one of its tiers changes: every
instance can keep challenges in memory and check, with one small read, that a cached one is
still right. A random revision (not a counter) also tells apart a challenge deleted and
created again under the same id.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

REVISED_BY = (
    "slug, title, description, action, category, goal, starts_at, deadline, status, "
    "frequency, area_name, area_kind, impact_per_action, impact_unit, area_goal, "
    "translations, next_threshold, created_by, created_at, updated_at, organisation_id, "
    "visibility"
)
"""Every column but the id, the counters (pledges, check-ins, writes of area counts) and the
revision itself: a pledge changes only counters."""
SQLITE_DRAW = "random()"
POSTGRES_DRAW = "(random() * 9.0e18)::bigint"
SQLITE_TRIGGERS = (
    "CREATE TRIGGER challenge_created AFTER INSERT ON challenges BEGIN "
    f"UPDATE challenges SET revision = {SQLITE_DRAW} WHERE id = NEW.id; END",
    f"CREATE TRIGGER challenge_revised AFTER UPDATE OF {REVISED_BY} ON challenges BEGIN "
    f"UPDATE challenges SET revision = {SQLITE_DRAW} WHERE id = NEW.id; END",
    "CREATE TRIGGER tier_created AFTER INSERT ON tiers BEGIN "
    f"UPDATE challenges SET revision = {SQLITE_DRAW} WHERE id = NEW.challenge_id; END",
    "CREATE TRIGGER tier_revised AFTER UPDATE ON tiers BEGIN "
    f"UPDATE challenges SET revision = {SQLITE_DRAW} "
    "WHERE id IN (OLD.challenge_id, NEW.challenge_id); END",
    "CREATE TRIGGER tier_removed AFTER DELETE ON tiers BEGIN "
    f"UPDATE challenges SET revision = {SQLITE_DRAW} WHERE id = OLD.challenge_id; END",
)
SQLITE_NAMES = (
    "challenge_created",
    "challenge_revised",
    "tier_created",
    "tier_revised",
    "tier_removed",
)
POSTGRES_FUNCTIONS = (
    "CREATE FUNCTION koom_challenge_revised() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN NEW.revision := {POSTGRES_DRAW}; RETURN NEW; END $$",
    "CREATE FUNCTION koom_tier_revised() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF TG_OP <> 'INSERT' THEN "
    f"UPDATE challenges SET revision = {POSTGRES_DRAW} WHERE id = OLD.challenge_id; END IF; "
    "IF TG_OP <> 'DELETE' THEN "
    f"UPDATE challenges SET revision = {POSTGRES_DRAW} WHERE id = NEW.challenge_id; END IF; "
    "RETURN NULL; END $$",
)
POSTGRES_TRIGGERS = (
    f"CREATE TRIGGER challenge_revised BEFORE INSERT OR UPDATE OF {REVISED_BY} ON challenges "
    "FOR EACH ROW EXECUTE FUNCTION koom_challenge_revised()",
    "CREATE TRIGGER tier_revised AFTER INSERT OR UPDATE OR DELETE ON tiers "
    "FOR EACH ROW EXECUTE FUNCTION koom_tier_revised()",
)


def upgrade() -> None:
    op.add_column(
        "challenges", sa.Column("revision", sa.BigInteger(), nullable=False, server_default="0")
    )
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    for statement in (*POSTGRES_FUNCTIONS, *POSTGRES_TRIGGERS) if postgres else SQLITE_TRIGGERS:
        bind.exec_driver_sql(statement)
    draw = POSTGRES_DRAW if postgres else SQLITE_DRAW
    bind.exec_driver_sql(f"UPDATE challenges SET revision = {draw}")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql("DROP TRIGGER tier_revised ON tiers")
        bind.exec_driver_sql("DROP TRIGGER challenge_revised ON challenges")
        bind.exec_driver_sql("DROP FUNCTION koom_tier_revised()")
        bind.exec_driver_sql("DROP FUNCTION koom_challenge_revised()")
    else:
        for name in SQLITE_NAMES:
            bind.exec_driver_sql(f"DROP TRIGGER {name}")
    # In place (SQLite 3.35+): a batch copy would drop the table, and with it, through the
    # foreign keys, every row that refers to a challenge.
    bind.exec_driver_sql("ALTER TABLE challenges DROP COLUMN revision")
