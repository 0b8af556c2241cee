"""API keys, runtime keys and app header keys: random, shown once, stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from . import schema as t
from ._common import new_id, now, row_dict

__all__ = [
    "KeyMaterial",
    "app_key",
    "create_app_key",
    "hash_key",
    "list_app_keys",
    "revoke_app_key",
]

PREFIXES = {"api": "ara_sk_", "runtime": "ara_rk_", "app_header": "ara_xk_", "invite": "ara_inv_"}


def hash_key(key: str) -> str:
    """SHA-256 hex of a key. Keys carry 256 random bits, so a fast hash is enough (no password stretching)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyMaterial:
    """A freshly generated key: the clear `key` (shown once), its `prefix` and `hash`.

    Args:
        kind: `api`, `runtime`, `app_header` or `invite` (chooses the prefix).
        key: Use this clear key instead of a random one.
    """

    def __init__(self, kind: str, key: str | None = None) -> None:
        self.key = key or PREFIXES[kind] + secrets.token_urlsafe(32)
        self.prefix = self.key[: len(PREFIXES.get(kind, "")) + 6]
        self.hash = hash_key(self.key)


async def create_app_key(
    conn: AsyncConnection, app_id: str, kind: str, name: str, rpm: int
) -> tuple[KeyMaterial, str]:
    """Mint a runtime (`runtime`) or app header (`app_header`) key. Returns the key and its id."""
    material = KeyMaterial(kind)
    key_id = new_id("rk" if kind == "runtime" else "xk")
    await conn.execute(
        sa.insert(t.app_keys).values(
            id=key_id,
            app_id=app_id,
            kind=kind,
            name=name,
            key_prefix=material.prefix,
            key_hash=material.hash,
            requests_per_minute=rpm,
            created_at=now(),
        )
    )
    return material, key_id


async def app_key(
    conn: AsyncConnection, app_id: str, key: str, kinds: tuple[str, ...]
) -> dict[str, Any] | None:
    """The active key row (`id`, `requests_per_minute`) if `key` is one of `kinds` for the app."""
    row = (
        await conn.execute(
            sa.select(t.app_keys.c.id, t.app_keys.c.requests_per_minute).where(
                t.app_keys.c.app_id == app_id,
                t.app_keys.c.key_hash == hash_key(key),
                t.app_keys.c.kind.in_(kinds),
                t.app_keys.c.revoked_at.is_(None),
            )
        )
    ).first()
    return row_dict(row)


async def list_app_keys(conn: AsyncConnection, app_id: str, kind: str) -> list[dict[str, Any]]:
    """Keys of a kind (no hashes): `id`, `name`, `key_prefix`, `requests_per_minute`, `is_active`,
    `created_at` (ISO 8601)."""
    rows = (
        await conn.execute(
            sa.select(t.app_keys)
            .where(t.app_keys.c.app_id == app_id, t.app_keys.c.kind == kind)
            .order_by(t.app_keys.c.created_at)
        )
    ).all()
    return [
        {
            "id": r.id,
            "name": r.name,
            "key_prefix": r.key_prefix,
            "requests_per_minute": r.requests_per_minute,
            "is_active": r.revoked_at is None,
            "created_at": r.created_at.isoformat(),
        }
        for r in rows
    ]


async def revoke_app_key(conn: AsyncConnection, app_id: str, key_id: str, kind: str) -> bool:
    """Revoke a key; `False` if there is no such key."""
    result = await conn.execute(
        sa.update(t.app_keys)
        .where(t.app_keys.c.app_id == app_id, t.app_keys.c.id == key_id, t.app_keys.c.kind == kind)
        .values(revoked_at=now())
    )
    return bool(result.rowcount)
