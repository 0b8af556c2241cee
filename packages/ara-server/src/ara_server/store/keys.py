"""API keys, runtime keys, app header keys and invite tokens: random, shown once, stored only as
keyed hashes (HMAC-SHA256 with the database's key pepper, stored in the database wrapped by the
secrets key, so every node of one database hashes alike; see `store.keyring`)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from . import schema as t
from ._common import new_id, now, row_dict

__all__ = [
    "HASHER_INFO_KEY",
    "KeyHasher",
    "KeyMaterial",
    "hasher_of",
    "app_key",
    "create_app_key",
    "list_app_keys",
    "revoke_app_key",
]

PREFIXES = {"api": "ara_sk_", "runtime": "ara_rk_", "app_header": "ara_xk_", "invite": "ara_inv_"}


#: Where the `KeyHasher` of a connection is kept (`connection.info`, set by `Store` on connect).
HASHER_INFO_KEY = "ara_key_hasher"
PEPPER_FILE = "keys.pepper"


class KeyHasher:
    """The keyed hash of key material: `hex(HMAC-SHA256(pepper, hex(SHA-256(key))))`.

    Hashing the SHA-256 digest (not the key itself) lets databases written before the pepper
    existed be migrated: their stored SHA-256 digests are re-hashed with `rehash`, no clear key
    needed. A leaked database alone then no longer lets anyone test guessed keys: the pepper is
    stored in the database wrapped by the secrets key (`store.keyring.load_pepper`).

    A `Store` creates its hasher without a pepper and gives it the database's pepper when it opens
    (`use`). Legacy peppers (a node's former `<data_dir>/keys.pepper` that differs from the
    database's) are still accepted when looking keys up (`hashes`), never used for new keys.

    Args:
        pepper: The secret (32 random bytes); `None` until `use` is called.
    """

    def __init__(self, pepper: bytes | None = None) -> None:
        self._peppers: tuple[bytes, ...] = ()
        if pepper is not None:
            self.use(pepper)

    def use(self, pepper: bytes, legacy: Sequence[bytes] = ()) -> None:
        """Hash with `pepper` from now on, and also accept keys hashed with the `legacy` peppers.

        Raises:
            ValueError: A pepper is shorter than 16 bytes.
        """
        for one in (pepper, *legacy):
            if len(one) < 16:
                raise ValueError("the key pepper must be at least 16 bytes")
        self._peppers = (pepper, *(one for one in legacy if one != pepper))

    @classmethod
    def load(cls, data_dir: Path) -> KeyHasher:
        """The hasher of `<data_dir>/keys.pepper` (the per-node pepper of older servers), created
        (mode 0600, 32 random bytes) when missing."""
        path = data_dir / PEPPER_FILE
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another node or process created it first
                pass
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(secrets.token_bytes(32).hex().encode())
        return cls(bytes.fromhex(path.read_text().strip()))

    def _pepper(self) -> bytes:
        if not self._peppers:
            raise RuntimeError("the key pepper is not loaded yet: open the Store first")
        return self._peppers[0]

    def rehash(self, digest: str) -> str:
        """The keyed hash of a stored SHA-256 hex digest (migration of unkeyed hashes)."""
        return hmac.new(self._pepper(), digest.encode("ascii"), hashlib.sha256).hexdigest()

    def hash(self, key: str) -> str:
        """The keyed hash of a clear key (64 hex characters), with the current pepper."""
        return self.rehash(self._digest(key))

    def hashes(self, key: str) -> list[str]:
        """Every hash a stored key may have: the current pepper's first, then the legacy ones'."""
        self._pepper()
        digest = self._digest(key).encode("ascii")
        return [hmac.new(one, digest, hashlib.sha256).hexdigest() for one in self._peppers]

    @staticmethod
    def _digest(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def hasher_of(conn: AsyncConnection) -> KeyHasher:
    """The `KeyHasher` the store attached to this connection.

    Raises:
        RuntimeError: The connection does not come from an opened `Store`.
    """
    hasher = conn.info.get(HASHER_INFO_KEY)
    if not isinstance(hasher, KeyHasher):
        raise RuntimeError("connection without a key hasher: open it through Store")
    return hasher


class KeyMaterial:
    """A freshly generated key: the clear `key` (shown once), its `prefix` and its keyed `hash`.

    Args:
        kind: `api`, `runtime`, `app_header` or `invite` (chooses the prefix).
        hasher: The server's key hasher.
        key: Use this clear key instead of a random one.
    """

    def __init__(self, kind: str, hasher: KeyHasher, key: str | None = None) -> None:
        self.key = key or PREFIXES[kind] + secrets.token_urlsafe(32)
        self.prefix = self.key[: len(PREFIXES.get(kind, "")) + 6]
        self.hash = hasher.hash(self.key)


async def create_app_key(
    conn: AsyncConnection, app_id: str, kind: str, name: str, rpm: int
) -> tuple[KeyMaterial, str]:
    """Mint a runtime (`runtime`) or app header (`app_header`) key. Returns the key and its id."""
    material = KeyMaterial(kind, hasher_of(conn))
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
                t.app_keys.c.key_hash.in_(hasher_of(conn).hashes(key)),
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
    """Revoke a key of the app (revoking it again keeps the first revocation time); `False` if the
    app has no such key."""
    result = await conn.execute(
        sa.update(t.app_keys)
        .where(t.app_keys.c.app_id == app_id, t.app_keys.c.id == key_id, t.app_keys.c.kind == kind)
        .values(revoked_at=sa.func.coalesce(t.app_keys.c.revoked_at, now()))
    )
    return bool(result.rowcount)
