"""Per-key request limits (`requests_per_minute` of runtime and app header keys)."""

from __future__ import annotations

import math
import time
from collections import deque

__all__ = ["RateLimiter"]

WINDOW_SECONDS = 60.0


class RateLimiter:
    """A sliding one-minute window per key, kept in memory on each node.

    With several nodes each enforces the limit on its own traffic, so the effective limit is at
    most `rpm x nodes` (docs/decisions.md).
    """

    def __init__(self, clock: object = time.monotonic) -> None:
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def check(self, key_id: str, rpm: int) -> float | None:
        """Count one request; return `None` if allowed, else the seconds to wait (>= 1)."""
        now = self._clock()  # type: ignore[operator]
        hits = self._hits.setdefault(key_id, deque())
        while hits and now - hits[0] >= WINDOW_SECONDS:
            hits.popleft()
        if rpm > 0 and len(hits) >= rpm:
            return max(1.0, math.ceil(WINDOW_SECONDS - (now - hits[0])))
        hits.append(now)
        return None
