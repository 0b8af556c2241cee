"""Secrets stay secret: exact secret values are masked (`***`) in stored run results and traces, the
sync answer, the app log and its stream; key material is stored only as keyed hashes; the data dir
and its key files are private."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from ara_server.store import schema as t

TOKEN = "tok-3f9c2a71-very-secret"
QUOTED = 'pa"ss\nword-42'

LEAKY_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "shout",
        "description": "Leaks its secrets.",
        "parameters": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    },
    "function_name": "shout",
    "source": (
        "def shout(text: str) -> dict:\n"
        "    import os\n"
        "    print('printed', os.environ['MY_TOKEN'])\n"
        "    return {'token': os.environ['MY_TOKEN'], 'quoted': os.environ['MY_QUOTED'],\n"
        "            os.environ['MY_TOKEN']: 'as a key', 'short': os.environ['MY_SHORT']}\n"
    ),
}


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_secret_values_are_masked_in_results_traces_logs_and_streams(server):
    c = server.client
    manifest = server.manifest("leaky")
    manifest["agent"]["tools"] = [LEAKY_TOOL]
    app_id = await server.deploy(manifest)
    put = await c.post(
        f"/apps/{app_id}/secrets",
        json={"name": "tokens", "values": {"MY_TOKEN": TOKEN, "MY_QUOTED": QUOTED, "MY_SHORT": "abc"}},
        headers=server.owner(),
    )
    assert put.status_code == 200, put.text
    key = await server.runtime_key(app_id)

    sync = await c.post(f"/v1/apps/{app_id}/run", json={"input": {"text": "x"}}, headers=_bearer(key))
    assert sync.status_code == 200 and sync.json()["status"] == "completed", sync.text
    queued = await c.post(f"/v1/apps/{app_id}/runs", json={"input": {"text": "y"}}, headers=_bearer(key))
    run_id = queued.json()["run_id"]
    got: dict[str, Any] = {}
    for _ in range(400):
        got = (await c.get(f"/v1/apps/{app_id}/runs/{run_id}", headers=_bearer(key))).json()["run"]
        if got["status"] in ("completed", "failed"):
            break
        await asyncio.sleep(0.05)
    assert got["status"] == "completed", got
    logs = await c.get(f"/v1/apps/{app_id}/logs/stream?follow=false", headers=_bearer(key))
    events = await c.get(f"/v1/apps/{app_id}/runs/{run_id}/events", headers=_bearer(key))

    store = server.app.state.store
    async with store.connect() as conn:
        rows = (await conn.execute(sa.select(t.runs.c.result, t.runs.c.trace, t.runs.c.error))).all()
        lines = (await conn.execute(sa.select(t.logs.c.message))).scalars().all()
    stored = repr(rows) + repr(lines)
    for text in (sync.text, repr(got), logs.text, events.text, stored):
        assert TOKEN not in text
        assert 'pa\\"ss' not in text and 'pa"ss' not in text
    assert "***" in sync.text and "***" in logs.text and "***" in stored
    tool_result = sync.json()["result"]["tool_calls"][0]["result"]
    assert tool_result["token"] == "***" and tool_result["quoted"] == "***" and "***" in tool_result
    assert tool_result["short"] == "abc"  # values under 4 characters are not masked


async def test_key_material_is_stored_as_keyed_hashes_only(server):
    c = server.client
    app_id = await server.deploy()
    runtime = await server.runtime_key(app_id)
    header = await server.runtime_key(app_id, header=True)
    store = server.app.state.store
    async with store.connect() as conn:
        hashes = (await conn.execute(sa.select(t.app_keys.c.key_hash))).scalars().all()
        api = (await conn.execute(sa.select(t.api_keys.c.key_hash))).scalars().all()
    import hashlib

    for key in (runtime, header, server.owner_key):
        plain = hashlib.sha256(key.encode()).hexdigest()
        assert plain not in hashes and plain not in api and key not in repr(hashes) + repr(api)
        assert store.hasher.hash(key) in hashes + api
    listed = (await c.get(f"/apps/{app_id}/keys", headers=server.owner())).json()["keys"]
    assert listed and all(set(k) >= {"id", "key_prefix", "is_active"} and "key" not in k for k in listed)


async def test_data_dir_is_private(server):
    settings = server.app.state.settings
    data: Path = settings.data_dir
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("secrets.key", "keys.pepper", "ara.db"):
        if (data / name).exists():
            assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name


async def test_unkeyed_hashes_of_an_older_database_are_migrated(tmp_path):
    """A database written before keyed hashes: its SHA-256 key digests are re-hashed on upgrade and
    the old keys keep working."""
    import hashlib

    from alembic import command
    from alembic.config import Config
    from ara_server import Settings
    from ara_server.store import Store
    from ara_server.store.keys import HASHER_INFO_KEY, KeyHasher
    from sqlalchemy import create_engine, event

    data = tmp_path / "data"
    data.mkdir()
    url = f"sqlite:///{data / 'ara.db'}"
    engine = create_engine(url)
    hasher = KeyHasher.load(data)

    @event.listens_for(engine, "connect")
    def _attach(_c: Any, record: Any) -> None:
        record.info[HASHER_INFO_KEY] = hasher

    from importlib.resources import files

    cfg = Config()
    cfg.set_main_option("script_location", str(files("ara_server.store") / "migrations"))
    old_key = "ara_sk_" + "k" * 43
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
        conn.execute(
            sa.text(
                "INSERT INTO accounts (id, email, is_owner, created_at) "
                "VALUES ('acct_1', 'o@x', 1, CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO api_keys (id, account_id, key_prefix, key_hash, created_at) "
                "VALUES ('key_1', 'acct_1', 'ara_sk_kkkkkk', :h, CURRENT_TIMESTAMP)"
            ),
            {"h": hashlib.sha256(old_key.encode()).hexdigest()},
        )
    engine.dispose()
    store = Store(Settings(data_dir=data))
    await store.open()
    try:
        from ara_server.store import accounts

        found = await store.run(accounts.account_for_api_key, old_key)
        assert found is not None and found["id"] == "acct_1"
    finally:
        await store.close()


async def test_callbacks_without_a_secret_are_signed_with_the_apps_secret(server):
    import hashlib
    import hmac
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((dict(self.headers), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        c = server.client
        server.app.state.settings.allow_private_callbacks = True
        app_id = await server.deploy()
        key = await server.runtime_key(app_id)
        url = f"http://127.0.0.1:{httpd.server_address[1]}/hook"
        sent = await c.post(
            f"/v1/apps/{app_id}/runs",
            json={"input": {"text": "w"}, "response_mode": "webhook", "callback": {"url": url}},
            headers=_bearer(key),
        )
        assert sent.status_code == 202, sent.text
        for _ in range(400):
            if got:
                break
            await asyncio.sleep(0.05)
        assert got, "no delivery"
        viewer = await server.api_key_for("v@example.com", app_id, "viewer")
        refused = await c.get(f"/apps/{app_id}/webhook-secret", headers=_bearer(viewer))
        assert refused.status_code == 403
        secret = (await c.get(f"/apps/{app_id}/webhook-secret", headers=server.owner())).json()["secret"]
        assert secret.startswith("whsec_") and len(secret) > 30
        headers, body = got[0]
        signed = f"{headers['X-Ara-Timestamp']}.{headers['X-Ara-Delivery-Id']}.".encode() + body
        assert (
            headers["X-Ara-Signature"]
            == "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        )
        empty = "sha256=" + hmac.new(b"", signed, hashlib.sha256).hexdigest()
        assert headers["X-Ara-Signature"] != empty
        run = (await c.get(f"/v1/apps/{app_id}/runs/{sent.json()['run_id']}", headers=_bearer(key))).text
        assert secret not in run
    finally:
        httpd.shutdown()
        httpd.server_close()
