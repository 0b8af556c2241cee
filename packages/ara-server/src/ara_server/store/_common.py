"""Small helpers shared by the store modules."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from typing import Any

__all__ = ["new_id", "now", "row_dict"]


def now() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


_pool = bytearray()
_pool_lock = threading.Lock()
os.register_at_fork(after_in_child=_pool.clear)  # a forked child never repeats its parent's ids


def new_id(prefix: str) -> str:
    """A random id like `app_1a2b3c4d5e6f7a8b` (64 random bits from the OS's CSPRNG).

    The random bytes are drawn 4 KiB at a time: one `getrandom` call, which releases the GIL, per
    512 ids instead of one per id (on a busy server the event loop then waited for the GIL at
    every id).
    """
    with _pool_lock:
        if len(_pool) < 8:
            _pool[:] = os.urandom(4096)
        chunk = bytes(_pool[:8])
        del _pool[:8]
    return f"{prefix}_{chunk.hex()}"


def row_dict(row: Any) -> dict[str, Any] | None:
    """A result row as a dict, or `None`."""
    return dict(row._mapping) if row is not None else None
