"""Errors of ara_http."""

from __future__ import annotations

import os

__all__ = ["ApiError", "debug_http_errors"]


def debug_http_errors() -> bool:
    """Whether `ARA_SDK_DEBUG_HTTP_ERRORS` asks for response bodies in errors (`1,true,yes,on`)."""
    return os.environ.get("ARA_SDK_DEBUG_HTTP_ERRORS", "").strip().lower() in ("1", "true", "yes", "on")


class ApiError(RuntimeError):
    """An HTTP call failed (spec §3.1).

    The message is `<METHOD> <path> failed (<status>). Response body hidden by default; set
    ARA_SDK_DEBUG_HTTP_ERRORS=true to include it.`, or with the debug flag
    `<METHOD> <path> failed (<status>): <body>`, or for transport failures
    `<METHOD> <path> failed (network): <reason>`.

    Attributes:
        method: HTTP method.
        path: Request path (with any query string).
        status: HTTP status, or `None` for network errors.
        body: Response body text (`""` for network errors).
    """

    def __init__(self, method: str, path: str, status: int | None, body: str = "", reason: str = "") -> None:
        self.method, self.path, self.status, self.body = method, path, status, body
        if status is None:
            message = f"{method} {path} failed (network): {reason}"
        elif debug_http_errors():
            message = f"{method} {path} failed ({status}): {body}"
        else:
            message = (
                f"{method} {path} failed ({status}). Response body hidden by default; "
                "set ARA_SDK_DEBUG_HTTP_ERRORS=true to include it."
            )
        super().__init__(message)
