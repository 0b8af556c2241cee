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
    sa.Column("webhook_secret", sa.Text),  # signing secret of webhook callbacks, encrypted
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
    sa.Column("attempt", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("started_at", Timestamp),
    sa.Column("finished_at", Timestamp),
    # the lifecycle: who holds the run, until when, and when it may start (retry backoff)
    sa.Column("max_attempts", sa.Integer, nullable=False, server_default="1"),
    sa.Column("not_before", Timestamp, nullable=False),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_expires_at", Timestamp),
    sa.Column("heartbeat_at", Timestamp),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("concurrency_key", sa.String(320)),
    sa.Column("max_concurrency", sa.Integer),
    sa.UniqueConstraint("app_id", "idempotency_key", name="uq_runs_app_idempotency"),
    sa.Index("ix_runs_claim", "status", "not_before"),
    sa.Index("ix_runs_lease", "status", "lease_expires_at"),
    sa.Index("ix_runs_concurrency", "concurrency_key", "status"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    sa.Column("run_id", sa.String(128), nullable=False),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | delivered | failed
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("not_before", Timestamp, nullable=False),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_expires_at", Timestamp),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("delivered_at", Timestamp),
    sa.Index("ix_outbox_claim", "status", "not_before"),
)

server_keys = sa.Table(
    "server_keys",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("wrapped", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
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

automation_jobs = sa.Table(
    "automation_jobs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("app_id", sa.String(40), sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("schedule_kind", sa.String(8), nullable=False),  # every | cron
    sa.Column("every_seconds", sa.Integer),
    sa.Column("schedule_expr", sa.String(200)),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("execution_mode", sa.String(32), nullable=False),
    sa.Column("misfire_policy", sa.String(32), nullable=False),
    sa.Column("max_retries", sa.Integer, nullable=False),
    sa.Column("retry_backoff_seconds", sa.Integer, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Index("ix_automation_jobs_account", "account_id"),
)

automation_runs = sa.Table(
    "automation_runs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("job_id", sa.String(40), nullable=False),  # no foreign key: runs outlive their job
    sa.Column("job_name", sa.String(200), nullable=False),
    sa.Column("firing_key", sa.String(128), unique=True),  # job id + fire time; NULL for replays
    sa.Column("state", sa.String(16), nullable=False),  # queued | skipped | failed (else: its run's)
    sa.Column("scheduled_for", Timestamp, nullable=False),
    sa.Column("app_id", sa.String(40)),
    sa.Column("run_id", sa.String(128)),
    sa.Column("error", sa.Text),
    sa.Column("replay_of", sa.String(40)),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index("ix_automation_runs_account", "account_id", "created_at"),
)

webhook_ids = sa.Table(
    "webhook_ids",
    metadata,
    sa.Column("app_id", sa.String(40), sa.ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("label", sa.String(200), primary_key=True),
    sa.Column("msg_id", sa.String(256), primary_key=True),
    sa.Column("seen_at", Timestamp, nullable=False),
    sa.Index("ix_webhook_ids_seen", "seen_at"),
)
