"""Migration drift: a database at `alembic upgrade head` has exactly the schema of `store/schema.py`."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from ara_server.store import Store
from ara_server.store.schema import metadata


async def test_upgrade_head_matches_the_schema_module(store: Store):
    assert store.engine is not None

    def diff(conn: Any) -> list[Any]:
        return compare_metadata(MigrationContext.configure(conn), metadata)

    async with store.engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == []
