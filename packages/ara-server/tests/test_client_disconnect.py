"""A client that disconnects before its request body is read is a client event: no error is logged,
no exception escapes the app (the server would log it with a traceback), nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from ara_server.http import errors
from ara_server.http.errors import CLIENT_CLOSED_REQUEST


class RecordingLog:
    """Stands in for the error module's logger: records `(level, event)`."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __getattr__(self, level: str) -> Any:
        def record(event: str, *args: Any, **kwargs: Any) -> None:
            self.lines.append((level, event))

        return record


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> RecordingLog:
    log = RecordingLog()
    monkeypatch.setattr(errors, "log", log)
    return log


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _call(
    server: Any, method: str, path: str, headers: dict[str, str], chunks: list[bytes]
) -> list[dict[str, Any]]:
    """Call the ASGI app directly: the body arrives as `chunks` (each announcing more), then the
    client disconnects. Returns the messages the app sent."""
    pending = [{"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks]

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw_headers.append((b"content-type", b"application/json"))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    await server.app(scope, receive, send)  # an escaping exception fails the test
    return sent


@pytest.mark.parametrize("chunks", [[], [b'{"event_type": "half']], ids=["before-body", "mid-body"])
async def test_event_from_a_client_that_disconnects(
    server: Any, recorded: RecordingLog, chunks: list[bytes]
) -> None:
    app_id = await server.deploy()
    key = await server.runtime_key(app_id, rpm=1000)
    sent = await _call(server, "POST", f"/v1/apps/{app_id}/events", _bearer(key), chunks)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == CLIENT_CLOSED_REQUEST
    assert recorded.lines == [("debug", "client disconnected before its request was read")]
    # nothing was recorded: the app's log stream holds no event line
    stream = await server.client.get(f"/v1/apps/{app_id}/logs/stream?follow=false", headers=_bearer(key))
    assert stream.status_code == 200
    assert "event.received" not in stream.text


async def test_deploy_from_a_client_that_disconnects_mid_body(server: Any, recorded: RecordingLog) -> None:
    sent = await _call(server, "POST", "/apps", server.owner(), [b'{"name": "half'])
    assert sent[0]["status"] == CLIENT_CLOSED_REQUEST
    assert recorded.lines == [("debug", "client disconnected before its request was read")]
    listed = await server.client.get("/apps", headers=server.owner())
    assert listed.status_code == 200
    assert listed.json()["apps"] == []


async def test_other_errors_are_still_logged_as_unhandled(server: Any, recorded: RecordingLog) -> None:
    """The 500 path is unchanged: an unexpected exception is logged with its traceback."""
    response = await errors.EXCEPTION_HANDLERS[500](_request_for("/boom"), RuntimeError("boom"))
    assert response.status_code == 500
    assert recorded.lines == [("exception", "unhandled error")]


def _request_for(path: str) -> Any:
    from starlette.requests import Request

    return Request({"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""})
