"""ara_http against a real HTTP server on loopback: a plain `http://` client keeps one connection
alive, sends with `TCP_NODELAY` and sets up no TLS; an `https://` client gets a verified context."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from ara_http import AsyncHttpClient, HttpClient


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        payload = json.dumps({"path": self.path, "got": json.loads(body), "peer": self.client_address[1]})
        data = payload.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _nodelay(response: httpx.Response) -> int:
    sock: socket.socket = response.extensions["network_stream"].get_extra_info("socket")
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_plain_http_client_reuses_one_connection_with_nodelay_and_no_tls(base_url: str) -> None:
    client = HttpClient(base_url + "/")
    try:
        first = client.request("POST", "/v1/x", json={"a": 1})
        second = client.request("POST", "/v1/y", json={"b": [2]})
        assert first["path"] == "/v1/x" and first["got"] == {"a": 1}
        assert second["got"] == {"b": [2]}
        assert first["peer"] == second["peer"]  # the same keep-alive connection
        transport = client._client._transport  # pyright: ignore[reportPrivateUsage]
        assert transport._pool._ssl_context is None  # type: ignore[attr-defined]
        assert _nodelay(client._client.post(base_url + "/v1/z", json={})) != 0  # pyright: ignore[reportPrivateUsage]
    finally:
        client.close()


def test_plain_http_async_client_same(base_url: str) -> None:
    async def go() -> None:
        client = AsyncHttpClient(base_url)
        try:
            first = await client.request("POST", "/v1/x", json={"a": 1})
            second = await client.request("POST", "/v1/y", json={"b": 2})
            assert first["got"] == {"a": 1} and second["got"] == {"b": 2}
            assert first["peer"] == second["peer"]
            transport = client._client._transport  # pyright: ignore[reportPrivateUsage]
            assert transport._pool._ssl_context is None  # type: ignore[attr-defined]
            response = await client._client.post(base_url + "/v1/z", json={})  # pyright: ignore[reportPrivateUsage]
            assert _nodelay(response) != 0
        finally:
            await client.aclose()

    asyncio.run(go())


def test_https_client_verifies_certificates() -> None:
    for client in (HttpClient("https://api.example.test"), AsyncHttpClient("https://api.example.test")):
        context = client._client._transport._pool._ssl_context  # type: ignore[attr-defined]  # pyright: ignore[reportPrivateUsage]
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
