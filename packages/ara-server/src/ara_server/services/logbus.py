"""The log bus: writes app log lines and wakes the log streams of this node.

A run's own lines (its attempt, model steps, tool calls and their results) are written without
waiting for each commit: `log_soon` queues a line and returns, and `flush` waits until every line
queued so far is committed. On SQLite the lines of one turn of the event loop go to the store's
group-commit writer together (one transaction function), which commits in queue order (so a run's
final state queued after its lines on the same writer is committed with them or after them, with
no flush); on PostgreSQL one task writes the queued lines in order, a batch per transaction.
Either way a stream that sees a run ended has every line of it, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError

from ..store import Store, logs

__all__ = ["LogBus"]

log = structlog.get_logger("ara_server.logbus")

#: Lines written per transaction at most.
MAX_LINES_PER_BATCH = 500


class LogBus:
    """Log lines of apps (stored, so every node's streams see them).

    Args:
        store: The store.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._event = asyncio.Event()
        self._queue: list[dict[str, Any]] = []
        self._queued = 0  # lines queued since the start
        self._written = 0  # of those, lines committed (or given up on)
        self._writer: asyncio.Task[None] | None = None
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._in_writer: set[asyncio.Future[None]] = set()  # lines queued on the store's writer
        self._tick: list[dict[str, Any]] = []  # lines of this turn of the event loop, for the writer

    async def log(self, app_id: str, run_id: str | None, level: str, event_type: str, message: str) -> None:
        """Append a log line, wait until it is committed, and wake this node's log streams."""
        await self.store.run(logs.add_log, app_id, run_id, level, event_type, message)
        self.wake()

    def log_soon(self, app_id: str, run_id: str | None, level: str, event_type: str, message: str) -> None:
        """Queue a log line and return at once; it is committed after every line queued before it
        (see `flush`). Its time is the time of this call."""
        row = logs.log_row(app_id, run_id, level, event_type, message)
        if self.store.writes_in_order and not self._queue:
            # Lines of one turn of the event loop go to the writer together, at its end (or
            # earlier, when `hand_over` is called).
            self._tick.append(row)
            if len(self._tick) == 1:
                asyncio.get_running_loop().call_soon(self.hand_over)
            return
        self._enqueue([row])

    def hand_over(self) -> None:
        """Hand the lines logged so far in this turn of the event loop to the store's writer now:
        a write queued on the writer after this call is committed with them or after them."""
        rows, self._tick = self._tick, []
        if rows:
            self._to_writer(rows)

    def _to_writer(self, rows: list[dict[str, Any]]) -> None:
        try:
            future = self.store.write_soon(logs.add_logs, rows)
        except Exception:  # the writer stopped: the lines wait in the queue instead
            self._enqueue(rows)
            return
        self._in_writer.add(future)
        future.add_done_callback(lambda f: self._written_by_writer(f, rows))

    def _enqueue(self, rows: list[dict[str, Any]]) -> None:
        self._queue.extend(rows)
        self._queued += len(rows)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write(), name="ara-logbus")

    @property
    def backlog(self) -> int:
        """Lines waiting in this bus's own queue (not yet handed to the store; see `hand_over`
        for the lines of the current turn of the event loop)."""
        return len(self._queue)

    async def flush(self) -> None:
        """Wait until every line queued by `log_soon` before this call is committed.

        Raises:
            Exception: The database's error when the lines could not be written (they stay queued
                and are written by the next `log_soon` or `flush`).
        """
        self.hand_over()
        while self._in_writer:  # (a refused batch is handed over again line by line)
            await asyncio.gather(*list(self._in_writer), return_exceptions=True)
            await asyncio.sleep(0)  # let the done callbacks of those futures run
        target = self._queued
        if self._written >= target:
            return
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write(), name="ara-logbus")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, future))
        await future

    async def _write(self) -> None:
        while self._queue:
            batch = self._queue[:MAX_LINES_PER_BATCH]
            try:
                await self.store.write(logs.add_logs, batch)
            except IntegrityError:
                # A line of a deleted app (its rows are gone): write the others one by one.
                for row in batch:
                    with contextlib.suppress(IntegrityError):
                        await self.store.write(logs.add_logs, [row])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: tell the waiters, keep the lines
                log.warning("log lines not written yet", error=f"{type(exc).__name__}: {exc}")
                self._settle(exc)
                return
            del self._queue[: len(batch)]
            self._written += len(batch)
            self.wake()
            self._settle(None)

    def _written_by_writer(self, future: asyncio.Future[None], rows: list[dict[str, Any]]) -> None:
        self._in_writer.discard(future)
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            self.wake()
        elif isinstance(error, IntegrityError):
            # A line of a deleted app: the others of the batch are written one by one (that one
            # is dropped when it is refused again).
            if len(rows) > 1:
                for row in rows:
                    self._to_writer([row])
        else:
            log.warning("log lines not written", lines=len(rows), error=f"{type(error).__name__}: {error}")

    def _settle(self, error: Exception | None) -> None:
        keep: list[tuple[int, asyncio.Future[None]]] = []
        for target, future in self._waiters:
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            elif target <= self._written:
                future.set_result(None)
            else:
                keep.append((target, future))
        self._waiters = keep

    def wake(self) -> None:
        """Wake this node's log streams (after a log line was stored by another path, e.g. with
        an event in its transaction)."""
        self._event.set()
        self._event = asyncio.Event()

    async def after(self, app_id: str, after_id: int) -> list[dict[str, Any]]:
        """Log rows of an app with id > `after_id`, oldest first (at most 200)."""
        return await self.store.run(logs.logs_after, app_id, after_id)

    async def wait(self, timeout: float) -> None:
        """Return when a log line is added on this node or after `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
