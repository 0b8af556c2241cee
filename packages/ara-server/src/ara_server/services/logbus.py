"""The log bus: writes app log lines and wakes the log streams of this node."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ..store import Store, logs

__all__ = ["LogBus"]


class LogBus:
    """Log lines of apps (stored, so every node's streams see them).

    Args:
        store: The store.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._event = asyncio.Event()

    async def log(self, app_id: str, run_id: str | None, level: str, event_type: str, message: str) -> None:
        """Append a log line and wake this node's log streams."""
        await self.store.run(logs.add_log, app_id, run_id, level, event_type, message)
        self.wake()

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
