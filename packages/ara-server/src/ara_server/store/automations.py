"""Automation jobs (an account's own schedules) and their runs.

A job belongs to an account and runs in one of the account's apps. Each due time of a job is
recorded once (`firing_key` = job id + fire time, unique), in the same transaction as the run it
queues, so nodes sharing a database fire a job exactly once per due time.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from . import Store
from . import schema as t
from ._common import row_dict
from .runs import new_run_values

__all__ = [
    "RUN_STATES",
    "automation_run",
    "delete_job",
    "enabled_jobs",
    "get_job",
    "insert_job",
    "list_automation_runs",
    "list_jobs",
    "record_job_firing",
    "update_job",
]

#: States of an automation run, as listed (a run's own status maps onto them).
RUN_STATES = ("queued", "running", "succeeded", "failed", "skipped", "cancelled")
_FROM_RUN = {
    "queued": "queued",
    "running": "running",
    "completed": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
}


async def insert_job(conn: AsyncConnection, row: dict[str, Any]) -> dict[str, Any]:
    """Insert a job row (all columns given); returns it."""
    await conn.execute(sa.insert(t.automation_jobs).values(**row))
    return row


async def list_jobs(conn: AsyncConnection, account_id: str) -> list[dict[str, Any]]:
    """The account's jobs, oldest first."""
    rows = await conn.execute(
        sa.select(t.automation_jobs)
        .where(t.automation_jobs.c.account_id == account_id)
        .order_by(t.automation_jobs.c.created_at, t.automation_jobs.c.id)
    )
    return [dict(r._mapping) for r in rows]


async def get_job(conn: AsyncConnection, account_id: str, job_id: str) -> dict[str, Any] | None:
    """One of the account's jobs, or `None`."""
    row = (
        await conn.execute(
            sa.select(t.automation_jobs).where(
                t.automation_jobs.c.id == job_id, t.automation_jobs.c.account_id == account_id
            )
        )
    ).first()
    return row_dict(row)


async def update_job(
    conn: AsyncConnection, account_id: str, job_id: str, values: dict[str, Any]
) -> dict[str, Any] | None:
    """Update one of the account's jobs; returns the new row, or `None` when there is none."""
    if values:
        await conn.execute(
            sa.update(t.automation_jobs)
            .where(t.automation_jobs.c.id == job_id, t.automation_jobs.c.account_id == account_id)
            .values(**values)
        )
    return await get_job(conn, account_id, job_id)


async def delete_job(conn: AsyncConnection, account_id: str, job_id: str) -> bool:
    """Delete one of the account's jobs (its runs stay); `False` when there is none."""
    result = await conn.execute(
        sa.delete(t.automation_jobs).where(
            t.automation_jobs.c.id == job_id, t.automation_jobs.c.account_id == account_id
        )
    )
    return bool(result.rowcount)


async def enabled_jobs(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Every enabled job of every account, with its app row under `app` (active apps only)."""
    rows = await conn.execute(
        sa.select(t.automation_jobs, t.apps.c.status.label("app_status"))
        .join(t.apps, t.apps.c.id == t.automation_jobs.c.app_id)
        .where(t.automation_jobs.c.enabled.is_(True))
        .order_by(t.automation_jobs.c.id)
    )
    return [dict(r._mapping) for r in rows]


async def record_job_firing(store: Store, automation_run: dict[str, Any], run: dict[str, Any] | None) -> bool:
    """Record an automation run and queue its run (when given) in one transaction.

    Returns:
        `False` when a run with the same `firing_key` exists (another node fired this due time).
    """
    try:
        async with store.begin() as conn:
            await conn.execute(sa.insert(t.automation_runs).values(**automation_run))
            if run is not None:
                await conn.execute(sa.insert(t.runs).values(**new_run_values(run)))
    except IntegrityError:
        return False
    return True


def _public(row: dict[str, Any]) -> dict[str, Any]:
    state = row["state"]
    if row.get("run_status") is not None:
        state = _FROM_RUN.get(row["run_status"], state)
    return {
        "id": row["id"],
        "job_id": row["job_id"],
        "job_name": row["job_name"],
        "state": state,
        "scheduled_for": row["scheduled_for"],
        "started_at": row.get("run_started_at"),
        "finished_at": row.get("run_finished_at"),
        "attempt": int(row.get("run_attempt") or 0),
        "app_id": row.get("app_id"),
        "run_id": row.get("run_id"),
        "error": row.get("error") or row.get("run_error"),
        "replay_of": row.get("replay_of"),
        "created_at": row["created_at"],
    }


def _runs_query() -> Any:
    ar, r = t.automation_runs, t.runs
    return sa.select(
        ar,
        r.c.status.label("run_status"),
        r.c.started_at.label("run_started_at"),
        r.c.finished_at.label("run_finished_at"),
        r.c.attempt.label("run_attempt"),
        r.c.error.label("run_error"),
    ).select_from(ar.outerjoin(r, r.c.run_id == ar.c.run_id))


async def list_automation_runs(
    conn: AsyncConnection, account_id: str, state: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The account's automation runs, newest first, at most `limit`, optionally of one `state`
    (one of `RUN_STATES`, after mapping each run's own status). Times are datetimes."""
    ar = t.automation_runs
    out: list[dict[str, Any]] = []
    offset = 0
    while len(out) < limit:
        rows = (
            await conn.execute(
                _runs_query()
                .where(ar.c.account_id == account_id)
                .order_by(ar.c.created_at.desc(), ar.c.id.desc())
                .limit(500)
                .offset(offset)
            )
        ).all()
        for r in rows:
            item = _public(dict(r._mapping))
            if state is None or item["state"] == state:
                out.append(item)
        if len(rows) < 500:
            break
        offset += 500
    return out[:limit]


async def automation_run(conn: AsyncConnection, account_id: str, run_id: str) -> dict[str, Any] | None:
    """One of the account's automation runs (as listed), or `None`."""
    row = (
        await conn.execute(
            _runs_query().where(
                t.automation_runs.c.account_id == account_id, t.automation_runs.c.id == run_id
            )
        )
    ).first()
    return _public(dict(row._mapping)) if row is not None else None
