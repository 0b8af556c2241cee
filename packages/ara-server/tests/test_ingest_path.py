"""The pieces of the ingest hot path that replaced generic ones: the NUL guard in the application's
entry point (no middleware), header lookups straight from the ASGI scope, msgspec-encoded JSON
responses, and the body read from `receive`."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest
from ara_server.http.body import bearer, header, read_body
from ara_server.http.guard import has_nul
from ara_server.http.responses import json_response
from starlette.requests import Request
from starlette.responses import JSONResponse


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_has_nul_matches_percent_decoding_of_the_query() -> None:
    # every query string of up to 5 of these bytes: the guard's shortcut agrees with decoding
    for size in range(1, 6):
        for parts in itertools.product([b"%", b"0", b"2", b"5", b"\x00", b"a"], repeat=size):
            query = b"".join(parts)
            expected = b"\x00" in unquote_to_bytes(query)
            assert has_nul({"type": "http", "path": "/", "query_string": query}) is expected, query
    assert has_nul({"type": "http", "path": "/a\x00b", "query_string": b""})


async def test_nul_in_the_path_or_query_is_refused_before_any_route(server: Any) -> None:
    app_id = await server.deploy()
    key = await server.runtime_key(app_id, rpm=1000)
    for path in (f"/v1/apps/{app_id}%00/events", f"/v1/apps/{app_id}/events?x=%00", "/nowhere%00"):
        resp = await server.client.post(path, json={"event_type": "ping"}, headers=_bearer(key))
        assert resp.status_code == 400, path
        assert resp.json()["error"]["code"] == "invalid_request", path
    # `%2500` decodes to the text `%00`, not to NUL
    ok = await server.client.post(
        f"/v1/apps/{app_id}/events?x=%2500", json={"event_type": "ping"}, headers=_bearer(key)
    )
    assert ok.status_code == 202, ok.text


def _request(headers: list[tuple[bytes, bytes]], body: list[bytes] | None = None) -> Request:
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(body or [b""]) - 1}
        for i, chunk in enumerate(body or [b""])
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers}, receive)


def test_header_reads_the_first_value_and_none_when_absent() -> None:
    request = _request([(b"x-one", b"1"), (b"authorization", b"BEARER  tok "), (b"x-one", b"2")])
    assert header(request, "x-one") == "1"
    assert header(request, "x-missing") is None
    assert bearer(request) == "tok"
    assert bearer(_request([(b"authorization", b"Basic abc")])) == ""
    assert bearer(_request([])) == ""


async def test_read_body_joins_chunks_and_enforces_the_limit() -> None:
    assert await read_body(_request([], [b'{"a"', b": 1}"]), limit=100) == b'{"a": 1}'
    assert await read_body(_request([], [b""]), limit=100) == b""
    from ara_server.errors import ApiProblem

    with pytest.raises(ApiProblem) as too_large:
        await read_body(_request([], [b"x" * 60, b"y" * 60]), limit=100)  # no Content-Length
    assert too_large.value.status == 413


@pytest.mark.parametrize(
    "content",
    [
        {"ok": True, "event_id": "evt_1", "runs": [], "matched_workflows": ["a"], "n": None},
        {"text": 'é \u2028 "quoted" \\ <tag>', "big": 10**20, "float": 1.5, "nested": [{"a": []}]},
    ],
)
def test_json_response_sends_what_jsonresponse_sends(content: dict[str, Any]) -> None:
    ours, theirs = json_response(content, 202), JSONResponse(content, 202)
    assert (ours.body, ours.status_code) == (theirs.body, theirs.status_code)
    assert ours.headers.items() == theirs.headers.items()


def test_server_thread_freezes_the_start_up_heap(tmp_path: Any) -> None:
    import gc

    import httpx
    from ara_server import ServerThread, Settings
    from ara_server.engine import OfflineProvider

    settings = Settings(data_dir=tmp_path / "data", port=0, owner_api_key="ara_sk_test_freeze")
    try:
        with ServerThread(settings, provider=OfflineProvider()) as server:
            # the objects alive after start-up are out of the cyclic collector's full passes
            assert gc.get_freeze_count() > 10_000
            assert httpx.get(f"{server.base_url}/healthz", timeout=10).status_code == 200
    finally:
        gc.unfreeze()  # the rest of this test process collects as before


async def test_idle_polls_do_not_take_the_sqlite_write_lock(store: Any) -> None:
    """Workers and the outbox poll once a second; with nothing to claim, their claim is a plain
    read, so it neither waits for nor holds SQLite's one write lock (which the group-commit writer
    needs for every batch of events)."""
    import sqlite3

    from ara_server.store import outbox, runs

    assert store.engine is not None
    if store.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    other = sqlite3.connect(str(store.engine.url.database), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock for the whole check
        assert await store.run(runs.claim_run, "node-a", 30.0) is None
        assert await store.run(outbox.claim_delivery, "node-a", 30.0) is None
    finally:
        other.execute("ROLLBACK")
        other.close()


async def test_a_lone_surrogate_is_refused_and_a_pair_is_kept(server: Any) -> None:
    app_id = await server.deploy()
    key = await server.runtime_key(app_id, rpm=1000)
    headers = {**_bearer(key), "Content-Type": "application/json"}
    url = f"/v1/apps/{app_id}/events"
    for body in (
        b'{"event_type": "x\\ud800"}',  # an escape of half a pair
        b'{"event_type": "x", "payload": {"\\udc00": 1}}',  # in a key
        b'{"event_type": "x\xed\xa0\x80"}',  # the UTF-8 form of a surrogate (not valid UTF-8)
    ):
        resp = await server.client.post(url, content=body, headers=headers)
        assert resp.status_code == 400, (body, resp.text)  # was a 500: the answer could not be encoded
        assert resp.json()["error"]["code"] == "invalid_json", body
    ok = await server.client.post(url, content=b'{"event_type": "smile \\ud83d\\ude00"}', headers=headers)
    assert ok.status_code == 202, ok.text
    assert ok.json()["event_type"] == "smile \U0001f600"
