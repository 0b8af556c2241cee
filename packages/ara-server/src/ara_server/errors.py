"""Errors of ara-server: each maps to an HTTP status and a stable JSON shape
(`{"error": {"code", "message", "details"?}}`)."""

from __future__ import annotations

from typing import Any

__all__ = ["ApiProblem"]


class ApiProblem(Exception):
    """A request the server refuses, with its HTTP status and error code."""

    def __init__(
        self, status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}
