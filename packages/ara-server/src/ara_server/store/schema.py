"""The database schema (SQLAlchemy Core). Changes go through Alembic migrations in `migrations/`."""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["metadata"]

metadata = sa.MetaData()

Timestamp = sa.DateTime(timezone=True)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("is_owner", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("key_prefix", sa.String(32), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("revoked_at", Timestamp),
)

apps = sa.Table(
    "apps",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("owner_id", sa.String(40), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("slug", sa.String(128), nullable=False, unique=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="inactive"),
    sa.Column("manifest", sa.JSON, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

app_members = sa.Table(
    "app_members",
    metadata,
    sa.Column("app_id", sa.String(40), sa.ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
    sa.Column(
        "account_id", sa.String(40), sa.ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

invites = sa.Table(
    "invites",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False),
    sa.Column("token_hash", sa.String(64), unique=True),
    sa.Column("accepted_at", Timestamp),
)

app_keys = sa.Table(
    "app_keys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # runtime | app_header
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("key_prefix", sa.String(32), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("requests_per_minute", sa.Integer, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("revoked_at", Timestamp),
)

secrets = sa.Table(
    "secrets",
    metadata,
    sa.Column("app_id", sa.String(40), sa.ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("ciphertext", sa.Text, nullable=False),
    sa.Column("keys", sa.JSON, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(128), primary_key=True),
    sa.Column("app_id", sa.String(40), sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    sa.Column("agent_id", sa.String(256), nullable=False),
    sa.Column("workflow_id", sa.String(256)),
    sa.Column("kind", sa.String(16), nullable=False, server_default="agent"),  # agent | command
    sa.Column("mode", sa.String(8), nullable=False),  # sync | async
    sa.Column("status", sa.String(16), nullable=False),  # queued|running|completed|failed|cancelled
    sa.Column("input", sa.JSON, nullable=False),
    sa.Column("result", sa.JSON),
    sa.Column("trace", sa.JSON, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("idempotency_key", sa.String(256)),
    sa.Column("callback", sa.JSON),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("started_at", Timestamp),
    sa.Column("finished_at", Timestamp),
    sa.UniqueConstraint("app_id", "idempotency_key", name="uq_runs_app_idempotency"),
    sa.Index("ix_runs_status", "status"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    sa.Column("idempotency_key", sa.String(256)),
    sa.Column("body_hash", sa.String(64), nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("response", sa.JSON, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.UniqueConstraint("app_id", "idempotency_key", name="uq_events_app_idempotency"),
)

logs = sa.Table(
    "logs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "app_id", sa.String(40), sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("run_id", sa.String(128)),
    sa.Column("level", sa.String(8), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column(
        "account_id",
        sa.String(40),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("stopped_at", Timestamp),
)

schedule_firings = sa.Table(
    "schedule_firings",
    metadata,
    sa.Column("app_id", sa.String(40), sa.ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("schedule_key", sa.String(512), primary_key=True),
    sa.Column("fire_time", Timestamp, primary_key=True),
    sa.Column("run_id", sa.String(128), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)
