"""Keyed key hashes and per-app webhook signing secrets.

Stored SHA-256 digests of API keys, runtime and app header keys and invite tokens become
HMAC-SHA256 digests keyed with the server's pepper (`<data_dir>/keys.pepper`): the new hash is
`HMAC(pepper, old digest)`, so no clear key is needed. Apps get a `webhook_secret` column (the
signing secret of their webhook callbacks, encrypted with the secrets key).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_HASHED = (("api_keys", "id", "key_hash"), ("app_keys", "id", "key_hash"), ("invites", "id", "token_hash"))


def upgrade() -> None:
    bind = op.get_bind()
    hasher = bind.info.get("ara_key_hasher")
    if hasher is None:
        raise RuntimeError("this migration needs the server's key pepper: run it through ara-server's Store")
    for table, key, column in _HASHED:
        rows = bind.execute(sa.text(f"SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL")).all()
        for row_id, digest in rows:
            bind.execute(
                sa.text(f"UPDATE {table} SET {column} = :new WHERE {key} = :id"),
                {"new": hasher.rehash(digest), "id": row_id},
            )
    with op.batch_alter_table("apps") as batch:
        batch.add_column(sa.Column("webhook_secret", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("webhook_secret")
    # Keyed hashes cannot be turned back into plain digests: keys minted before must be minted again.
