"""Errors of the `ara` command line."""

from __future__ import annotations

from ara_core import AraError

__all__ = ["CliError"]


class CliError(AraError, RuntimeError):
    """A command failed for a reason the user can fix; printed as `error: <message>`, exit code 1."""
