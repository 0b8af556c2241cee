"""The group-commit writer for SQLite: one thread, one connection, one fsync per batch of requests.

SQLite has one write lock and, with `synchronous=FULL`, one fsync per commit. Writing from many
connections makes them queue on the lock and pay one fsync each. `GroupWriter` instead takes
transaction functions from any coroutine, and its thread runs every function that is waiting in
one database transaction, each function in its own savepoint (its own all-or-nothing unit: a
function that raises rolls back only its own writes and its caller gets the exception), then
commits once. A caller is answered only after the commit that holds its writes returned, so an
acknowledged write survives power loss.

A transaction function is synchronous and takes a SQLAlchemy `Connection` first:

    def add(conn: sa.Connection, app_id: str) -> str: ...

    result = await writer.submit(add, app_id)

It must do only database work on `conn` (no I/O of its own, no awaiting); it runs in the writer
thread, and it may run twice (a batch in which another function raised is rolled back and
written again, each function in its own savepoint), so it must not keep state outside the
database between runs.

Rows that nothing in the batch reads before the commit (an event and its log line) may be handed
to `bulk_rows(conn)` instead of being inserted one by one: the batch then writes them with one
multi-row INSERT per statement just before it commits (fewer statements, and fewer round trips
for the GIL between the writer thread and the event loop). When that INSERT fails, the batch is
written again with each function in its own savepoint and no bulk rows (each function inserts its
own rows, and only the function whose row is refused gets the error).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import event

__all__ = ["MAX_BATCH", "BulkRows", "GroupWriter", "WriterClosedError", "bulk_rows"]

P = ParamSpec("P")
T = TypeVar("T")

#: Transaction functions committed together at most.
MAX_BATCH = 512


#: `Connection.info` key of the batch's `BulkRows` (set only while a batch runs optimistically).
_BULK_ROWS = "ara_bulk_rows"
#: Rows per multi-row INSERT at most: a power of two, under SQLite's historic limit of 999 bound
#: values for rows of up to 7 values.
_MAX_ROWS_PER_INSERT = 128


class BulkRows:
    """Rows the functions of one batch insert, written with one multi-row INSERT per statement
    (in chunks of 128, 64, ..., 1 rows, so that few distinct statements are prepared) just before
    the batch commits."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], list[tuple[Any, ...]]] = {}

    def add(self, head: str, values: str, params: tuple[Any, ...]) -> None:
        """Queue one row: `head` is the statement up to `VALUES` (`INSERT INTO t (a, b)`), `values`
        one row's placeholders (`(?, ?)`, constants allowed), `params` its bound values."""
        self._rows.setdefault((head, values), []).append(params)

    def flush(self, cursor: Any) -> None:
        """Insert every queued row through the DB-API `cursor` (in the batch's transaction)."""
        for (head, values), rows in self._rows.items():
            start = 0
            while start < len(rows):
                size = _MAX_ROWS_PER_INSERT
                while size > len(rows) - start:
                    size //= 2
                part = rows[start : start + size]
                cursor.execute(_multi_insert(head, values, size), [v for row in part for v in row])
                start += size
        self._rows.clear()


@functools.lru_cache(maxsize=64)
def _multi_insert(head: str, values: str, rows: int) -> str:
    return f"{head} VALUES {', '.join([values] * rows)}"


def bulk_rows(conn: sa.Connection) -> BulkRows | None:
    """The batch's `BulkRows` when `conn` is the group-commit writer's connection in a batch's
    optimistic pass, else `None` (insert the rows directly)."""
    return conn.info.get(_BULK_ROWS)


class WriterClosedError(RuntimeError):
    """The writer was closed before the request could be written."""


_Item = tuple[
    Callable[..., Any], tuple[Any, ...], dict[str, Any], "asyncio.Future[Any]", asyncio.AbstractEventLoop
]


class GroupWriter:
    """Commits waiting transaction functions in batches, from one thread.

    Args:
        engine: A synchronous SQLAlchemy engine on the SQLite database. Its connections must let
            SQLAlchemy drive the transactions (see `sqlite_writer_engine`).
        max_batch: Functions per commit at most.
    """

    def __init__(self, engine: sa.Engine, *, max_batch: int = MAX_BATCH) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.batches = 0
        self.written = 0
        self._queue: list[_Item] = []
        self._cond = threading.Condition()
        self._closing = False
        self._failure: Exception | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the writer thread (opens its connection)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ara-store-writer", daemon=True)
            self._thread.start()

    async def submit(
        self, fn: Callable[Concatenate[sa.Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `fn(conn, *args, **kwargs)` in the next batch and return its result once committed.

        Raises:
            WriterClosedError: The writer is closed.
            Exception: What `fn` raised (its writes were rolled back), or the commit's error (no
                write of the batch was kept).
        """
        return await self.submit_nowait(fn, *args, **kwargs)

    def submit_nowait(
        self, fn: Callable[Concatenate[sa.Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> asyncio.Future[T]:
        """Queue `fn(conn, *args, **kwargs)` for the next batch now (functions are written in the
        order they were queued) and return the future of its result (set once committed).

        Raises:
            WriterClosedError: The writer is closed.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._cond:
            if self._closing:
                raise WriterClosedError(
                    f"the store's writer stopped: {self._failure}" if self._failure else "the store is closed"
                )
            self._queue.append((fn, args, kwargs, future, loop))
            self._cond.notify()
        return future

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the thread (waits up to `timeout` seconds)."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.engine.dispose()

    def _run(self) -> None:
        try:
            with self.engine.connect() as conn:
                while True:
                    with self._cond:
                        while not self._queue and not self._closing:
                            self._cond.wait()
                        if not self._queue:
                            return
                        batch = self._queue[: self.max_batch]
                        del self._queue[: self.max_batch]
                    self._write(conn, batch)
        except Exception as exc:  # the connection could not be opened or broke: no caller waits forever
            with self._cond:
                self._closing = True
                self._failure = exc
                batch, self._queue = self._queue, []
            self._answer([(False, exc)] * len(batch), batch)

    def _write(self, conn: sa.Connection, batch: list[_Item]) -> None:
        # Optimistic: the whole batch in one transaction without savepoints. When a function
        # raises, the transaction is rolled back and the batch is written again with each
        # function in its own savepoint (so one caller's error never fails the others).
        bulk = BulkRows()
        flushing = False
        try:
            with conn.begin():
                conn.info[_BULK_ROWS] = bulk
                try:
                    outcomes = [(True, fn(conn, *args, **kwargs)) for fn, args, kwargs, _, _ in batch]
                    flushing = True
                    cursor = conn.connection.driver_connection.cursor()  # pyright: ignore[reportOptionalMemberAccess]
                    try:
                        bulk.flush(cursor)
                    finally:
                        cursor.close()
                finally:
                    del conn.info[_BULK_ROWS]
        except Exception as exc:
            # a function's own error goes to its caller as is; a refused bulk row is found by
            # writing the batch again without bulk rows (each function inserts its own)
            alone = len(batch) == 1 and not flushing
            outcomes = [(False, exc)] if alone else self._write_isolated(conn, batch)
        self.batches += 1
        self.written += sum(ok for ok, _ in outcomes)
        self._answer(outcomes, batch)

    @staticmethod
    def _answer(outcomes: list[tuple[bool, Any]], batch: list[_Item]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for (ok, value), (_, _, _, future, loop) in zip(outcomes, batch, strict=True):
            by_loop.setdefault(loop, []).append((future, ok, value))
        for loop, answers in by_loop.items():  # one wake-up per waiting event loop
            try:
                loop.call_soon_threadsafe(_settle, answers)
            except RuntimeError:  # the caller's loop is closed: nobody waits for these answers
                pass

    def _write_isolated(self, conn: sa.Connection, batch: list[_Item]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        try:
            with conn.begin():
                for fn, args, kwargs, _, _ in batch:
                    try:
                        with conn.begin_nested():
                            outcomes.append((True, fn(conn, *args, **kwargs)))
                    except Exception as exc:  # the caller's error, delivered to the caller
                        outcomes.append((False, exc))
        except Exception as exc:  # the commit failed: nothing of the batch was written
            outcomes = [(False, exc)] * len(batch)
        return outcomes


def _settle(answers: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in answers:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def sqlite_writer_engine(
    url: sa.URL | str, *, busy_timeout_ms: int, pragmas: Callable[[Any], None]
) -> sa.Engine:
    """A synchronous engine for the writer thread on the SQLite database at `url` (an async URL is
    turned into the standard-library driver's).

    SQLAlchemy drives the transactions itself (`BEGIN IMMEDIATE`, so a batch takes the write lock
    at its start and savepoints work), and `pragmas(dbapi_connection)` sets the same pragmas as
    the store's other connections.
    """
    sync_url = sa.make_url(url).set(drivername="sqlite+pysqlite")
    engine = sa.create_engine(
        sync_url,
        poolclass=sa.pool.NullPool,
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:  # pyright: ignore[reportUnusedFunction]
        dbapi_conn.isolation_level = None  # no implicit BEGIN by the driver
        pragmas(dbapi_conn)

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:  # pyright: ignore[reportUnusedFunction]
        # straight to the driver: SQLAlchemy's statement machinery costs ~7 us per batch here
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE")  # pyright: ignore[reportOptionalMemberAccess]

    return engine
