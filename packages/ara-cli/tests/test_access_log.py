"""The `ara dev` access log: one structured line per request, with the status the app answered."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ara_cli._access_log import AccessLog
from structlog.testing import capture_logs


async def _app(scope: Any, receive: Any, send: Any) -> None:
    if scope["path"] == "/boom":
        raise RuntimeError("handler failed")
    status = 404 if scope["path"] == "/missing" else 200
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def _call(app: AccessLog, path: str, query: bytes = b"") -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": query,
        "client": ("127.0.0.1", 5),
    }
    asyncio.run(app(scope, receive, send))
    return sent


def test_one_line_per_request_with_status_and_duration():
    app = AccessLog(_app)
    with capture_logs() as logs:
        sent = _call(app, "/apps", b"poll_token=secret")
        _call(app, "/missing")
    assert sent[0]["status"] == 200  # the response passes through unchanged
    assert [(e["event"], e["method"], e["path"], e["status"]) for e in logs] == [
        ("request", "POST", "/apps", 200),
        ("request", "POST", "/missing", 404),
    ]
    assert all(isinstance(e["duration_ms"], float) and e["duration_ms"] >= 0 for e in logs)
    assert logs[0]["client"] == "127.0.0.1:5"
    assert "secret" not in repr(logs)


def test_a_failing_handler_is_logged_as_500_and_still_raises():
    app = AccessLog(_app)
    with capture_logs() as logs, pytest.raises(RuntimeError):
        _call(app, "/boom")
    assert [(e["path"], e["status"]) for e in logs] == [("/boom", 500)]


def test_lifespan_passes_through_unlogged():
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    async def nothing() -> dict[str, Any]:
        return {}

    async def ignore(message: Any) -> None:
        return None

    with capture_logs() as logs:
        asyncio.run(AccessLog(app)({"type": "lifespan"}, nothing, ignore))
    assert seen == ["lifespan"] and logs == []
