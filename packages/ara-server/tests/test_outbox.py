"""The durable webhook outbox: the exact bytes signed are the bytes sent, failed deliveries are
retried with backoff, and a delivery pending when the server stops is sent after a restart."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from ara_server import Settings, create_app
from ara_server.engine import OfflineProvider
from ara_server.store import outbox as outbox_store

OWNER = "ara_owner_outbox_test_0123456789"
MANIFEST: dict[str, Any] = {
    "name": "hooked",
    "slug": "hooked",
    "agent": {
        "agents": [{"id": "echoer", "task": "Echo.", "instructions": "Echo the text."}],
        "default_agent_id": "echoer",
        "tools": [],
    },
    "workflows": [
        {"id": "echoer", "mode": "task", "agent_id": "echoer", "task": "Echo.", "trigger": {"type": "api"}}
    ],
}


@dataclass
class Receiver:
    """A webhook receiver on loopback that answers 500 to the first `fail` requests."""

    fail: int = 0
    received: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = 500 if len(rec.received) < rec.fail else 200
            rec.received.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    rec.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=rec.server.serve_forever, daemon=True)
    thread.start()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()


def _settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        workers=1,
        scheduler_interval_seconds=0,
        owner_api_key=OWNER,
        allow_private_callbacks=True,
        poll_seconds=0.05,
        webhook_backoff_seconds=0.05,
        webhook_attempts=5,
    )


async def _until(predicate: Any, what: str) -> None:
    for _ in range(400):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    signed = f"{headers['x-ara-timestamp']}.{headers['x-ara-delivery-id']}.".encode() + body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["x-ara-signature"])


async def _deploy(client: httpx.AsyncClient) -> tuple[str, str]:
    owner = {"Authorization": f"Bearer {OWNER}"}
    created = await client.post("/apps", json=MANIFEST, headers=owner)
    assert created.status_code == 201, created.text
    app_id = created.json()["app"]["id"]
    key = (await client.post(f"/apps/{app_id}/keys", json={}, headers=owner)).json()["key"]
    return app_id, key


async def _submit(client: httpx.AsyncClient, app_id: str, key: str, url: str) -> str:
    resp = await client.post(
        f"/v1/apps/{app_id}/runs",
        json={
            "input": {"message": "hi"},
            "response_mode": "webhook",
            "callback": {"url": url, "secret": "whsec_test"},
        },
        headers={"Authorization": f"Bearer {key}"},
    )
    assert resp.status_code == 202, resp.text
    return str(resp.json()["run_id"])


async def test_failed_deliveries_are_retried_and_the_signed_bytes_are_the_sent_bytes(
    tmp_path: Path, database_url: str | None, receiver: Receiver
):
    receiver.fail = 2
    app = create_app(_settings(tmp_path, database_url), provider=OfflineProvider())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        app_id, key = await _deploy(c)
        run_id = await _submit(c, app_id, key, receiver.url)

        async def delivered() -> bool:
            rows = await app.state.store.run(outbox_store.deliveries_of, run_id)
            return bool(rows) and rows[0]["status"] == "delivered"

        await _until(delivered, "the delivery")
        rows = await app.state.store.run(outbox_store.deliveries_of, run_id)
    assert [status for _, _, status in receiver.received] == [500, 500, 200]
    assert rows[0]["attempt"] == 3 and len(rows) == 1
    ids = {headers["x-ara-delivery-id"] for headers, _, _ in receiver.received}
    assert ids == {rows[0]["id"]}  # one delivery, three attempts
    for headers, body, _ in receiver.received:
        assert _verify("whsec_test", headers, body)
        assert body == bytes(rows[0]["body"])
    assert [h["x-ara-attempt"] for h, _, _ in receiver.received] == ["1", "2", "3"]
    payload = json.loads(receiver.received[-1][1])
    assert (payload["event"], payload["run"]["run_id"], payload["run"]["status"]) == (
        "run.completed",
        run_id,
        "completed",
    )


async def test_a_pending_delivery_survives_a_restart(
    tmp_path: Path, database_url: str | None, receiver: Receiver
):
    receiver.fail = 10**6  # the receiver is down while the first server runs
    settings = _settings(tmp_path, database_url)
    settings.webhook_backoff_seconds = 0.2
    settings.webhook_attempts = 100
    app = create_app(settings, provider=OfflineProvider())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        app_id, key = await _deploy(c)
        run_id = await _submit(c, app_id, key, receiver.url)

        async def tried() -> bool:
            return len(receiver.received) >= 1

        await _until(tried, "a first attempt")
    rows = []
    receiver.fail = 0  # it is back up
    again = create_app(_settings(tmp_path, database_url), provider=OfflineProvider())
    async with again.router.lifespan_context(again):

        async def delivered() -> bool:
            nonlocal rows
            rows = await again.state.store.run(outbox_store.deliveries_of, run_id)
            return rows[0]["status"] == "delivered"

        await _until(delivered, "the delivery after the restart")
    assert receiver.received[-1][2] == 200
    assert _verify("whsec_test", receiver.received[-1][0], receiver.received[-1][1])
    assert app_id
