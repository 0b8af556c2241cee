"""Errors of the `ara` command line."""

from __future__ import annotations

__all__ = ["CliError"]


class CliError(RuntimeError):
    """A command failed for a reason the user can fix; printed as `error: <message>`, exit code 1."""
