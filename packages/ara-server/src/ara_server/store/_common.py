"""Small helpers shared by the store modules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

__all__ = ["new_id", "now", "row_dict"]


def now() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """A random id like `app_1a2b3c4d5e6f7a8b`."""
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def row_dict(row: Any) -> dict[str, Any] | None:
    """A result row as a dict, or `None`."""
    return dict(row._mapping) if row is not None else None
