"""App secrets: values encrypted at rest (`SecretBox`), names and key names readable."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..settings import SecretBox
from . import schema as t
from ._common import now

__all__ = ["delete_secret", "list_secrets", "put_secret", "secret_env"]


async def put_secret(
    conn: AsyncConnection, box: SecretBox, app_id: str, name: str, values: dict[str, str]
) -> None:
    """Create or replace a secret (values encrypted with `box`)."""
    sealed = box.seal(values)
    exists = (
        await conn.execute(
            sa.select(t.secrets.c.name).where(t.secrets.c.app_id == app_id, t.secrets.c.name == name)
        )
    ).first()
    stmt = (
        sa.update(t.secrets).where(t.secrets.c.app_id == app_id, t.secrets.c.name == name)
        if exists
        else sa.insert(t.secrets).values(app_id=app_id, name=name)
    )
    await conn.execute(stmt.values(ciphertext=sealed, keys=sorted(values), updated_at=now()))


async def list_secrets(conn: AsyncConnection, app_id: str) -> list[dict[str, Any]]:
    """Secret names and key names (`name`, `keys`, `updated_at` ISO 8601), never values."""
    rows = (
        await conn.execute(
            sa.select(t.secrets.c.name, t.secrets.c["keys"], t.secrets.c.updated_at)
            .where(t.secrets.c.app_id == app_id)
            .order_by(t.secrets.c.name)
        )
    ).all()
    return [
        {"name": r.name, "keys": r._mapping["keys"], "updated_at": r.updated_at.isoformat()} for r in rows
    ]


async def delete_secret(conn: AsyncConnection, app_id: str, name: str) -> bool:
    """Delete a secret; `False` if absent."""
    result = await conn.execute(
        sa.delete(t.secrets).where(t.secrets.c.app_id == app_id, t.secrets.c.name == name)
    )
    return bool(result.rowcount)


async def secret_env(conn: AsyncConnection, box: SecretBox, app_id: str) -> dict[str, str]:
    """All secret values of an app merged into one environment (for its sandbox)."""
    rows = (
        await conn.execute(
            sa.select(t.secrets.c.ciphertext).where(t.secrets.c.app_id == app_id).order_by(t.secrets.c.name)
        )
    ).all()
    env: dict[str, str] = {}
    for r in rows:
        env.update({str(k): str(v) for k, v in box.open(r.ciphertext).items()})
    return env
