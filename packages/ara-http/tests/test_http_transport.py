"""ara_http with httpx.MockTransport: error texts, retries, auth headers, SSE."""

import json

import httpx
import pytest
from ara_http import (
    APIConnectionError,
    ApiError,
    AppHeaderKeyAuth,
    BearerAuth,
    HttpClient,
    PermissionDeniedError,
    RetryPolicy,
)


def _client(handler, **kw):
    return HttpClient("https://api.test/", transport=httpx.MockTransport(handler), **kw)


def test_json_bodies_auth_and_empty_responses():
    seen = []

    def handler(request):
        seen.append(request)
        if request.url.path == "/empty":
            return httpx.Response(200, content=b"")
        if request.url.path == "/none":
            return httpx.Response(204)
        return httpx.Response(200, json={"ok": True})

    client = _client(handler, auth=BearerAuth("tok"))
    assert client.request("POST", "/x?q=1", json={"a": 1}) == {"ok": True}
    assert client.request("GET", "/empty") == {}
    assert client.request("GET", "/none") is None
    assert seen[0].headers["authorization"] == "Bearer tok"
    assert seen[0].content == b'{"a":1}' and seen[0].url.query == b"q=1"
    client.request("GET", "/x", auth=AppHeaderKeyAuth("xk"))
    assert seen[-1].headers["x-ara-app-key"] == "xk" and "authorization" not in seen[-1].headers
    client.request("GET", "/x", auth=None)
    assert "authorization" not in seen[-1].headers


def test_error_text_hides_body_unless_debug(monkeypatch):
    client = _client(lambda r: httpx.Response(403, text="secret detail"), retry=RetryPolicy(0))
    monkeypatch.delenv("ARA_SDK_DEBUG_HTTP_ERRORS", raising=False)
    with pytest.raises(ApiError) as info:
        client.request("GET", "/apps?x=1")
    assert str(info.value) == (
        "GET /apps?x=1 failed (403). Response body hidden by default; "
        "set ARA_SDK_DEBUG_HTTP_ERRORS=true to include it."
    )
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, PermissionDeniedError)
    monkeypatch.setenv("ARA_SDK_DEBUG_HTTP_ERRORS", "Yes")
    with pytest.raises(ApiError, match=r"^GET /apps failed \(403\): secret detail$"):
        client.request("GET", "/apps")


def test_network_error_text_names_the_host():
    def handler(request):
        raise httpx.ConnectError("connection refused")

    with pytest.raises(
        APIConnectionError,
        match=r"^POST /apps failed \(network\): cannot reach api\.test \(connection refused\); "
        r"check the address",
    ) as info:
        _client(handler, retry=RetryPolicy(0)).request("POST", "/apps", json={})
    assert info.value.host == "api.test" and info.value.status is None


def test_retries_honour_retry_after_and_only_for_idempotent_or_keyed(monkeypatch):
    sleeps: list[float] = []
    calls = {"n": 0}

    def handler(request):
        calls["n"] += 1
        if calls["n"] < 3:
            return httpx.Response(429 if calls["n"] == 1 else 503, headers={"Retry-After": "2"})
        return httpx.Response(200, json={"done": calls["n"]})

    assert _client(handler, sleep=sleeps.append).request("GET", "/apps") == {"done": 3}
    assert sleeps == [2.0, 2.0]
    calls["n"] = 0
    with pytest.raises(ApiError, match=r"\(429\)"):
        _client(handler, sleep=sleeps.append).request("POST", "/v1/apps/a/run", json={})
    assert calls["n"] == 1  # never retried without an idempotency key
    calls["n"] = 0
    assert _client(handler, sleep=sleeps.append).request(
        "POST", "/v1/apps/a/events", json={}, headers={"X-Idempotency-Key": "k"}
    ) == {"done": 3}


def test_backoff_is_jittered_and_capped():
    policy = RetryPolicy(max_retries=5, base_delay=1.0, max_delay=4.0)
    delays = [policy.delay(attempt, None) for attempt in range(6) for _ in range(20)]
    assert all(0 <= d <= 4.0 for d in delays) and len(set(delays)) > 10


def test_sse_stream_skips_comments_and_bad_json():
    body = b': heartbeat\n\ndata: {"message": "one"}\n\ndata: not json\n\ndata: {"message": "two"}\n\n'
    client = _client(
        lambda r: httpx.Response(200, content=body, headers={"Content-Type": "text/event-stream"})
    )
    assert list(client.stream_events("GET", "/logs")) == [{"message": "one"}, {"message": "two"}]
    bad = _client(lambda r: httpx.Response(401, text="no"), retry=RetryPolicy(0))
    with pytest.raises(ApiError, match=r"GET /logs failed \(401\)"):
        list(bad.stream_events("GET", "/logs"))
    json.dumps({})
