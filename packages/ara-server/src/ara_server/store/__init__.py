"""Persistence for ara-server on SQLAlchemy Core: SQLite (WAL, busy timeout) or PostgreSQL.

`Store` owns the engine and the migrations. The aggregate modules (`accounts`, `apps`, `keys`,
`secrets`, `invites`, `runs`, `events`, `logs`, `schedules`, `sessions`) hold functions that take
an open connection, so a service can span one transaction over several aggregates:

    async with store.begin() as conn:
        app = await apps.get_app(conn, app_id)

or run one function in its own transaction: `await store.run(apps.get_app, app_id)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from importlib.resources import files
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..settings import SecretBox, Settings
from ._common import new_id, now

__all__ = ["Store", "new_id", "now"]

SQLITE_BUSY_TIMEOUT_MS = 10_000

P = ParamSpec("P")
T = TypeVar("T")


def run_migrations(connection: sa.Connection) -> None:
    """Apply the Alembic migrations (`upgrade head`) on a synchronous connection."""
    cfg = Config()
    cfg.set_main_option("script_location", str(files("ara_server.store") / "migrations"))
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


class Store:
    """The database of one server node (shared by every node of a deployment).

    Args:
        settings: Server settings (database URL, data dir).

    Attributes:
        box: Encrypts and decrypts secret values (`SecretBox`).
        engine: The SQLAlchemy async engine, after `open()`.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: AsyncEngine | None = None
        self.box = SecretBox(settings.data_dir)

    async def open(self) -> None:
        """Connect and apply the Alembic migrations (`upgrade head`)."""
        url = self.settings.url
        if url.startswith("sqlite"):
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

            @event.listens_for(engine.sync_engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:  # pyright: ignore[reportUnusedFunction]
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()
        else:
            engine = create_async_engine(url, pool_pre_ping=True)
        self.engine = engine
        async with engine.begin() as conn:
            await conn.run_sync(run_migrations)

    async def close(self) -> None:
        """Dispose of the connection pool."""
        if self.engine is not None:
            await self.engine.dispose()

    def begin(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection in a transaction, committed when the block ends without an error."""
        assert self.engine is not None, "Store.open() first"
        return self.engine.begin()

    def connect(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection without an explicit transaction (reads)."""
        assert self.engine is not None, "Store.open() first"
        return self.engine.connect()

    async def run(
        self,
        fn: Callable[Concatenate[AsyncConnection, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Call `fn(conn, *args, **kwargs)` in its own transaction and return its result."""
        async with self.begin() as conn:
            return await fn(conn, *args, **kwargs)

    async def ping(self) -> None:
        """Round-trip to the database.

        Raises:
            Exception: The database is unreachable (whatever the driver raises).
        """
        async with self.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
