"""Invite tokens: an invitee accepts with the token (sent to them out of band) and gets an API key.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invites") as batch:
        batch.add_column(sa.Column("token_hash", sa.String(64)))
        batch.add_column(sa.Column("accepted_at", sa.DateTime(timezone=True)))
        batch.create_unique_constraint("uq_invites_token_hash", ["token_hash"])


def downgrade() -> None:
    with op.batch_alter_table("invites") as batch:
        batch.drop_constraint("uq_invites_token_hash", type_="unique")
        batch.drop_column("accepted_at")
        batch.drop_column("token_hash")
