"""Identifier rules shared by every layer: slugify, run ids, the project-name rule."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

__all__ = ["PROJECT_NAME_PATTERN", "SLUG_MAX_LENGTH", "new_run_id", "slugify"]

#: The DNS-label rule for ``App(project_name)``: 1-63 characters of ``[a-z0-9-]``,
#: no leading or trailing hyphen. Not lowercased before matching.
PROJECT_NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

#: Slugs are cut to this many characters.
SLUG_MAX_LENGTH = 120


def slugify(value: object) -> str:
    """Normalize a value into an id slug.

    ``str(value or "")`` is stripped and lowercased; every alphanumeric character (Unicode letters
    and digits included, per ``str.isalnum``) is kept, every run of other characters becomes one
    ``-``; leading and trailing hyphens are removed and the result is cut to 120 characters.

    Args:
        value: Anything; ``None`` and other falsy values give ``""``.

    Returns:
        The slug, possibly empty (callers decide whether empty is an error).
    """
    text = str(value or "").strip().lower()
    out: list[str] = []
    pending_dash = False
    for ch in text:
        if ch.isalnum():
            if pending_dash and out:
                out.append("-")
            pending_dash = False
            out.append(ch)
        else:
            pending_dash = True
    return "".join(out)[:SLUG_MAX_LENGTH].strip("-")


def new_run_id() -> str:
    """Return a fresh run id: ``run-<UTC yyyymmddTHHMMSSZ>-<first 8 hex of a uuid4>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"run-{stamp}-{uuid.uuid4().hex[:8]}"
