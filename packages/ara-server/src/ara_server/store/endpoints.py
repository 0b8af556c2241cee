"""Webhook ids an endpoint has accepted, so a replayed signed request is refused on every node."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from . import Store
from . import schema as t
from ._common import now

__all__ = ["remember_webhook_id"]


async def remember_webhook_id(
    store: Store, app_id: str, label: str, msg_id: str, forget_before: datetime
) -> bool:
    """Record that the endpoint accepted `msg_id`; `False` when it was already recorded.

    Ids seen before `forget_before` (outside the signature tolerance window, where a replay is
    refused by its timestamp anyway) are deleted first.
    """
    async with store.begin() as conn:
        await conn.execute(sa.delete(t.webhook_ids).where(t.webhook_ids.c.seen_at < forget_before))
    try:
        async with store.begin() as conn:
            await conn.execute(
                sa.insert(t.webhook_ids).values(app_id=app_id, label=label, msg_id=msg_id, seen_at=now())
            )
    except IntegrityError:
        return False
    return True
