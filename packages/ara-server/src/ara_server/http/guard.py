"""A guard in front of every route: a NUL character in the path or the query string is refused
with 400 before any route runs (no database stores it, and no path may contain it).

The check runs in the application's own entry point (`GuardedStarlette.__call__`), not in a
middleware layer: a middleware adds one more coroutine to every request.
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

__all__ = ["GuardedStarlette", "has_nul"]

_NUL_BODY = json.dumps(
    {
        "error": {
            "code": "invalid_request",
            "message": "the path or query string contains a NUL character (%00)",
        }
    }
).encode()


def has_nul(scope: Scope) -> bool:
    """Whether an HTTP request's path (already percent-decoded) or query string holds a NUL
    character, raw or percent-encoded (`%00`: the only encoding that decodes to NUL)."""
    query: bytes = scope.get("query_string") or b""
    return "\x00" in (scope.get("path") or "") or b"\x00" in query or b"%00" in query


async def _refuse(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_NUL_BODY)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _NUL_BODY})


class GuardedStarlette(Starlette):
    """A Starlette application that answers `400 invalid_request` to an HTTP request with a NUL
    (`%00`) in its path or query string, before its middleware and routes see it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and has_nul(scope):
            await _refuse(send)
            return
        # Starlette.__call__, inlined (calling it would add the layer this class avoids)
        scope["app"] = self
        if self.middleware_stack is None:
            self.middleware_stack = self.build_middleware_stack()
        await self.middleware_stack(scope, receive, send)
