"""A short-lived in-memory cache of the reads on the request path (API keys, apps, app keys, roles).

Every request of the runtime plane resolves its caller: the app row, the runtime or app header key,
or a member's API key and role. Those rows change rarely (deploy, key creation, revoke, rotate,
role change), so `ReadCache` keeps them for `ttl` seconds (default `DEFAULT_TTL_SECONDS`).

Invalidation: every write that this node commits to one of the tables in `WATCHED_TABLES` (or any
raw SQL write) clears the whole cache, after its commit; a value read while such a write was in
flight is not kept (a generation counter), so a revoked key is refused by this node as soon as the
revoke is committed. Other nodes of a deployment see the change when their entries expire, at most
`ttl` seconds later.

Concurrent misses of one key share one read: when an entry expires under load, the requests that
miss it together wait for the same database read instead of each sending its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.dml import UpdateBase

from . import schema as t

__all__ = ["DEFAULT_TTL_SECONDS", "WATCHED_TABLES", "ReadCache"]

#: How long a cached read is used, in seconds.
DEFAULT_TTL_SECONDS = 2.0
#: Entries kept at most; the cache is emptied when full (hostile random keys are never cached).
MAX_ENTRIES = 10_000
#: Writes to these tables empty the cache.
WATCHED_TABLES = frozenset(
    table.name for table in (t.accounts, t.api_keys, t.apps, t.app_members, t.app_keys, t.server_keys)
)

_DIRTY = "ara_read_cache_dirty"

T = TypeVar("T")


class ReadCache:
    """Cached values by key, valid for `ttl` seconds and until the next committed write to a watched
    table.

    Args:
        ttl: Seconds a value is used (0 disables caching).
        max_entries: Entries kept at most.
    """

    def __init__(self, ttl: float = DEFAULT_TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.generation = 0
        self._entries: dict[Hashable, tuple[int, float, Any]] = {}
        # reads in flight: key -> (generation when started, the read)
        self._flights: dict[Hashable, tuple[int, asyncio.Future[Any]]] = {}

    def invalidate(self) -> None:
        """Forget every cached value (and any read in flight)."""
        self.generation += 1
        self._entries.clear()
        self._flights.clear()  # a read started before this write is not shared with later callers

    async def get(self, key: Hashable, load: Callable[[], Awaitable[T | None]]) -> T | None:
        """The cached value of `key`, or the result of `load()` (kept when not `None` and no watched
        write was committed meanwhile). Callers that miss the same key while its read is in flight
        share that read (and its error); a caller that is cancelled does not cancel it.

        Raises:
            Exception: What `load()` raised (nothing is kept; the next call reads again).
        """
        entry = self._entries.get(key)
        clock = time.monotonic()
        if entry is not None and entry[0] == self.generation and entry[1] > clock:
            return entry[2]
        if self.ttl <= 0:
            return await load()
        flight = self._flights.get(key)
        if flight is None or flight[0] != self.generation:
            flight = (self.generation, asyncio.ensure_future(load()))
            self._flights[key] = flight
            flight[1].add_done_callback(lambda done, key=key, flight=flight: self._landed(key, flight, clock))
        return await asyncio.shield(flight[1])

    def _landed(self, key: Hashable, flight: tuple[int, asyncio.Future[Any]], started: float) -> None:
        """Keep the result of a finished read (unless a watched write was committed meanwhile)."""
        generation, done = flight
        if self._flights.get(key) is flight:
            del self._flights[key]
        if done.cancelled() or done.exception() is not None:
            return  # (the error was retrieved: every waiter sees it, none is logged as lost)
        value = done.result()
        if value is not None and generation == self.generation:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (generation, started + self.ttl, value)

    def watch(self, engine: AsyncEngine | sa.Engine) -> None:
        """Invalidate on every committed write to a watched table through `engine`.

        A write marks its connection; the mark empties the cache at commit and again when the
        connection returns to the pool (after the commit reached the database).
        """
        sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

        @event.listens_for(sync_engine, "after_execute")
        def _after_execute(conn: sa.Connection, clause: Any, *_args: Any) -> None:  # pyright: ignore[reportUnusedFunction]
            if _writes_watched(clause):
                conn.info[_DIRTY] = True
                self.invalidate()

        @event.listens_for(sync_engine, "commit")
        def _commit(conn: sa.Connection) -> None:  # pyright: ignore[reportUnusedFunction]
            try:
                dirty = bool(conn.info.get(_DIRTY))
            except SQLAlchemyError:  # an invalidated connection: assume the worst
                dirty = True
            if dirty:
                self.invalidate()

        @event.listens_for(sync_engine.pool, "checkin")
        def _checkin(_dbapi_conn: Any, record: Any) -> None:  # pyright: ignore[reportUnusedFunction]
            if record is not None and record.info.pop(_DIRTY, False):
                self.invalidate()


def _writes_watched(clause: Any) -> bool:
    """Whether an executed statement may change a watched table."""
    if isinstance(clause, UpdateBase):
        table = getattr(clause, "table", None)
        return getattr(table, "name", None) in WATCHED_TABLES
    if isinstance(clause, sa.TextClause | str):
        text = (clause.text if isinstance(clause, sa.TextClause) else clause).lstrip().lower()
        return not text.startswith(
            ("select", "pragma", "savepoint", "release", "with", "begin", "commit", "rollback")
        )
    return False
