"""The schema, as SQLAlchemy Core tables. Alembic migrations mirror it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from core.db.types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

members = Table(
    "members",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("display_name", String(100), nullable=False),
    # The member's language: chosen by them, else their app's, noted at each input until
    # they choose one (language_chosen).
    Column("language", String(10)),
    Column("language_chosen", Boolean, nullable=False, server_default="0"),
    # When the member last heard how many people joined through their links.
    Column("referrals_told_at", UTCDateTime),
    Column("timezone", String(64), nullable=False),
    Column("location_name", String(120)),
    Column("latitude", Float),
    Column("longitude", Float),
    # Location.area_key, kept with the location so a pledge copies it in one statement.
    Column("area_key", String(120)),
    Column("reminder", String(10), nullable=False, server_default="none"),
    Column("reminder_hour", Integer, nullable=False, server_default="18"),
    Column("reminder_minute", Integer, nullable=False, server_default="0"),
    # 0 = Monday: the day of weekly reminders.
    Column("reminder_weekday", Integer, nullable=False, server_default="0"),
    # Quiet hours, local minutes after midnight: [quiet_start, quiet_end) crossing midnight.
    Column("quiet_start", Integer, nullable=False, server_default="1260"),
    Column("quiet_end", Integer, nullable=False, server_default="480"),
    Column("news_opt_out", Boolean, nullable=False, server_default="0"),
    # Set by "STOP": nothing on the bot's own initiative (news, broadcasts, reminders) until
    # the member takes it back; reminders paused one by one stay as they were.
    Column("stopped_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("erased_at", UTCDateTime),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("platform", String(16), nullable=False),
    Column("external_id", String(64), nullable=False),
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    # Set when the platform says we may not message this account (blocked bot, closed DMs);
    # cleared when the person talks to the bot again.
    Column("unreachable_at", UTCDateTime),
    UniqueConstraint("platform", "external_id", name="uq_accounts_platform_external_id"),
)

link_codes = Table(
    "link_codes",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    # "platform:id" of the account that typed the code; it joins only once the code's owner
    # confirms from their own account.
    Column("claimed_by", String(90)),
)

challenges = Table(
    "challenges",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slug", String(40), nullable=False, unique=True),
    Column("title", String(120), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("action", String(200), nullable=False),
    Column("category", String(40), nullable=False, server_default="other"),
    Column("goal", Integer, nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("deadline", UTCDateTime, nullable=False),
    Column("status", String(12), nullable=False, index=True),
    Column("frequency", String(10), nullable=False),
    Column("area_name", String(120)),
    Column("area_kind", String(10)),
    Column("impact_per_action", Float),
    Column("impact_unit", String(40)),
    # The goal of each commune on its own (its pledgers against it); NULL: no goal per area.
    Column("area_goal", Integer),
    # Title, action and description in other languages: {"en": {"title": ..., ...}}.
    Column("translations", JSON),
    Column("pledge_count", Integer, nullable=False, server_default="0"),
    Column("checkin_count", Integer, nullable=False, server_default="0"),
    # The smallest milestone or tier threshold not reached yet: pledges only do milestone
    # work when the count reaches it. NULL when every threshold has been reached.
    Column("next_threshold", Integer),
    # Numbers the writes of this challenge's area counts (see `area_counts.version`).
    Column("area_version", Integer, nullable=False, server_default="0"),
    Column("created_by", ForeignKey("members.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The organisation running the challenge; NULL: the deployment's own (its administrators).
    Column("organisation_id", ForeignKey("organisations.id", ondelete="SET NULL"), index=True),
    # public, or members: open to the members of its organisation only, invisible to others.
    Column("visibility", String(10), nullable=False, server_default="public"),
    # A random number drawn again by the database (triggers, revision 0021) whenever the row
    # changes in anything but its counters (pledge_count, checkin_count, area_version), or one
    # of its tiers changes: a challenge cached with the same id and revision is still right
    # (core/services/challenges.py).
    Column("revision", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("goal > 0", name="goal_positive"),
    CheckConstraint("pledge_count >= 0", name="count_not_negative"),
)

tiers = Table(
    "tiers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "challenge_id", ForeignKey("challenges.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("threshold", Integer, nullable=False),
    Column("sponsor", String(120), nullable=False),
    Column("reward", String(300), nullable=False),
    Column("unlocked_at", UTCDateTime),
    Column("kept_at", UTCDateTime),
    Column("proof", Text),
    # The reward in other languages: {"en": "..."}.
    Column("translations", JSON),
    CheckConstraint("threshold > 0", name="threshold_positive"),
)

# The picture a sponsor posted as the proof of a kept promise: re-encoded as JPEG (no
# metadata), kept in the database that every instance shares.
proof_pictures = Table(
    "proof_pictures",
    metadata,
    Column("tier_id", ForeignKey("tiers.id", ondelete="CASCADE"), primary_key=True),
    Column("data", LargeBinary, nullable=False),
    Column("content_type", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

pledges = Table(
    "pledges",
    metadata,
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Column("challenge_id", ForeignKey("challenges.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("withdrawn_at", UTCDateTime),
    Column("referrer_id", ForeignKey("members.id", ondelete="SET NULL")),
    # When the referrer heard of this pledge (NULL: not yet, or no referrer).
    Column("referral_told_at", UTCDateTime),
    Column("area_key", String(120)),
    Column("streak", Integer, nullable=False, server_default="0"),
    Column("best_streak", Integer, nullable=False, server_default="0"),
    Column("last_checkin_on", Date),
    Column("checkin_total", Integer, nullable=False, server_default="0"),
    Index("ix_pledges_challenge_id", "challenge_id"),
)

checkins = Table(
    "checkins",
    metadata,
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Column("challenge_id", ForeignKey("challenges.id", ondelete="CASCADE"), primary_key=True),
    Column("local_day", Date, primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
)

area_counts = Table(
    "area_counts",
    metadata,
    Column("challenge_id", ForeignKey("challenges.id", ondelete="CASCADE"), primary_key=True),
    Column("area_key", String(120), primary_key=True),
    Column("label", String(120), nullable=False),
    Column("pledgers", Integer, nullable=False, server_default="0"),
    # The challenge's `area_version` of the write that last changed the row: every write
    # bumps that version first (taking the challenge's row lock until COMMIT), so versions
    # are committed in order and a reader reads only the rows above the highest it has seen
    # (core/area_cache.py). Rows are never deleted but with their challenge.
    Column("version", Integer, nullable=False, server_default="0"),
    Index("ix_area_counts_challenge_id_version", "challenge_id", "version"),
)

milestones = Table(
    "milestones",
    metadata,
    Column("challenge_id", ForeignKey("challenges.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(10), primary_key=True),
    Column("value", Integer, primary_key=True),
    Column("count_at", Integer, nullable=False),
    Column("reached_at", UTCDateTime, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("challenge_id", ForeignKey("challenges.id", ondelete="CASCADE"), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("dedupe_key", String(120), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    # Set once the event has its delivery rows, in the transaction that wrote them.
    Column("fanned_out_at", UTCDateTime),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", ForeignKey("outbox.id", ondelete="CASCADE")),
    Column("platform", String(16), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("is_group", Boolean, nullable=False, server_default="0"),
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), index=True),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE")),
    Column("locale", String(10), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("challenge_id", ForeignKey("challenges.id", ondelete="CASCADE")),
    Column("broadcast_id", ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True),
    Column("payload", JSON, nullable=False),
    Column("dedupe_key", String(160), nullable=False, unique=True),
    # 0 for messages someone is waiting for; higher numbers are bulk, sent after.
    Column("priority", Integer, nullable=False, server_default="10"),
    Column("status", String(10), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("not_before", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    # The lease of the instance sending the row: nobody else sends it before lease_until.
    Column("claimed_by", String(64)),
    Column("lease_until", UTCDateTime),
    Index("ix_deliveries_status_not_before", "status", "not_before"),
)

sweep_ticks = Table(
    "sweep_ticks",
    metadata,
    # The last run of each periodic sweep, claimed by one instance per tick; also the roles
    # one instance holds at a time (core/roles.py), renewed by their holder.
    Column("job", String(40), primary_key=True),
    Column("ran_at", UTCDateTime, nullable=False),
    Column("ran_by", String(64), nullable=False),
)

groups = Table(
    "groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("platform", String(16), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("language", String(10)),
    Column("created_at", UTCDateTime, nullable=False),
    # Set when the bot was removed from the group or may no longer post there.
    Column("unreachable_at", UTCDateTime),
    UniqueConstraint("platform", "chat_id", name="uq_groups_platform_chat_id"),
)

group_follows = Table(
    "group_follows",
    metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("challenge_id", ForeignKey("challenges.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
)

conversations = Table(
    "conversations",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("chat_id", String(64), primary_key=True),
    Column("account_id", String(64), primary_key=True),
    Column("flow", String(40)),
    Column("step", String(40)),
    Column("data", JSON, nullable=False),
    Column("offered", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

processed_updates = Table(
    "processed_updates",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("update_key", String(64), primary_key=True),
    Column("received_at", UTCDateTime, nullable=False, index=True),
    # In flight while lease_until is set (claimed by an instance); done once it is cleared.
    Column("order_key", String(32)),  # the person or chat whose updates go in order
    Column("seq", BigInteger),  # the platform's update id: the order within order_key
    Column("claimed_by", String(64)),
    Column("lease_until", UTCDateTime),
    Column("started", Boolean, nullable=False, server_default="0"),
    Index("ix_processed_updates_order", "platform", "order_key"),
)

reminders = Table(
    "reminders",
    metadata,
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Column("challenge_id", ForeignKey("challenges.id", ondelete="CASCADE"), primary_key=True),
    # The next moment to remind; NULL while paused, switched off or over. The sweep reads
    # only rows due by this index, so a tick costs what is due, not what exists.
    Column("next_due_at", UTCDateTime, index=True),
    Column("last_due_at", UTCDateTime),
    Column("paused", Boolean, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    # This pledge's own rhythm (daily, weekly) and the day of its weekly reminders (0 =
    # Monday); NULL follows the member's settings.
    Column("rhythm", String(6)),
    Column("weekday", Integer),
)

broadcasts = Table(
    "broadcasts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_by", ForeignKey("members.id", ondelete="SET NULL")),
    # The challenge whose pledgers or following groups hear it; NULL for "every member".
    Column("challenge_id", ForeignKey("challenges.id", ondelete="CASCADE")),
    # Comma-separated audiences: pledgers, members, groups.
    Column("audience", String(40), nullable=False),
    Column("text", Text, nullable=False),
    # draft -> scheduled -> sending -> done, or cancelled.
    Column("status", String(10), nullable=False),
    Column("send_at", UTCDateTime),
    Column("recipients", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("launched_at", UTCDateTime),
    Column("cancelled_at", UTCDateTime),
    Index("ix_broadcasts_status_send_at", "status", "send_at"),
)

job_runs = Table(
    "job_runs",
    metadata,
    # A periodic job that one instance at a time runs (the daily purge): claimed by moving
    # last_run_at forward in one UPDATE, so two processes on one database never both run it.
    Column("name", String(40), primary_key=True),
    Column("last_run_at", UTCDateTime),
)

group_members = Table(
    "group_members",
    metadata,
    # A member seen acting in a group or channel: whose pledges "N people of this group" counts.
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False),
    Index("ix_group_members_member_id", "member_id"),
)

organisations = Table(
    "organisations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slug", String(40), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    # city, association or company.
    Column("kind", String(12), nullable=False),
    # The web page's header: a logo file, a colour (#rrggbb), a contact, a privacy link.
    Column("logo_file", String(200)),
    Column("colour", String(7)),
    Column("contact", String(200)),
    Column("privacy_url", String(300)),
    Column("created_at", UTCDateTime, nullable=False),
)

organisation_members = Table(
    "organisation_members",
    metadata,
    Column("organisation_id", ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    # owner (manages the organisers), organiser (manages the challenges) or member (sees
    # and joins the organisation's private challenges).
    Column("role", String(10), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_organisation_members_member_id", "member_id"),
)

organisation_invites = Table(
    "organisation_invites",
    metadata,
    # A code an owner hands to someone to join the staff with `role` (spent when used), or
    # that the staff share to let people join as members (used by many until it expires).
    Column("code", String(16), primary_key=True),
    Column(
        "organisation_id",
        ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("role", String(10), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

organisation_groups = Table(
    "organisation_groups",
    metadata,
    # A group or channel belongs to one organisation at most.
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "organisation_id",
        ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("created_at", UTCDateTime, nullable=False),
)

conditional_pledges = Table(
    "conditional_pledges",
    metadata,
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Column("challenge_id", ForeignKey("challenges.id", ondelete="CASCADE"), primary_key=True),
    # "area": N pledgers in the area `scope_key` (an area key, as in area_counts);
    # "group": N pledgers seen in the group `scope_key` (its id, see group_members);
    # "organisation": N pledgers among the people of organisation `scope_key` (its id).
    Column("scope", String(12), nullable=False),
    Column("scope_key", String(120), nullable=False),
    # The area as people read it ("Villeurbanne"), for the card.
    Column("scope_label", String(120)),
    Column("threshold", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Set when the condition first held and the pledge became a real one.
    Column("activated_at", UTCDateTime),
    CheckConstraint("threshold > 0", name="threshold_positive"),
    Index("ix_conditional_pledges_challenge_id_activated_at", "challenge_id", "activated_at"),
)

sponsors = Table(
    "sponsors",
    metadata,
    # The account of a tier's sponsor: told when the tier is reached, confirms, posts proof.
    Column("tier_id", ForeignKey("tiers.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    # When the sponsor heard the forecast (the count at 3/4 of the tier), was told the tier
    # was reached, then was last reminded to confirm.
    Column("forecast_at", UTCDateTime),
    Column("told_at", UTCDateTime),
    Column("reminded_at", UTCDateTime),
    Column("confirmed_at", UTCDateTime),
)
