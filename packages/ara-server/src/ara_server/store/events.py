"""Events, idempotent per (app, idempotency key)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from . import Store
from . import schema as t
from ._common import now, row_dict
from .runs import insert_runs

__all__ = ["record_event"]


async def record_event(
    store: Store,
    app_id: str,
    key: str | None,
    body: dict[str, Any],
    response: dict[str, Any],
    runs: Sequence[dict[str, Any]] = (),
    *,
    _retried: bool = False,
) -> tuple[dict[str, Any], str]:
    """Store an event and queue the runs it starts, in one transaction (a crash never keeps one
    without the other; a replay never lists runs that do not exist).

    Args:
        store: The store.
        app_id: The app.
        key: The idempotency key, or `None`.
        body: The event body.
        response: The response to store (and replay); `response["event_id"]` is the event's id.
        runs: The runs rows to insert with it (see `runs.new_run_values`); not inserted on a
            replay or conflict.

    Returns:
        `(response, outcome)`: outcome `new`; `replay` (same key and body: the stored response);
        or `conflict` (same key, another body).
    """
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    if key:
        async with store.begin() as conn:
            existing = row_dict(
                (
                    await conn.execute(
                        sa.select(t.events).where(
                            t.events.c.app_id == app_id, t.events.c.idempotency_key == key
                        )
                    )
                ).first()
            )
        if existing:
            return existing["response"], ("replay" if existing["body_hash"] == digest else "conflict")
    try:
        async with store.begin() as conn:
            await conn.execute(
                sa.insert(t.events).values(
                    id=response["event_id"],
                    app_id=app_id,
                    idempotency_key=key,
                    body_hash=digest,
                    body=body,
                    response=response,
                    created_at=now(),
                )
            )
            await insert_runs(conn, runs)
    except IntegrityError:
        if not key or _retried:  # not a race on the event's key: a run id or key is taken
            raise
        return await record_event(store, app_id, key, body, response, runs, _retried=True)
    return response, "new"
