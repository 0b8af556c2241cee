"""App log lines (what `ara logs` streams)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from . import schema as t
from ._common import now

__all__ = ["add_log", "add_logs", "log_row", "logs_after"]

_INSERT_LOG = sa.insert(t.logs)


async def add_log(
    conn: AsyncConnection, app_id: str, run_id: str | None, level: str, event_type: str, message: str
) -> None:
    """Append a log line for the app."""
    await conn.execute(_INSERT_LOG, log_row(app_id, run_id, level, event_type, message))


def log_row(app_id: str, run_id: str | None, level: str, event_type: str, message: str) -> dict[str, Any]:
    """A logs row to insert (its time is now: lines written later keep the time they were made)."""
    return {
        "app_id": app_id,
        "run_id": run_id,
        "level": level,
        "event_type": event_type,
        "message": message,
        "created_at": now(),
    }


def add_logs(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Append log lines (rows of `log_row`) in this order, on a synchronous connection (a
    transaction function of `Store.write`)."""
    if rows:
        conn.execute(_INSERT_LOG, rows)


async def logs_after(
    conn: AsyncConnection, app_id: str, after_id: int, limit: int = 200
) -> list[dict[str, Any]]:
    """Up to `limit` log rows of an app with id > `after_id`, oldest first."""
    rows = (
        await conn.execute(
            sa.select(t.logs)
            .where(t.logs.c.app_id == app_id, t.logs.c.id > after_id)
            .order_by(t.logs.c.id)
            .limit(limit)
        )
    ).all()
    return [dict(r._mapping) for r in rows]
