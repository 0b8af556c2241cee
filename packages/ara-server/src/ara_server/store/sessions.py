"""User sessions (one running session per account at most)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from . import schema as t
from ._common import new_id, now, row_dict

__all__ = ["latest_session", "start_session", "stop_session"]


async def latest_session(conn: AsyncConnection, account_id: str) -> dict[str, Any] | None:
    """The account's latest session, if any."""
    return row_dict(
        (
            await conn.execute(
                sa.select(t.sessions)
                .where(t.sessions.c.account_id == account_id)
                .order_by(t.sessions.c.created_at.desc())
                .limit(1)
            )
        ).first()
    )


async def start_session(conn: AsyncConnection, account_id: str) -> tuple[dict[str, Any], bool]:
    """The account's running session, or a new one. Returns `(row, created)`."""
    row = await latest_session(conn, account_id)
    if row and row["status"] == "running":
        return row, False
    row = {
        "id": new_id("sess"),
        "account_id": account_id,
        "status": "running",
        "created_at": now(),
        "stopped_at": None,
    }
    await conn.execute(sa.insert(t.sessions).values(**row))
    return row, True


async def stop_session(conn: AsyncConnection, account_id: str) -> dict[str, Any] | None:
    """Stop the account's running session; returns it, or `None` when none runs."""
    row = await latest_session(conn, account_id)
    if not row or row["status"] != "running":
        return None
    await conn.execute(
        sa.update(t.sessions).where(t.sessions.c.id == row["id"]).values(status="stopped", stopped_at=now())
    )
    return {**row, "status": "stopped"}
