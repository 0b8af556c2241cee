"""Events, idempotent per (app, idempotency key)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from . import Store
from . import schema as t
from ._common import now, row_dict

__all__ = ["record_event"]


async def record_event(
    store: Store, app_id: str, key: str | None, body: dict[str, Any], response: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """Store an event (its own transactions).

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
    except IntegrityError:
        return await record_event(store, app_id, key, body, response)
    return response, "new"
