"""The run lifecycle (attempt, lease, heartbeat, retry backoff, cancellation, concurrency), the
durable webhook outbox, and the wrapped secrets key shared by every node.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.drop_index("ix_runs_status", "runs")
    with op.batch_alter_table("runs") as batch:
        batch.alter_column(
            "attempts", new_column_name="attempt", existing_type=sa.Integer, existing_nullable=False
        )
        batch.add_column(sa.Column("max_attempts", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("not_before", TS))
        batch.add_column(sa.Column("lease_owner", sa.String(64)))
        batch.add_column(sa.Column("lease_expires_at", TS))
        batch.add_column(sa.Column("heartbeat_at", TS))
        batch.add_column(sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("concurrency_key", sa.String(320)))
        batch.add_column(sa.Column("max_concurrency", sa.Integer))
    op.execute("UPDATE runs SET not_before = created_at")
    # runs a crashed node left running get a lease that has already expired: any node reclaims them
    op.execute("UPDATE runs SET lease_expires_at = created_at WHERE status = 'running'")
    with op.batch_alter_table("runs") as batch:
        batch.alter_column("not_before", existing_type=TS, nullable=False)
    op.create_index("ix_runs_claim", "runs", ["status", "not_before"])
    op.create_index("ix_runs_lease", "runs", ["status", "lease_expires_at"])
    op.create_index("ix_runs_concurrency", "runs", ["concurrency_key", "status"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("app_id", sa.String(40), sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("not_before", TS, nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_at", TS),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("delivered_at", TS),
    )
    op.create_index("ix_outbox_claim", "outbox", ["status", "not_before"])
    op.create_table(
        "server_keys",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("wrapped", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("server_keys")
    op.drop_index("ix_outbox_claim", "outbox")
    op.drop_table("outbox")
    op.drop_index("ix_runs_concurrency", "runs")
    op.drop_index("ix_runs_lease", "runs")
    op.drop_index("ix_runs_claim", "runs")
    with op.batch_alter_table("runs") as batch:
        for name in (
            "max_concurrency",
            "concurrency_key",
            "cancel_requested",
            "heartbeat_at",
            "lease_expires_at",
            "lease_owner",
            "not_before",
            "max_attempts",
        ):
            batch.drop_column(name)
        batch.alter_column(
            "attempt", new_column_name="attempts", existing_type=sa.Integer, existing_nullable=False
        )
    op.create_index("ix_runs_status", "runs", ["status"])
