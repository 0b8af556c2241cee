"""Runs and the run queue (queued async runs are claimed by any node's workers)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from . import Store
from . import schema as t
from ._common import now, row_dict

__all__ = ["claim_queued_run", "get_run", "insert_run", "new_run_values", "requeue_running", "update_run"]


def new_run_values(row: dict[str, Any]) -> dict[str, Any]:
    """A full runs row: `row` over the defaults of a run that has not started."""
    return {
        "result": None,
        "error": None,
        "callback": None,
        "attempts": 0,
        "started_at": None,
        "finished_at": None,
        "trace": [],
        "created_at": now(),
        **row,
    }


async def insert_run(store: Store, row: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Insert a run in its own transaction; when its idempotency key (or run id) exists, return the
    existing run and `False`.

    Raises:
        sqlalchemy.exc.IntegrityError: The insert failed for another reason.
    """
    values = new_run_values(row)
    try:
        async with store.begin() as conn:
            await conn.execute(sa.insert(t.runs).values(**values))
        return values, True
    except IntegrityError:
        async with store.begin() as conn:
            clause = (
                sa.and_(t.runs.c.app_id == row["app_id"], t.runs.c.idempotency_key == row["idempotency_key"])
                if row.get("idempotency_key")
                else t.runs.c.run_id == row["run_id"]
            )
            existing = row_dict((await conn.execute(sa.select(t.runs).where(clause))).first())
        if existing is None:
            raise
        return existing, False


async def get_run(conn: AsyncConnection, app_id: str, run_id: str) -> dict[str, Any] | None:
    """A run of an app."""
    return row_dict(
        (
            await conn.execute(sa.select(t.runs).where(t.runs.c.app_id == app_id, t.runs.c.run_id == run_id))
        ).first()
    )


async def update_run(conn: AsyncConnection, run_id: str, **values: Any) -> None:
    """Update a run's columns."""
    await conn.execute(sa.update(t.runs).where(t.runs.c.run_id == run_id).values(**values))


async def claim_queued_run(conn: AsyncConnection) -> dict[str, Any] | None:
    """Move the oldest queued run to `running` and return it (the conditional update makes two
    nodes never claim the same run)."""
    row = row_dict(
        (
            await conn.execute(
                sa.select(t.runs).where(t.runs.c.status == "queued").order_by(t.runs.c.created_at).limit(1)
            )
        ).first()
    )
    if row is None:
        return None
    claimed = await conn.execute(
        sa.update(t.runs)
        .where(t.runs.c.run_id == row["run_id"], t.runs.c.status == "queued")
        .values(status="running", started_at=now(), attempts=row["attempts"] + 1)
    )
    if not claimed.rowcount:
        return None
    row.update(status="running")
    return row


async def requeue_running(conn: AsyncConnection) -> int:
    """At startup: async runs left `running` by a crash go back to `queued`. Returns how many."""
    result = await conn.execute(
        sa.update(t.runs)
        .where(t.runs.c.status == "running", t.runs.c.mode == "async")
        .values(status="queued")
    )
    return int(result.rowcount or 0)
