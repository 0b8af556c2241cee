"""One structlog line per HTTP request served by `ara dev`: an ASGI middleware around ara-server."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog

__all__ = ["AccessLog"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class AccessLog:
    """Log `request` with `method`, `path`, `status`, `duration_ms` and `client` once a request ends.

    The query string is left out (it may carry tokens); streamed responses (SSE logs) are logged when
    the stream closes. A request whose handler raised before answering is logged with status 500.
    Rendering follows the CLI's structlog setup: readable on a terminal, JSON lines otherwise.

    Args:
        app: The ASGI application to wrap (ara-server's Starlette app).
        logger_name: The structlog logger name.
    """

    def __init__(self, app: ASGIApp, *, logger_name: str = "ara.access") -> None:
        self.app = app
        self.log = structlog.get_logger(logger_name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request through the wrapped app and log it."""
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message.get("type") == "http.response.start":
                status = int(message.get("status", 0))
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            client = scope.get("client")
            self.log.info(
                "request",
                method=scope.get("method", ""),
                path=scope.get("path", ""),
                status=status or 500,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                client=f"{client[0]}:{client[1]}" if client else "",
            )
