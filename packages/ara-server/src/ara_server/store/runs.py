"""Runs and the run queue: one lifecycle for every run, shared by every node of a database.

A run is `queued`, then `running` under a lease held by one node (`lease_owner` until
`lease_expires_at`, extended by heartbeats), then `completed`, `failed` or `cancelled`. A failed
attempt with retries left goes back to `queued` with `not_before` in the future. A run whose lease
expired (its node died) is claimable again by any node, with `attempt + 1`.

Claims are one statement: on PostgreSQL an `UPDATE ... WHERE run_id = (SELECT ... FOR UPDATE SKIP
LOCKED) RETURNING`, after a transaction-scoped advisory lock that serialises claims so that the
count of running runs per concurrency key is exact across nodes; on SQLite the same conditional
`UPDATE ... RETURNING` (SQLite has a single writer).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from . import Store
from . import schema as t
from ._common import now, row_dict

__all__ = [
    "ACTIVE",
    "TERMINAL",
    "CancelOutcome",
    "claim_run",
    "end_lost_runs",
    "finish_run",
    "finish_run_sync",
    "get_run",
    "get_runs",
    "heartbeat",
    "insert_run",
    "insert_run_claimed",
    "insert_runs",
    "new_run_values",
    "release_run",
    "request_cancel",
    "retry_run",
    "update_run",
]

#: Statuses of a run that has not ended.
ACTIVE = ("queued", "running")
#: Statuses of a run that has ended.
TERMINAL = ("completed", "failed", "cancelled")

#: Key of the PostgreSQL advisory lock that serialises claims (any constant; documented in docs/server.md).
CLAIM_LOCK_KEY = 0x61726163  # "arac"


def new_run_values(row: dict[str, Any]) -> dict[str, Any]:
    """A full runs row: `row` over the defaults of a run that has not started (queued, runnable now)."""
    created = row.get("created_at") or now()
    return {
        "result": None,
        "error": None,
        "callback": None,
        "attempt": 0,
        "max_attempts": 1,
        "started_at": None,
        "finished_at": None,
        "trace": [],
        "created_at": created,
        "not_before": created,
        "cancel_requested": False,
        **row,
    }


async def insert_runs(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert runs on `conn` (the caller's transaction: an event and its runs commit together).

    Returns:
        The full rows inserted.

    Raises:
        sqlalchemy.exc.IntegrityError: A run id or idempotency key exists.
    """
    values = [new_run_values(r) for r in rows]
    if values:
        await conn.execute(sa.insert(t.runs), values)
    return values


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
            existing = None
            if row.get("idempotency_key"):
                existing = row_dict(
                    (
                        await conn.execute(
                            sa.select(t.runs).where(
                                t.runs.c.app_id == row["app_id"],
                                t.runs.c.idempotency_key == row["idempotency_key"],
                            )
                        )
                    ).first()
                )
            if existing is None:
                existing = row_dict(
                    (await conn.execute(sa.select(t.runs).where(t.runs.c.run_id == row["run_id"]))).first()
                )
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


async def get_runs(conn: AsyncConnection, run_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The runs with these ids (any app), in no particular order."""
    if not run_ids:
        return []
    rows = (await conn.execute(sa.select(t.runs).where(t.runs.c.run_id.in_(list(run_ids))))).all()
    return [dict(r._mapping) for r in rows]


async def update_run(conn: AsyncConnection, run_id: str, **values: Any) -> None:
    """Update a run's columns (no lifecycle check: for columns other than the status)."""
    await conn.execute(sa.update(t.runs).where(t.runs.c.run_id == run_id).values(**values))


def _claimable(r: Any, at: datetime) -> Any:
    """Queued and due, or running under a lease that expired with an attempt left for a lost node."""
    return sa.or_(
        sa.and_(r.c.status == "queued", r.c.not_before <= at),
        sa.and_(
            r.c.status == "running",
            r.c.lease_expires_at < at,
            r.c.attempt <= r.c.max_attempts,
            r.c.cancel_requested == sa.false(),
        ),
    )


def _under_limit(r: Any, at: datetime) -> Any:
    """The run's concurrency key has fewer live running runs than its limit (or it has no limit)."""
    c = t.runs.alias("busy")
    running = (
        sa.select(sa.func.count())
        .select_from(c)
        .where(
            c.c.concurrency_key == r.c.concurrency_key,
            c.c.status == "running",
            c.c.lease_expires_at >= at,
        )
        .scalar_subquery()
    )
    return sa.or_(r.c.max_concurrency.is_(None), r.c.concurrency_key.is_(None), running < r.c.max_concurrency)


async def claim_run(
    conn: AsyncConnection,
    node_id: str,
    lease_seconds: float,
    *,
    run_id: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any] | None:
    """Claim one runnable run for `node_id` (oldest due first), or the run `run_id` when given.

    A claimable run is queued with `not_before` due, or running under an expired lease (its node
    died) with `attempt <= max_attempts`; its concurrency key must have fewer live running runs than
    its `max_concurrency`. The claim sets `running`, `attempt + 1`, the lease and the heartbeat.

    Args:
        conn: A connection in a transaction (commit right after).
        node_id: This node's id (`lease_owner`).
        lease_seconds: Lease length, in seconds.
        run_id: Claim only this run (a sync request runs its own run on its node when it can).
        at: The current time (default now).

    Returns:
        The claimed row (after the update), or `None`.
    """
    at = at or now()
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(CLAIM_LOCK_KEY)))
    r = t.runs.alias("cand")
    pick = sa.select(r.c.run_id).where(_claimable(r, at), _under_limit(r, at))
    if run_id is not None:
        pick = pick.where(r.c.run_id == run_id)
    pick = pick.order_by(r.c.not_before).limit(1).with_for_update(skip_locked=True)
    if conn.dialect.name == "sqlite" and (await conn.execute(pick)).first() is None:
        # Nothing to claim: answer from a plain read. SQLite has one write lock, and an UPDATE
        # takes it even when it changes nothing: idle workers' polls stalled the group-commit
        # writer (the UPDATE below checks the same conditions again when there is a candidate).
        return None
    claim = _claim(pick, node_id, at + timedelta(seconds=lease_seconds), at)
    return row_dict((await conn.execute(claim)).first())


def insert_run_claimed(
    conn: sa.Connection,
    row: dict[str, Any],
    node_id: str | None,
    lease_seconds: float,
    *,
    at: datetime | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Insert a run and claim it for `node_id` in the same transaction (a synchronous transaction
    function of `Store.write`): a sync run starts on the node that received it without a round
    trip through the queue.

    The claim is the one `claim_run` makes for this run (the same conditions: it stays queued for
    any node's workers when its concurrency key is at its limit). With `node_id` None the run is
    only inserted (queued).

    Args:
        conn: A synchronous connection in a transaction.
        row: The run's columns (see `new_run_values`).
        node_id: The node that claims it, or None.
        lease_seconds: Lease length, in seconds.
        at: The current time (default now).

    Returns:
        `(the inserted row, the claimed row or None)`.

    Raises:
        sqlalchemy.exc.IntegrityError: The run id or idempotency key exists (nothing was written).
    """
    at = at or now()
    values = new_run_values({"created_at": at, **row})
    conn.execute(_INSERT_RUN, values)
    if node_id is None:
        return values, None
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(CLAIM_LOCK_KEY)))
    claimed = conn.execute(
        _claim_this_run(),
        {
            "claim_run_id": values["run_id"],
            "claim_at": at,
            "claim_node_id": node_id,
            "claim_lease_until": at + timedelta(seconds=lease_seconds),
        },
    ).first()
    return values, row_dict(claimed)


_INSERT_RUN = sa.insert(t.runs)


@functools.cache
def _claim_this_run() -> Any:
    """`claim_run`'s claim of one run by id, built once with bound parameters (`claim_run_id`,
    `claim_at`, `claim_node_id`, `claim_lease_until`): building and hashing the statement per run
    cost more than running it."""
    at: Any = sa.bindparam("claim_at", type_=t.runs.c.not_before.type)
    r = t.runs.alias("cand")
    pick = (
        sa.select(r.c.run_id)
        .where(r.c.run_id == sa.bindparam("claim_run_id"), _claimable(r, at), _under_limit(r, at))
        .with_for_update(skip_locked=True)
    )
    lease_until = sa.bindparam("claim_lease_until", type_=t.runs.c.lease_expires_at.type)
    return _claim(pick, sa.bindparam("claim_node_id"), lease_until, at)


def _claim(pick: Any, node_id: Any, lease_until: Any, at: Any) -> Any:
    """The claim of the run `pick` selects: running, next attempt, lease and heartbeat (values or
    bound parameters)."""
    return (
        sa.update(t.runs)
        .where(t.runs.c.run_id == pick.scalar_subquery())
        .values(
            status="running",
            attempt=t.runs.c.attempt + 1,
            lease_owner=node_id,
            lease_expires_at=lease_until,
            heartbeat_at=at,
            started_at=sa.func.coalesce(t.runs.c.started_at, at),
        )
        .returning(*t.runs.c)
    )


async def end_lost_runs(conn: AsyncConnection, *, at: datetime | None = None) -> list[dict[str, Any]]:
    """End the runs whose node died (lease expired) and that must not run again: `cancelled` when a
    cancel was requested, `failed` after the last allowed attempt. Returns the ended rows."""
    at = at or now()
    lost = sa.and_(t.runs.c.status == "running", t.runs.c.lease_expires_at < at)
    ended: list[dict[str, Any]] = []
    for where, status, error in (
        (
            t.runs.c.cancel_requested == sa.true(),
            "cancelled",
            "cancelled by request (its node stopped responding)",
        ),
        (
            t.runs.c.attempt > t.runs.c.max_attempts,
            "failed",
            "the node running this run stopped responding (lease expired) and no attempt is left",
        ),
    ):
        rows = (
            await conn.execute(
                sa.update(t.runs)
                .where(lost, where)
                .values(status=status, error=error, finished_at=at, lease_owner=None, lease_expires_at=None)
                .returning(*t.runs.c)
            )
        ).all()
        ended += [dict(r._mapping) for r in rows]
    return ended


async def heartbeat(
    conn: AsyncConnection,
    node_id: str,
    held: dict[str, int],
    lease_seconds: float,
    *,
    at: datetime | None = None,
) -> dict[str, bool]:
    """Extend the leases of the runs this node holds.

    Args:
        conn: A connection in a transaction.
        node_id: This node's id.
        held: Run id -> attempt, the runs this node is executing.
        lease_seconds: New lease length from now, in seconds.
        at: The current time (default now).

    Returns:
        Run id -> `cancel_requested`, for the runs still held. A run missing from the result was
        lost (its lease expired and another node reclaimed it, or it ended): stop executing it.
    """
    if not held:
        return {}
    at = at or now()
    rows = (
        await conn.execute(
            sa.update(t.runs)
            .where(
                t.runs.c.run_id.in_(list(held)),
                t.runs.c.lease_owner == node_id,
                t.runs.c.status == "running",
            )
            .values(heartbeat_at=at, lease_expires_at=at + timedelta(seconds=lease_seconds))
            .returning(t.runs.c.run_id, t.runs.c.attempt, t.runs.c.cancel_requested)
        )
    ).all()
    return {r.run_id: bool(r.cancel_requested) for r in rows if held.get(r.run_id) == r.attempt}


def _held(run_id: str, node_id: str, attempt: int) -> Any:
    return sa.and_(
        t.runs.c.run_id == run_id,
        t.runs.c.lease_owner == node_id,
        t.runs.c.attempt == attempt,
        t.runs.c.status == "running",
    )


async def finish_run(
    conn: AsyncConnection,
    run_id: str,
    node_id: str,
    attempt: int,
    *,
    status: str,
    result: Any,
    error: str | None,
    trace: list[dict[str, Any]],
    at: datetime | None = None,
) -> bool:
    """End a run this node holds (`completed`, `failed` or `cancelled`). Returns `False` when the
    node no longer holds it (lease lost): the outcome is then discarded."""
    return await conn.run_sync(
        finish_run_sync,
        run_id,
        node_id,
        attempt,
        status=status,
        result=result,
        error=error,
        trace=trace,
        at=at,
    )


def finish_run_sync(
    conn: sa.Connection,
    run_id: str,
    node_id: str,
    attempt: int,
    *,
    status: str,
    result: Any,
    error: str | None,
    trace: list[dict[str, Any]],
    at: datetime | None = None,
) -> bool:
    """`finish_run` on a synchronous connection (a transaction function of `Store.write`)."""
    params = {
        "held_run_id": run_id,
        "held_node_id": node_id,
        "held_attempt": attempt,
        "status": status,
        "result": result,
        "error": error,
        "trace": trace,
        "finished_at": at or now(),
        "lease_owner": None,
        "lease_expires_at": None,
        "cancel_requested": False,
    }
    return bool(conn.execute(_FINISH_HELD, params).rowcount)


#: `finish_run`'s statement, built once: the `held_*` parameters fence it, the others are the
#: columns it sets.
_FINISH_HELD = sa.update(t.runs).where(
    t.runs.c.run_id == sa.bindparam("held_run_id"),
    t.runs.c.lease_owner == sa.bindparam("held_node_id"),
    t.runs.c.attempt == sa.bindparam("held_attempt"),
    t.runs.c.status == "running",
)


async def retry_run(
    conn: AsyncConnection,
    run_id: str,
    node_id: str,
    attempt: int,
    *,
    not_before: datetime,
    error: str | None,
    result: Any,
    trace: list[dict[str, Any]],
) -> bool:
    """Put a failed attempt back in the queue, runnable from `not_before`. Returns `False` when the
    node no longer holds the run."""
    updated = await conn.execute(
        sa.update(t.runs)
        .where(_held(run_id, node_id, attempt))
        .values(
            status="queued",
            not_before=not_before,
            error=error,
            result=result,
            trace=trace,
            lease_owner=None,
            lease_expires_at=None,
            heartbeat_at=None,
        )
    )
    return bool(updated.rowcount)


class CancelOutcome:
    """What `request_cancel` did: `state` is `cancelled` (it was queued), `requested` (it is running;
    `owner` is the node that must stop it), `finished` (it had already ended) or `missing`."""

    __slots__ = ("owner", "row", "state")

    def __init__(self, state: str, row: dict[str, Any] | None, owner: str | None = None) -> None:
        self.state, self.row, self.owner = state, row, owner


async def request_cancel(
    conn: AsyncConnection, app_id: str, run_id: str, *, reason: str, at: datetime | None = None
) -> CancelOutcome:
    """Cancel a queued run now, or flag a running one for its node (`cancel_requested`)."""
    at = at or now()
    ended = await conn.execute(
        sa.update(t.runs)
        .where(t.runs.c.app_id == app_id, t.runs.c.run_id == run_id, t.runs.c.status == "queued")
        .values(status="cancelled", error=reason, finished_at=at, lease_owner=None, lease_expires_at=None)
    )
    if ended.rowcount:
        return CancelOutcome("cancelled", await get_run(conn, app_id, run_id))
    flagged = await conn.execute(
        sa.update(t.runs)
        .where(t.runs.c.app_id == app_id, t.runs.c.run_id == run_id, t.runs.c.status == "running")
        .values(cancel_requested=True)
    )
    row = await get_run(conn, app_id, run_id)
    if row is None:
        return CancelOutcome("missing", None)
    if flagged.rowcount:
        return CancelOutcome("requested", row, row.get("lease_owner"))
    return CancelOutcome("finished", row)


async def release_run(conn: AsyncConnection, run_id: str, node_id: str, attempt: int) -> bool:
    """Hand a run this node holds back to the queue (this node stops: the attempt did not count).
    Returns `False` when the node no longer holds it."""
    updated = await conn.execute(
        sa.update(t.runs)
        .where(_held(run_id, node_id, attempt))
        .values(
            status="queued",
            attempt=t.runs.c.attempt - 1,
            lease_owner=None,
            lease_expires_at=None,
            heartbeat_at=None,
        )
    )
    return bool(updated.rowcount)
