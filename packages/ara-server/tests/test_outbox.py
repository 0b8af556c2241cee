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


# --------------------------------------------------------------- the callback URL policy at send time


async def _store_with_app(
    tmp_path: Path, database_url: str | None, *, allow_private: bool
) -> tuple[Any, str]:
    from ara_server.store import Store, accounts, apps

    settings = _settings(tmp_path, database_url)
    settings.allow_private_callbacks = allow_private
    store = Store(settings)
    await store.open()
    async with store.begin() as conn:
        owner = await accounts.account_by_email(conn, "o@example.com", create=True)
    assert owner is not None
    app = await apps.create_app(store, owner["id"], "hooked", MANIFEST)
    assert app is not None
    return store, str(app["id"])


async def _enqueue(store: Any, app_id: str, url: str) -> str:
    async with store.begin() as conn:
        return await outbox_store.enqueue_delivery(
            conn, app_id=app_id, run_id="run_rebound", event="run.completed", url=url, secret="s", body=b"{}"
        )


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
async def test_a_callback_that_now_points_at_loopback_is_refused_at_send_time(
    tmp_path: Path, database_url: str | None, receiver: Receiver, host: str
):
    """The callback passed the policy when the run was submitted; by the time the run finishes its
    host resolves to loopback (DNS rebinding). The delivery is refused, not sent, not retried."""
    from ara_server.services.logbus import LogBus
    from ara_server.services.outbox import Outbox

    store, app_id = await _store_with_app(tmp_path, database_url, allow_private=False)
    try:
        port = receiver.url.rsplit(":", 1)[1].split("/", 1)[0]
        await _enqueue(store, app_id, f"http://{host}:{port}/hook")
        outbox = Outbox(store.settings, store, LogBus(store))
        assert await outbox.deliver_one()
        rows = await store.run(outbox_store.deliveries_of, "run_rebound")
        assert (rows[0]["status"], rows[0]["attempt"]) == ("failed", 1)
        assert not await outbox.deliver_one()  # nothing left to retry
    finally:
        await store.close()
    assert receiver.received == []


async def test_an_http_callback_is_pinned_to_the_address_that_was_checked(
    tmp_path: Path, database_url: str | None, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
):
    """The request goes to the address the policy checked, with the callback's own Host header (so
    a second lookup by the HTTP client cannot be steered elsewhere)."""
    from ara_server.services import outbox as outbox_module
    from ara_server.services.logbus import LogBus

    lookups: list[tuple[str, int]] = []

    async def resolve(host: str, port: int) -> list[str]:
        lookups.append((host, port))
        return ["127.0.0.1"]  # a name no resolver knows, answered with the receiver's address

    # Treat the receiver's loopback address as public for this test only.
    monkeypatch.setattr(outbox_module, "is_public_address", lambda address: address == "127.0.0.1")
    store, app_id = await _store_with_app(tmp_path, database_url, allow_private=False)
    try:
        port = int(receiver.url.rsplit(":", 1)[1].split("/", 1)[0])
        await _enqueue(store, app_id, f"http://hooks.invalid:{port}/hook?x=1")
        outbox = outbox_module.Outbox(store.settings, store, LogBus(store), resolve=resolve)
        assert await outbox.deliver_one()
        rows = await store.run(outbox_store.deliveries_of, "run_rebound")
        assert rows[0]["status"] == "delivered"
    finally:
        await store.close()
    assert lookups == [("hooks.invalid", port)]
    assert [h["host"] for h, _, _ in receiver.received] == [f"hooks.invalid:{port}"]


async def test_callback_target_checks_every_address_and_pins_http_only():
    from ara_server.services.outbox import CallbackRefused, callback_target

    answers = {"hooks.example": ["93.184.216.34"], "mixed.example": ["93.184.216.34", "10.0.0.5"]}
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        if host not in answers:
            raise OSError("name does not resolve")
        return answers[host]

    target = await callback_target("http://hooks.example:8080/hook?x=1", allow_private=False, resolve=resolve)
    assert target == ("http://93.184.216.34:8080/hook?x=1", {"Host": "hooks.example:8080"})
    assert await callback_target("https://hooks.example/h", allow_private=False, resolve=resolve) == (
        "https://hooks.example/h",
        {},
    )
    with pytest.raises(CallbackRefused):
        await callback_target("http://mixed.example/h", allow_private=False, resolve=resolve)
    with pytest.raises(CallbackRefused):
        await callback_target("http://[::ffff:10.0.0.1]/h", allow_private=False, resolve=resolve)
    with pytest.raises(CallbackRefused):
        await callback_target("ftp://hooks.example/h", allow_private=False, resolve=resolve)
    with pytest.raises(OSError):  # a temporary failure: the delivery is retried
        await callback_target("http://gone.example/h", allow_private=False, resolve=resolve)
    asked.clear()
    assert await callback_target("http://localhost:1/h", allow_private=True, resolve=resolve) == (
        "http://localhost:1/h",
        {},
    )
    assert asked == []
