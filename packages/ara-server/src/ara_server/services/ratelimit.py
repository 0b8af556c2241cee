"""Per-key request limits (`requests_per_minute` of runtime and app header keys)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

__all__ = ["DEFAULT_MAX_KEYS", "WINDOW_SECONDS", "RateLimiter"]

#: Length of the sliding window, in seconds.
WINDOW_SECONDS = 60.0
#: Most keys tracked at once by default (a bucket holds at most `rpm` timestamps).
DEFAULT_MAX_KEYS = 100_000


class RateLimiter:
    """A sliding one-minute window per key, kept in memory on each node.

    Memory stays bounded: a key whose last counted request is a full window old is forgotten (its
    window is empty, so forgetting it changes nothing), a key without a limit (`rpm` 0) is never
    tracked, a bucket holds at most `rpm` timestamps, and at most `max_keys` keys are tracked at
    once (past that, the key whose last counted request is oldest is forgotten first and may get up
    to `rpm` more requests in its window).

    With several nodes each enforces the limit on its own traffic, so the effective limit is at
    most `rpm x nodes` (docs/decisions.md).

    Args:
        clock: Monotonic time source, in seconds (default `time.monotonic`).
        max_keys: Most keys tracked at once (default `DEFAULT_MAX_KEYS`).

    Raises:
        ValueError: `max_keys` below 1.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1 (got {max_keys})")
        self._clock = clock
        self._max_keys = max_keys
        # Ordered by the time of each bucket's last counted request, oldest first.
        self._hits: dict[str, deque[float]] = {}

    def __len__(self) -> int:
        """The number of keys tracked now."""
        return len(self._hits)

    def check(self, key_id: str, rpm: int) -> float | None:
        """Count one request of `key_id` against `rpm` requests per minute (0 or less: no limit).

        Returns:
            `None` if allowed, else the seconds to wait before the next request is allowed (>= 1).
        """
        now = self._clock()
        self._expire(now)
        if rpm <= 0:
            self._hits.pop(key_id, None)
            return None
        hits = self._hits.get(key_id)
        if hits is None:
            hits = deque[float]()
        else:
            while hits and now - hits[0] >= WINDOW_SECONDS:
                hits.popleft()
            if len(hits) >= rpm:
                return max(1.0, math.ceil(WINDOW_SECONDS - (now - hits[0])))
            del self._hits[key_id]  # re-inserted last: the order follows the last counted request
        hits.append(now)
        self._hits[key_id] = hits
        while len(self._hits) > self._max_keys:
            del self._hits[next(iter(self._hits))]
        return None

    def _expire(self, now: float) -> None:
        """Forget the keys whose last counted request left the window (oldest first, so the loop
        stops at the first key still active: amortised O(1) per request)."""
        while self._hits:
            key_id = next(iter(self._hits))
            if now - self._hits[key_id][-1] < WINDOW_SECONDS:
                return
            del self._hits[key_id]
