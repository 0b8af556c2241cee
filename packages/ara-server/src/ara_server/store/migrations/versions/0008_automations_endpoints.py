"""Automation jobs and their runs, and the webhook ids endpoints have seen (replay protection).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "automation_jobs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "account_id", sa.String(40), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("app_id", sa.String(40), sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("schedule_kind", sa.String(8), nullable=False),
        sa.Column("every_seconds", sa.Integer),
        sa.Column("schedule_expr", sa.String(200)),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("execution_mode", sa.String(32), nullable=False),
        sa.Column("misfire_policy", sa.String(32), nullable=False),
        sa.Column("max_retries", sa.Integer, nullable=False),
        sa.Column("retry_backoff_seconds", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_automation_jobs_account", "automation_jobs", ["account_id"])
    op.create_table(
        "automation_runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "account_id", sa.String(40), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("job_id", sa.String(40), nullable=False),
        sa.Column("job_name", sa.String(200), nullable=False),
        sa.Column("firing_key", sa.String(128), unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("scheduled_for", TS, nullable=False),
        sa.Column("app_id", sa.String(40)),
        sa.Column("run_id", sa.String(128)),
        sa.Column("error", sa.Text),
        sa.Column("replay_of", sa.String(40)),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_automation_runs_account", "automation_runs", ["account_id", "created_at"])
    op.create_table(
        "webhook_ids",
        sa.Column("app_id", sa.String(40), sa.ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("label", sa.String(200), primary_key=True),
        sa.Column("msg_id", sa.String(256), primary_key=True),
        sa.Column("seen_at", TS, nullable=False),
    )
    op.create_index("ix_webhook_ids_seen", "webhook_ids", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_ids_seen", "webhook_ids")
    op.drop_table("webhook_ids")
    op.drop_index("ix_automation_runs_account", "automation_runs")
    op.drop_table("automation_runs")
    op.drop_index("ix_automation_jobs_account", "automation_jobs")
    op.drop_table("automation_jobs")
