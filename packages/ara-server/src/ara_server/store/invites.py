"""Invites: a role on an app granted to an email, and a one-time token that trades for an API key."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from . import schema as t
from ._common import new_id, now, row_dict
from ._upsert import upsert
from .accounts import account_by_email, new_api_key
from .keys import KeyMaterial, hasher_of

__all__ = ["accept_invite", "invite"]


async def invite(conn: AsyncConnection, app_id: str, email: str, role: str, hours: int) -> dict[str, Any]:
    """Record an invite and grant the role (the invitee's account is created if needed).

    Returns:
        The invite row plus `account_id` and the clear `token` (shown once).
    """
    account = await account_by_email(conn, email, create=True)
    assert account is not None
    token = KeyMaterial("invite", hasher_of(conn))
    row = {
        "id": new_id("inv"),
        "app_id": app_id,
        "email": email,
        "role": role,
        "created_at": now(),
        "expires_at": now() + timedelta(hours=hours),
        "token_hash": token.hash,
    }
    await conn.execute(sa.insert(t.invites).values(**row))
    await upsert(
        conn,
        t.app_members,
        {"app_id": app_id, "account_id": account["id"], "role": role, "created_at": now()},
        conflict=("app_id", "account_id"),
        update=("role",),
    )
    return {**row, "account_id": account["id"], "token": token.key}


async def accept_invite(conn: AsyncConnection, token: str) -> tuple[dict[str, Any], KeyMaterial] | None:
    """Redeem an invite token once: returns the invite and a new API key for the invitee, or `None`
    when the token is unknown, used or expired."""
    found = row_dict(
        (
            await conn.execute(
                sa.select(t.invites).where(
                    t.invites.c.token_hash.in_(hasher_of(conn).hashes(token)),
                    t.invites.c.accepted_at.is_(None),
                )
            )
        ).first()
    )
    if found is None:
        return None
    expires = found["expires_at"]
    expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
    if expires < now():
        return None
    claimed = await conn.execute(
        sa.update(t.invites)
        .where(t.invites.c.id == found["id"], t.invites.c.accepted_at.is_(None))
        .values(accepted_at=now())
    )
    if not claimed.rowcount:
        return None
    account = await account_by_email(conn, found["email"], create=True)
    assert account is not None
    return found, await new_api_key(conn, account["id"])
