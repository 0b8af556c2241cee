"""Single-statement upserts (`INSERT ... ON CONFLICT DO UPDATE`) on SQLite and PostgreSQL, so two
concurrent writers of the same row never race a check-then-insert."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["upsert"]


async def upsert(
    conn: AsyncConnection,
    table: sa.Table,
    values: dict[str, Any],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert `values` into `table`, or update the columns `update` of the row whose `conflict`
    columns (a primary key or unique constraint) match, in one statement.

    Raises:
        NotImplementedError: A database other than SQLite or PostgreSQL.
    """
    name = conn.dialect.name
    if name == "postgresql":
        pg = postgresql.insert(table).values(**values)
        stmt: Any = pg.on_conflict_do_update(
            index_elements=list(conflict), set_={c: pg.excluded[c] for c in update}
        )
    elif name == "sqlite":
        lite = sqlite.insert(table).values(**values)
        stmt = lite.on_conflict_do_update(
            index_elements=list(conflict), set_={c: lite.excluded[c] for c in update}
        )
    else:
        raise NotImplementedError(f"upsert on {name}")
    await conn.execute(stmt)
