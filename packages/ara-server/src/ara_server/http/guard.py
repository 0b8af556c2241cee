"""A guard in front of every route: a NUL character in the path or the query string is refused
with 400 before any route runs (no database stores it, and no path may contain it)."""

from __future__ import annotations

import json
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["RejectNul"]


class RejectNul:
    """ASGI middleware: `400 invalid_request` for a NUL (`%00`) in the path or query string.

    Args:
        app: The wrapped application.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = str(scope.get("path") or "")
            query = bytes(scope.get("query_string") or b"")
            if "\x00" in path or b"\x00" in unquote_to_bytes(query):
                body = json.dumps(
                    {
                        "error": {
                            "code": "invalid_request",
                            "message": "the path or query string contains a NUL character (%00)",
                        }
                    }
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
