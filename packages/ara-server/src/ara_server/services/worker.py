"""Queue workers: claim queued runs from the shared database and execute them."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

from ..store import Store, apps, now
from ..store import runs as runs_store
from .outbox import Outbox
from .runs import RunService

__all__ = ["Wakeup", "Workers"]

log = structlog.get_logger("ara_server.worker")

#: A worker with nothing to do polls the queue at least this often, in seconds (runs queued by
#: other nodes do not wake it).
IDLE_POLL_SECONDS = 1.0


class Wakeup:
    """Wakes this node's workers when a run was queued on it."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def notify(self) -> None:
        """A run was queued."""
        self.event.set()


class Workers:
    """The async-run workers of one node.

    Args:
        store: The store.
        runs: Executes runs.
        outbox: Delivers webhooks of finished runs that have a callback.
        wakeup: The signal that a run was queued.
        count: Number of concurrent workers (at least 1).
    """

    def __init__(self, store: Store, runs: RunService, outbox: Outbox, wakeup: Wakeup, count: int) -> None:
        self.store, self.runs, self.outbox, self.wakeup = store, runs, outbox, wakeup
        self.count = max(1, count)
        self._tasks: list[asyncio.Task[Any]] = []

    async def start(self) -> None:
        """Re-queue async runs a crash left running and start the workers."""
        requeued = await self.store.run(runs_store.requeue_running)
        if requeued:
            log.info("requeued interrupted runs", count=requeued)
        for n in range(self.count):
            self._tasks.append(asyncio.create_task(self._work(), name=f"ara-run-worker-{n}"))

    async def stop(self) -> None:
        """Stop the workers (queued runs stay queued for the next start)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _work(self) -> None:
        while True:
            run = await self.store.run(runs_store.claim_queued_run)
            if run is None:
                self.wakeup.event.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.event.wait(), timeout=IDLE_POLL_SECONDS)
                continue
            app = await self.store.run(apps.get_app, run["app_id"])
            if app is None:
                continue
            try:
                done = await self.runs.execute(app, run)
            except Exception as exc:  # a bug must not kill the worker; the run records it
                log.exception("run crashed", run_id=run["run_id"])
                await self.store.run(
                    runs_store.update_run,
                    run["run_id"],
                    status="failed",
                    error=f"internal error: {exc}",
                    finished_at=now(),
                )
                done = {**run, "status": "failed", "error": f"internal error: {exc}"}
            if run.get("callback"):
                self.outbox.enqueue(app, done)
