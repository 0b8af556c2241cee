"""Errors as types: one class per status, connection failures naming the host, bodies, async client."""

import asyncio
import json

import httpx
import msgspec
import pytest
from ara_core import AraError
from ara_http import (
    APIConnectionError,
    ApiError,
    APIStatusError,
    APITimeoutError,
    AsyncHttpClient,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    HttpClient,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    UnprocessableEntityError,
)

NO_RETRY = RetryPolicy(0)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
        (418, APIStatusError),
    ],
)
def test_each_status_raises_its_class(status, cls, monkeypatch):
    monkeypatch.delenv("ARA_SDK_DEBUG_HTTP_ERRORS", raising=False)
    body = {"error": {"code": "x_code", "message": "what the server says"}}
    client = HttpClient(
        "https://api.test",
        transport=httpx.MockTransport(lambda r: httpx.Response(status, json=body)),
        retry=NO_RETRY,
    )
    with pytest.raises(cls) as info:
        client.request("POST", "/apps?dry=1", json={})
    error: APIStatusError = info.value
    assert type(error) is cls
    assert all(isinstance(error, base) for base in (APIStatusError, ApiError, AraError, RuntimeError))
    assert (error.method, error.path, error.status) == ("POST", "/apps?dry=1", status)
    assert error.args[0] == (
        f"POST /apps?dry=1 failed ({status}). Response body hidden by default; "
        "set ARA_SDK_DEBUG_HTTP_ERRORS=true to include it."
    )
    assert error.server_message == "what the server says" and error.server_code == "x_code"
    assert error.body_shown is False


def test_rate_limit_keeps_retry_after():
    client = HttpClient(
        "https://api.test",
        transport=httpx.MockTransport(lambda r: httpx.Response(429, headers={"Retry-After": "7"})),
        retry=NO_RETRY,
    )
    with pytest.raises(RateLimitError) as info:
        client.request("GET", "/apps")
    assert info.value.retry_after == 7.0


def test_debug_flag_shows_the_body(monkeypatch):
    monkeypatch.setenv("ARA_SDK_DEBUG_HTTP_ERRORS", "on")
    client = HttpClient(
        "https://api.test",
        transport=httpx.MockTransport(lambda r: httpx.Response(404, text="no such app")),
        retry=NO_RETRY,
    )
    with pytest.raises(NotFoundError, match=r"^GET /apps/x failed \(404\): no such app$") as info:
        client.request("GET", "/apps/x")
    assert info.value.body_shown is True and info.value.server_message == ""


def test_loopback_connection_failure_says_to_start_ara_dev():
    # A real refused connection: nothing listens on a port we bound and closed.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = HttpClient(f"http://127.0.0.1:{port}", retry=NO_RETRY)
    with pytest.raises(APIConnectionError) as info:
        client.request("GET", "/apps")
    assert info.value.host == f"127.0.0.1:{port}"
    assert info.value.args[0].startswith(f"GET /apps failed (network): cannot reach 127.0.0.1:{port} (")
    assert info.value.args[0].endswith("is the server running? Start a local one with `ara dev`")
    assert not isinstance(info.value, APITimeoutError)


def test_unknown_host_is_named():
    client = HttpClient("https://no-such-host.invalid", retry=NO_RETRY)
    with pytest.raises(APIConnectionError) as info:
        client.request("GET", "/apps")
    assert info.value.host == "no-such-host.invalid"
    assert info.value.args[0].startswith("GET /apps failed (network): cannot reach no-such-host.invalid (")


def test_timeout_is_its_own_class():
    def handler(request):
        raise httpx.ReadTimeout("timed out", request=request)

    client = HttpClient("https://api.test", transport=httpx.MockTransport(handler), retry=NO_RETRY)
    with pytest.raises(
        APITimeoutError, match=r"^GET /slow failed \(network\): no response from api\.test within 5 s"
    ):
        client.request("GET", "/slow", timeout=5)


class Body(msgspec.Struct, kw_only=True):
    name: str
    requests_per_minute: int = 60


def test_raw_bytes_and_struct_bodies():
    seen: list[httpx.Request] = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, json={})

    client = HttpClient("https://api.test", transport=httpx.MockTransport(handler))
    client.request(
        "POST", "/raw", content=b"\x00\x01binary", headers={"Content-Type": "application/octet-stream"}
    )
    client.request("POST", "/struct", json=Body(name="k"))
    client.request("POST", "/dict", json={"b": [1, "é"]})
    assert (
        seen[0].content == b"\x00\x01binary" and seen[0].headers["content-type"] == "application/octet-stream"
    )
    assert seen[1].content == b'{"name":"k","requests_per_minute":60}'
    assert json.loads(seen[2].content) == {"b": [1, "é"]}
    with pytest.raises(TypeError, match="either json= or content="):
        client.request("POST", "/x", json={}, content=b"")


def test_async_client_does_real_async_requests_concurrently():
    """ASGI app answering on the event loop; the async client sends several requests at once."""
    in_flight = {"now": 0, "max": 0}

    async def app(scope, receive, send):
        assert scope["type"] == "http"
        message = await receive()
        in_flight["now"] += 1
        in_flight["max"] = max(in_flight["max"], in_flight["now"])
        await asyncio.sleep(0.05)
        in_flight["now"] -= 1
        status = 404 if scope["path"] == "/missing" else 200
        payload = json.dumps({"path": scope["path"], "body": message.get("body", b"").decode()}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def main():
        async with AsyncHttpClient("http://asgi.test", transport=httpx.ASGITransport(app=app)) as client:
            results = await asyncio.gather(
                *(client.request("POST", f"/r{i}", json={"i": i}) for i in range(5))
            )
            with pytest.raises(NotFoundError):
                await client.request("GET", "/missing")
        return results

    results = asyncio.run(main())
    assert [r["path"] for r in results] == [f"/r{i}" for i in range(5)]
    assert results[3]["body"] == '{"i":3}'
    assert in_flight["max"] > 1  # the requests overlapped on one event loop
