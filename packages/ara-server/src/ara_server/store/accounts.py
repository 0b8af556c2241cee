"""Accounts and their API keys."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from . import schema as t
from ._common import new_id, now, row_dict
from .keys import KeyMaterial, hasher_of

__all__ = ["account_by_email", "account_for_api_key", "ensure_owner", "new_api_key", "rotate_api_key"]


async def _insert_api_key(conn: AsyncConnection, account_id: str, material: KeyMaterial) -> str:
    key_id = new_id("key")
    await conn.execute(
        sa.insert(t.api_keys).values(
            id=key_id,
            account_id=account_id,
            key_prefix=material.prefix,
            key_hash=material.hash,
            created_at=now(),
        )
    )
    return key_id


async def ensure_owner(conn: AsyncConnection, owner_email: str, api_key: str | None) -> str | None:
    """Create the owner account on first start; register `api_key` for it when given.

    Returns:
        The clear key when one was generated now, else `None`.
    """
    owner = row_dict((await conn.execute(sa.select(t.accounts).where(t.accounts.c.is_owner))).first())
    if owner is None:
        owner = {"id": new_id("acct"), "email": owner_email, "is_owner": True, "created_at": now()}
        await conn.execute(sa.insert(t.accounts).values(**owner))
    generated = None
    if api_key:
        material = KeyMaterial("api", hasher_of(conn), api_key)
    else:
        has_key = (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(t.api_keys)
                .where(t.api_keys.c.account_id == owner["id"], t.api_keys.c.revoked_at.is_(None))
            )
        ).scalar_one()
        if has_key:
            return None
        material = KeyMaterial("api", hasher_of(conn))
        generated = material.key
    exists = (
        await conn.execute(
            sa.select(t.api_keys.c.id).where(t.api_keys.c.key_hash.in_(hasher_of(conn).hashes(material.key)))
        )
    ).first()
    if exists is None:
        await _insert_api_key(conn, owner["id"], material)
    return generated


async def account_for_api_key(conn: AsyncConnection, key: str) -> dict[str, Any] | None:
    """The account owning an active API key."""
    row = (
        await conn.execute(
            sa.select(t.accounts)
            .join(t.api_keys, t.api_keys.c.account_id == t.accounts.c.id)
            .where(t.api_keys.c.key_hash.in_(hasher_of(conn).hashes(key)), t.api_keys.c.revoked_at.is_(None))
        )
    ).first()
    return row_dict(row)


async def account_by_email(
    conn: AsyncConnection, email: str, *, create: bool = False
) -> dict[str, Any] | None:
    """The account with this email (created when `create`)."""
    row = row_dict((await conn.execute(sa.select(t.accounts).where(t.accounts.c.email == email))).first())
    if row is None and create:
        row = {"id": new_id("acct"), "email": email, "is_owner": False, "created_at": now()}
        await conn.execute(sa.insert(t.accounts).values(**row))
    return row


async def new_api_key(conn: AsyncConnection, account_id: str) -> KeyMaterial:
    """Mint an API key for an account (invitees, tests)."""
    material = KeyMaterial("api", hasher_of(conn))
    await _insert_api_key(conn, account_id, material)
    return material


async def rotate_api_key(conn: AsyncConnection, account_id: str, old_key: str) -> tuple[KeyMaterial, str]:
    """Revoke the calling key and mint a new one. Returns the new key and its id."""
    await conn.execute(
        sa.update(t.api_keys)
        .where(
            t.api_keys.c.account_id == account_id,
            t.api_keys.c.key_hash.in_(hasher_of(conn).hashes(old_key)),
        )
        .values(revoked_at=now())
    )
    material = KeyMaterial("api", hasher_of(conn))
    return material, await _insert_api_key(conn, account_id, material)
