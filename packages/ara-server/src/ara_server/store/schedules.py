"""Schedule firings: one row per (app, schedule, fire time), so nodes sharing a database never
double-fire."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from . import Store
from . import schema as t
from ._common import now
from .runs import new_run_values

__all__ = ["record_firing"]


async def record_firing(
    store: Store, app_id: str, schedule_key: str, fire_time: datetime, run: dict[str, Any]
) -> bool:
    """Record a schedule firing and queue its run in one transaction; `False` if that firing exists."""
    try:
        async with store.begin() as conn:
            await conn.execute(
                sa.insert(t.schedule_firings).values(
                    app_id=app_id,
                    schedule_key=schedule_key,
                    fire_time=fire_time,
                    run_id=run["run_id"],
                    created_at=now(),
                )
            )
            await conn.execute(sa.insert(t.runs).values(**new_run_values(run)))
    except IntegrityError:
        return False
    return True
