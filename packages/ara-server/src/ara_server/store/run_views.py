"""Reading runs for people: a filtered, cursor-paginated list (newest first) and the log lines of
one run in order (the events of a run's stream)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from . import schema as t

__all__ = ["list_runs", "run_logs_after"]


async def list_runs(
    conn: AsyncConnection,
    app_id: str,
    *,
    status: str | None = None,
    agent: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    before: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Runs of an app, newest first (`created_at`, then `run_id`, descending), at most `limit`.

    Args:
        status: Only runs with this status.
        agent: Only runs of this agent or workflow id.
        kind: Only runs of this kind (`agent`, `command`, ...).
        since: Only runs created at or after this time.
        before: A cursor: only runs strictly after `(created_at, run_id)` in the order.
        limit: Most rows returned.
    """
    r = t.runs
    query = sa.select(r).where(r.c.app_id == app_id)
    if status:
        query = query.where(r.c.status == status)
    if agent:
        query = query.where(sa.or_(r.c.agent_id == agent, r.c.workflow_id == agent))
    if kind:
        query = query.where(r.c.kind == kind)
    if since is not None:
        query = query.where(r.c.created_at >= since)
    if before is not None:
        at, run_id = before
        query = query.where(sa.or_(r.c.created_at < at, sa.and_(r.c.created_at == at, r.c.run_id < run_id)))
    rows = await conn.execute(query.order_by(r.c.created_at.desc(), r.c.run_id.desc()).limit(limit))
    return [dict(x._mapping) for x in rows]


async def run_logs_after(
    conn: AsyncConnection, app_id: str, run_id: str, after_id: int, limit: int = 200
) -> list[dict[str, Any]]:
    """Up to `limit` log rows of one run with id > `after_id`, oldest first (the id is the event's
    sequence number)."""
    rows = await conn.execute(
        sa.select(t.logs)
        .where(t.logs.c.app_id == app_id, t.logs.c.run_id == run_id, t.logs.c.id > after_id)
        .order_by(t.logs.c.id)
        .limit(limit)
    )
    return [dict(x._mapping) for x in rows]
