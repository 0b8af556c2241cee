"""`request_bytes`: raw response bodies (file downloads), with the same errors and retries as JSON calls."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from ara_http import AsyncHttpClient, HttpClient, NotFoundError, RetryPolicy

BLOB = b"\x00\xff\xfe not json, not utf-8 \xc3\x28"


def _handler(seen: list[httpx.Request], *, fail_first: int = 0):
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) <= fail_first:
            return httpx.Response(503)
        if request.url.params.get("path") == "/missing":
            return httpx.Response(404, json={"detail": "no such file"})
        return httpx.Response(200, content=BLOB, headers={"Content-Type": "application/octet-stream"})

    return handle


def test_bytes_come_back_as_sent_and_no_content_type_is_sent():
    seen: list[httpx.Request] = []
    with HttpClient("http://api.test", transport=httpx.MockTransport(_handler(seen))) as client:
        assert client.request_bytes("GET", "/session/files/download?path=/a.bin") == BLOB
        with pytest.raises(NotFoundError):
            client.request_bytes("GET", "/session/files/download?path=/missing")
    assert "content-type" not in seen[0].headers and seen[0].headers["accept"] == "*/*"
    assert seen[0].content == b""


def test_a_retried_failure_then_bytes():
    seen: list[httpx.Request] = []
    client = HttpClient(
        "http://api.test",
        transport=httpx.MockTransport(_handler(seen, fail_first=1)),
        retry=RetryPolicy(max_retries=2),
        sleep=lambda _seconds: None,
    )
    with client:
        assert client.request_bytes("GET", "/session/files/download?path=/a.bin") == BLOB
    assert len(seen) == 2


def test_async_twin():
    seen: list[httpx.Request] = []

    async def main() -> bytes:
        async def no_sleep(_seconds: float) -> None:
            return None

        transport = httpx.MockTransport(_handler(seen))
        async with AsyncHttpClient("http://api.test", transport=transport, sleep=no_sleep) as client:
            with pytest.raises(NotFoundError):
                await client.request_bytes("GET", "/session/files/download?path=/missing")
            return await client.request_bytes("GET", "/session/files/download?path=/a.bin")

    assert asyncio.run(main()) == BLOB
