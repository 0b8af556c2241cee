"""The webhook outbox: deliveries of finished runs, stored with the exact bytes to send, claimed
with a lease like runs (any node delivers; a delivery survives restarts)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from . import schema as t
from ._common import new_id, now, row_dict

__all__ = ["claim_delivery", "deliveries_of", "enqueue_delivery", "release_deliveries", "settle_delivery"]


async def enqueue_delivery(
    conn: AsyncConnection,
    *,
    app_id: str,
    run_id: str,
    event: str,
    url: str,
    secret: str,
    body: bytes,
    at: datetime | None = None,
) -> str:
    """Store a pending delivery (in the caller's transaction: with the run's final status).

    Returns:
        The delivery id (`dlv_...`, sent as `X-Ara-Delivery-Id`).
    """
    at = at or now()
    delivery_id = new_id("dlv")
    await conn.execute(
        sa.insert(t.outbox).values(
            id=delivery_id,
            app_id=app_id,
            run_id=run_id,
            event=event,
            url=url,
            secret=secret,
            body=body,
            status="pending",
            attempt=0,
            not_before=at,
            created_at=at,
        )
    )
    return delivery_id


async def claim_delivery(
    conn: AsyncConnection, node_id: str, lease_seconds: float, *, at: datetime | None = None
) -> dict[str, Any] | None:
    """Claim one due delivery (pending and due, or leased by a node whose lease expired) with
    `attempt + 1`; `None` when there is none."""
    at = at or now()
    o = t.outbox.alias("cand")
    pick = (
        sa.select(o.c.id)
        .where(
            o.c.status == "pending",
            o.c.not_before <= at,
            sa.or_(o.c.lease_expires_at.is_(None), o.c.lease_expires_at < at),
        )
        .order_by(o.c.not_before)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if conn.dialect.name == "sqlite" and (await conn.execute(pick)).first() is None:
        return None  # a plain read when nothing is due: an UPDATE takes SQLite's write lock
    stmt = (
        sa.update(t.outbox)
        .where(t.outbox.c.id == pick.scalar_subquery())
        .values(
            attempt=t.outbox.c.attempt + 1,
            lease_owner=node_id,
            lease_expires_at=at + timedelta(seconds=lease_seconds),
        )
        .returning(*t.outbox.c)
    )
    return row_dict((await conn.execute(stmt)).first())


async def settle_delivery(
    conn: AsyncConnection,
    delivery_id: str,
    node_id: str,
    attempt: int,
    *,
    status: str,
    error: str | None = None,
    not_before: datetime | None = None,
    at: datetime | None = None,
) -> bool:
    """Record an attempt of a delivery this node holds: `delivered`, `failed` (given up), or
    `pending` again from `not_before`. Returns `False` when the node no longer holds it."""
    at = at or now()
    values: dict[str, Any] = {
        "status": status,
        "last_error": error,
        "lease_owner": None,
        "lease_expires_at": None,
    }
    if status == "delivered":
        values["delivered_at"] = at
    if not_before is not None:
        values["not_before"] = not_before
    updated = await conn.execute(
        sa.update(t.outbox)
        .where(
            t.outbox.c.id == delivery_id,
            t.outbox.c.lease_owner == node_id,
            t.outbox.c.attempt == attempt,
            t.outbox.c.status == "pending",
        )
        .values(**values)
    )
    return bool(updated.rowcount)


async def deliveries_of(conn: AsyncConnection, run_id: str) -> list[dict[str, Any]]:
    """The deliveries of a run, oldest first."""
    rows = (
        await conn.execute(
            sa.select(t.outbox).where(t.outbox.c.run_id == run_id).order_by(t.outbox.c.created_at)
        )
    ).all()
    return [dict(r._mapping) for r in rows]


async def release_deliveries(conn: AsyncConnection, node_id: str) -> int:
    """Give up the leases of the pending deliveries this node holds (it stops), so that any node
    sends them at once. Returns how many."""
    updated = await conn.execute(
        sa.update(t.outbox)
        .where(t.outbox.c.lease_owner == node_id, t.outbox.c.status == "pending")
        .values(lease_owner=None, lease_expires_at=None)
    )
    return int(updated.rowcount or 0)
