"""Masking of secret values in what a run leaves behind (its result, trace, log lines and the
streams built from them), as CI systems mask secrets in their logs."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["MASK", "MIN_MASKED_LENGTH", "MaskingSink", "SecretMask"]

#: What a secret value is replaced with.
MASK = "***"
#: Shortest secret value that is masked, in characters: shorter values (`"1"`, `"on"`) would mask
#: ordinary text everywhere and protect nothing.
MIN_MASKED_LENGTH = 4


class SecretMask:
    """Replaces every occurrence of the given secret values with `***`.

    Each value is matched exactly, and also in its JSON-escaped form (a value with a quote or a
    newline inside a serialized result). Values shorter than 4 characters are not masked.

    Args:
        values: The secret values (an app's secrets).
    """

    def __init__(self, values: Iterable[str]) -> None:
        forms: set[str] = set()
        for value in values:
            if len(value) < MIN_MASKED_LENGTH:
                continue
            forms.add(value)
            escaped = json.dumps(value, ensure_ascii=False)[1:-1]
            if len(escaped) >= MIN_MASKED_LENGTH:
                forms.add(escaped)
        # Longest first, so a value containing another is replaced whole.
        ordered = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(f) for f in ordered)) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, text: str) -> str:
        """`text` with every secret value replaced by `***`."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def value(self, value: Any) -> Any:
        """A copy of a JSON-like value (dicts, lists, strings; keys included) with secrets masked;
        other values are returned as they are."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                (self.text(k) if isinstance(k, str) else k): self.value(v)
                for k, v in value.items()  # pyright: ignore[reportUnknownVariableType]
            }
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
        return value

    def outcome(self, outcome: Any) -> Any:
        """A run outcome (a dataclass with `output_text`, `trace`, `error`, `extra`) with secrets
        masked in each of those fields."""
        if self._pattern is None or not dataclasses.is_dataclass(outcome) or isinstance(outcome, type):
            return outcome
        changes: dict[str, Any] = {}
        for name in ("output_text", "trace", "error", "extra", "instructions"):
            if hasattr(outcome, name):
                changes[name] = self.value(getattr(outcome, name))
        return dataclasses.replace(outcome, **changes)


class MaskingSink:
    """A run sink that masks secrets in trace entries and log lines before passing them on.

    Args:
        inner: The sink to pass masked entries and lines to (`trace(entry)`, `log(level,
            event_type, message)`).
        mask: The app's secrets.
    """

    def __init__(self, inner: Any, mask: SecretMask) -> None:
        self.inner, self.mask = inner, mask

    async def trace(self, entry: dict[str, Any]) -> None:
        """Pass on a trace entry, masked."""
        await self.inner.trace(self.mask.value(entry))

    async def log(self, level: str, event_type: str, message: str) -> None:
        """Pass on a log line, masked."""
        await self.inner.log(level, event_type, self.mask.text(message))
