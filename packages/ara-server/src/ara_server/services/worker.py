"""Run workers: claim runnable runs from the shared database and execute them (see `Lifecycle`)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

from .lifecycle import Lifecycle

__all__ = ["Wakeup", "Workers"]

log = structlog.get_logger("ara_server.worker")


class Wakeup:
    """Wakes this node's workers when a run was queued on it (runs queued by other nodes are found
    by polling)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def notify(self) -> None:
        """A run was queued."""
        self.event.set()


class Workers:
    """The run workers of one node: `count` tasks, each executing one run at a time.

    Args:
        lifecycle: Claims and executes runs.
        wakeup: The signal that a run was queued on this node.
        count: Number of workers (at least 1).
        poll_seconds: How often an idle worker looks for runs, in seconds.
    """

    def __init__(self, lifecycle: Lifecycle, wakeup: Wakeup, count: int, poll_seconds: float = 1.0) -> None:
        self.lifecycle, self.wakeup = lifecycle, wakeup
        self.count = max(1, count)
        self.poll_seconds = poll_seconds
        self._tasks: list[asyncio.Task[Any]] = []

    async def start(self) -> None:
        """Start the lifecycle's heartbeat and the workers. Runs a dead node left running are not
        touched here: any node reclaims them once their lease has expired."""
        self.lifecycle.start()
        for n in range(self.count):
            self._tasks.append(asyncio.create_task(self._work(), name=f"ara-run-worker-{n}"))

    async def stop(self) -> None:
        """Stop the workers; runs they were executing go back to the queue."""
        await self.lifecycle.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _idle(self) -> None:
        events = [self.wakeup.event, self.lifecycle.wakeup]
        waiters = [asyncio.create_task(e.wait()) for e in events]
        try:
            await asyncio.wait(waiters, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    async def _work(self) -> None:
        while True:
            # clear before claiming: a run queued after the claim found nothing still wakes us
            self.wakeup.event.clear()
            self.lifecycle.wakeup.clear()
            try:
                claimed = await self.lifecycle.claim_and_run()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away for a moment: try again after a pause
                log.exception("worker could not claim a run")
                claimed = False
            if not claimed:
                await self._idle()
