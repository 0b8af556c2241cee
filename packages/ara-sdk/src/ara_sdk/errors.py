"""Errors of ara_sdk."""

from __future__ import annotations

__all__ = ["AppLoadError"]


class AppLoadError(RuntimeError):
    """An app script could not be loaded; the message says why and how to fix it."""
