"""Persistence for ara-server on SQLAlchemy Core: SQLite (WAL, busy timeout) or PostgreSQL.

`Store` owns the engine and the migrations. The aggregate modules (`accounts`, `apps`, `keys`,
`secrets`, `invites`, `runs`, `events`, `logs`, `schedules`, `sessions`) hold functions that take
an open connection, so a service can span one transaction over several aggregates:

    async with store.begin() as conn:
        app = await apps.get_app(conn, app_id)

or run one function in its own transaction: `await store.run(apps.get_app, app_id)`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from importlib.resources import files
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..settings import SecretBox, Settings, key_encryption_key
from ._common import new_id, now
from .keys import HASHER_INFO_KEY, PEPPER_FILE, KeyHasher
from .readcache import ReadCache
from .writer import GroupWriter, sqlite_writer_engine

__all__ = ["Store", "new_id", "now"]

SQLITE_BUSY_TIMEOUT_MS = 10_000
#: PostgreSQL advisory lock held while migrating (any constant).
MIGRATION_LOCK_KEY = 0x6172616D  # "aram"

P = ParamSpec("P")
T = TypeVar("T")


def run_migrations(connection: sa.Connection) -> None:
    """Apply the Alembic migrations (`upgrade head`) on a synchronous connection (one opened by
    `Store`, which carries the key hasher that data migrations need)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(files("ara_server.store") / "migrations"))
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def _private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if missing, and set 0600 on it (SQLite gives its WAL and
    shared-memory files the database file's mode)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    path.chmod(0o600)


def secure_data_dir(data_dir: Path) -> None:
    """Create the data directory with mode 0700 (and set it when it exists), and set 0600 on the
    secrets key and key pepper files."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    for name in ("secrets.key", PEPPER_FILE):
        if (data_dir / name).exists():
            (data_dir / name).chmod(0o600)


def _sqlite_pragmas(dbapi_conn: Any) -> None:
    """WAL, busy timeout, foreign keys, and `synchronous=FULL`: every commit is fsynced before it
    returns, so an acknowledged write survives power loss (the group-commit writer amortizes the
    fsync over a batch)."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


class Store:
    """The database of one server node (shared by every node of a deployment).

    Args:
        settings: Server settings (database URL, data dir).

    Attributes:
        box: Encrypts and decrypts secret values (`SecretBox`).
        hasher: Hashes key material with the server's pepper (`KeyHasher`); every connection of
            the store carries it (`keys.hasher_of(conn)`).
        engine: The SQLAlchemy async engine, after `open()`.
        cache: Short-lived cache of the request path's reads (`ReadCache`), emptied by every
            committed write to the key, account, app and role tables.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: AsyncEngine | None = None
        self.cache = ReadCache()
        self._writer: GroupWriter | None = None
        secure_data_dir(settings.data_dir)
        self._box: SecretBox | None = None
        self.hasher = KeyHasher()  # given the database's pepper by open()

    @property
    def box(self) -> SecretBox:
        """The secrets box: the database's data key (after `open()`; see `store.keyring`)."""
        assert self._box is not None, "Store.open() first"
        return self._box

    async def open(self) -> None:
        """Connect, apply the Alembic migrations (`upgrade head`) and open the secrets key.

        Raises:
            ara_server.settings.SecretsKeyError: This node's secrets key does not open the
                database's secrets (the engine is disposed first).
        """
        url = self.settings.url
        hasher = self.hasher
        if url.startswith("sqlite"):
            secure_data_dir(self.settings.data_dir)
            default_db = self.settings.data_dir / "ara.db"
            if self.settings.database_url is None:
                _private_file(default_db)
            engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

            @event.listens_for(engine.sync_engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:  # pyright: ignore[reportUnusedFunction]
                _sqlite_pragmas(dbapi_conn)

            writer_engine = sqlite_writer_engine(
                url, busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS, pragmas=_sqlite_pragmas
            )

            @event.listens_for(writer_engine, "connect")
            def _writer_hasher(_dbapi_conn: Any, record: Any) -> None:  # pyright: ignore[reportUnusedFunction]
                record.info[HASHER_INFO_KEY] = hasher

            self.cache.watch(writer_engine)
            self._writer = GroupWriter(writer_engine)
        else:
            engine = create_async_engine(url, pool_pre_ping=True)

        @event.listens_for(engine.sync_engine, "connect")
        def _attach_hasher(_dbapi_conn: Any, record: Any) -> None:  # pyright: ignore[reportUnusedFunction]
            record.info[HASHER_INFO_KEY] = hasher

        self.engine = engine
        self.cache.watch(engine)
        from .keyring import open_box_retrying

        try:
            kek = key_encryption_key(self.settings)
            await self._migrate(engine, kek)
            self._box = await open_box_retrying(self.begin, kek)
        except BaseException:
            await engine.dispose()
            self.engine = None
            raise
        if self._writer is not None:
            self._writer.start()
        if url.startswith("sqlite") and self.settings.database_url is None:
            for suffix in ("", "-wal", "-shm"):
                path = self.settings.data_dir / f"ara.db{suffix}"
                if path.exists():
                    path.chmod(0o600)

    async def _migrate(self, engine: AsyncEngine, kek: bytes) -> None:
        """Apply the migrations and load the database's key pepper into `hasher`, in one transaction
        (on PostgreSQL under an advisory lock: nodes starting together migrate one at a time, and the
        first one stores the pepper). Retried once when another node stored the pepper first."""
        from .keyring import FilePepperHasher, load_pepper

        for attempt in (1, 2):
            try:
                async with engine.begin() as conn:
                    if conn.dialect.name == "postgresql":
                        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
                    # Re-hashing digests of a database older than keyed hashes uses this node's
                    # pepper file, which `load_pepper` then adopts as the database's pepper.
                    conn.info[HASHER_INFO_KEY] = FilePepperHasher(self.settings.data_dir)
                    try:
                        await conn.run_sync(run_migrations)
                    finally:
                        conn.info[HASHER_INFO_KEY] = self.hasher
                    pepper, legacy = await load_pepper(conn, kek, self.settings.data_dir)
            except IntegrityError:
                if attempt == 2:
                    raise
                continue
            self.hasher.use(pepper, legacy)
            secure_data_dir(self.settings.data_dir)
            return

    async def close(self) -> None:
        """Write what the group-commit writer holds, then dispose of the connection pool."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            await asyncio.to_thread(writer.close)
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

    async def write(
        self,
        fn: Callable[Concatenate[sa.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Call the synchronous transaction function `fn(conn, *args, **kwargs)` in its own
        all-or-nothing unit and return its result once it is durably committed.

        On SQLite the group-commit writer runs it (one thread; every function waiting is committed
        in one transaction, each in its own savepoint, one fsync per batch with
        `synchronous=FULL`); on PostgreSQL it runs in its own transaction (`run_sync`). `fn` must
        only do database work on `conn` (see `store.writer`).

        Raises:
            Exception: What `fn` raised (its writes were rolled back), or the database's error.
        """
        if self._writer is not None:
            return await self._writer.submit(fn, *args, **kwargs)
        async with self.begin() as conn:
            return await conn.run_sync(fn, *args, **kwargs)

    @property
    def writes_in_order(self) -> bool:
        """`write_soon` is available: every write goes through one group-commit writer (SQLite),
        which commits transaction functions in the order they were queued."""
        return self._writer is not None

    def write_soon(
        self,
        fn: Callable[Concatenate[sa.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> asyncio.Future[T]:
        """Queue the synchronous transaction function `fn(conn, *args, **kwargs)` on the
        group-commit writer now and return the future of its result (set once it is durably
        committed). It is committed before every function queued after it (`write`,
        `write_soon`), in the same batch or an earlier one. SQLite only (`writes_in_order`).

        Raises:
            RuntimeError: The store has no group-commit writer (PostgreSQL).
            ara_server.store.writer.WriterClosedError: The store is closed.
        """
        if self._writer is None:
            raise RuntimeError("write_soon needs the group-commit writer (SQLite)")
        return self._writer.submit_nowait(fn, *args, **kwargs)

    async def ping(self) -> None:
        """Round-trip to the database.

        Raises:
            Exception: The database is unreachable (whatever the driver raises).
        """
        async with self.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
