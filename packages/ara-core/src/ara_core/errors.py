"""Errors of ara_core. Each subclasses the builtin it resembles (DESIGN.md conventions)."""

from __future__ import annotations

__all__ = ["ArgumentError", "DeclarationError", "ManifestError"]


class DeclarationError(ValueError):
    """A decorator or helper was given something it cannot use (spec §1.10)."""


class ArgumentError(ValueError):
    """A tool argument does not fit the tool's JSON schema; the message names `$.<param>`."""


class ManifestError(ValueError):
    """A manifest failed validation.

    Attributes:
        errors: `(json_path, message)` pairs, e.g. `("$.workflows[2].trigger.cron", "...")`.
    """

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = list(errors)
        lines = [f"at `{path}`: {message}" for path, message in self.errors]
        super().__init__("invalid manifest:\n  " + "\n  ".join(lines) if lines else "invalid manifest")
