"""Public endpoints over real HTTP on loopback: one endpoint per auth mode (none, header, bearer,
hmac). Valid requests run the agent and return its result; wrong secrets, forged, expired,
replayed and unsigned signatures are refused with 401 JSON; a missing secret is a 503."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ara_sdk import sign_webhook

HMAC_SECRET = "whsec_c2lnbmluZy1rZXktZm9yLXRlc3Rz"
SECRETS = {
    "ENDPOINT_BY_HEADER_SECRET": "header-secret-1",
    "ENDPOINT_BY_BEARER_SECRET": "bearer-secret-1",
    "ENDPOINT_BY_HMAC_SECRET": HMAC_SECRET,
}


def _endpoint(
    label: str, mode: str, *, method: str = "POST", header: str = "", docs: bool = False
) -> dict[str, Any]:
    env = "" if mode == "none" else f"ARA_ENDPOINT_{label.upper().replace('-', '_')}_SECRET"
    return {
        "type": "fastapi_endpoint",
        "method": method,
        "path": f"/{label}",
        "label": label,
        "docs": docs,
        "auth": {"mode": mode, "header_name": header, "secret_env": env},
    }


def _manifest() -> dict[str, Any]:
    agents = [
        {"id": "open", "task": "Echo.", "fastapi_endpoint": _endpoint("open", "none", docs=True)},
        {
            "id": "by-header",
            "task": "Echo.",
            "fastapi_endpoint": _endpoint("by-header", "header", header="X-Ara-Endpoint-Secret"),
        },
        {"id": "by-bearer", "task": "Echo.", "fastapi_endpoint": _endpoint("by-bearer", "bearer")},
        {"id": "by-hmac", "task": "Echo.", "fastapi_endpoint": _endpoint("by-hmac", "hmac")},
        {"id": "no-secret", "task": "Echo.", "fastapi_endpoint": _endpoint("no-secret", "header")},
        {"id": "lookup", "task": "Echo.", "fastapi_endpoint": _endpoint("lookup", "none", method="GET")},
    ]
    return {
        "name": "hooks",
        "slug": "hooks",
        "agent": {"agents": agents, "default_agent_id": "open", "tools": []},
    }


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[httpx.Client, str]]:
    from ara_server import ServerThread, Settings
    from ara_server.engine import OfflineProvider

    settings = Settings(data_dir=tmp_path / "server-data", port=0)
    with ServerThread(settings, provider=OfflineProvider()) as srv:
        owner = {"Authorization": f"Bearer {srv.owner_api_key}"}
        with httpx.Client(base_url=srv.base_url, timeout=60) as client:
            created = client.post("/apps", json=_manifest(), headers=owner)
            assert created.status_code == 201, created.text
            app_id = created.json()["app"]["id"]
            put = client.post(
                f"/apps/{app_id}/secrets", json={"name": "endpoints", "values": SECRETS}, headers=owner
            )
            assert put.status_code in (200, 201), put.text
            yield client, app_id


def _refused(resp: httpx.Response, status: int = 401) -> str:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    return str(resp.json()["error"]["code"])


def test_each_auth_mode_accepts_the_right_caller_and_refuses_the_rest(live: tuple[httpx.Client, str]):
    client, app_id = live
    url = f"/v1/apps/{app_id}/endpoints"
    payload = {"message": "hello", "n": 1}

    open_ = client.post(f"{url}/open?src=test", json=payload, headers={"X-Trace": "t1"})
    assert open_.status_code == 200, open_.text
    body = open_.json()
    assert body["ok"] is True and body["status"] == "completed" and body["run_id"]
    run = client.get(f"/v1/apps/{app_id}/runs/{body['run_id']}", headers={}).status_code
    assert run == 401  # the run is private; only the endpoint is public
    assert client.get(f"{url}/open").status_code == 405
    assert client.get(f"{url}/lookup", params={"q": "x"}).status_code == 200
    assert _refused(client.post(f"{url}/missing", json={}), 404) == "not_found"

    header = f"{url}/by-header"
    assert (
        client.post(header, json=payload, headers={"X-Ara-Endpoint-Secret": "header-secret-1"}).status_code
        == 200
    )
    assert (
        _refused(client.post(header, json=payload, headers={"X-Ara-Endpoint-Secret": "header-secret-2"}))
        == "endpoint_unauthorized"
    )
    assert _refused(client.post(header, json=payload)) == "endpoint_unauthorized"

    bearer = f"{url}/by-bearer"
    assert (
        client.post(bearer, json=payload, headers={"Authorization": "Bearer bearer-secret-1"}).status_code
        == 200
    )
    _refused(client.post(bearer, json=payload, headers={"Authorization": "Bearer nope"}))
    _refused(client.post(bearer, json=payload, headers={"X-Ara-Endpoint-Secret": "bearer-secret-1"}))

    assert _refused(client.post(f"{url}/no-secret", json=payload), 503) == "endpoint_secret_missing"


def test_hmac_signatures_expiry_replay_and_rotation(live: tuple[httpx.Client, str]):
    client, app_id = live
    url = f"/v1/apps/{app_id}/endpoints/by-hmac"
    raw = json.dumps({"event": "invoice.paid", "amount": 42}).encode()
    json_type = {"Content-Type": "application/json"}

    signed = sign_webhook(HMAC_SECRET, raw)
    ok = client.post(url, content=raw, headers={**json_type, **signed})
    assert ok.status_code == 200, ok.text and ok.json()["ok"] is True
    # the same delivery again is a replay, whatever its timestamp says
    assert (
        "replay" in client.post(url, content=raw, headers={**json_type, **signed}).json()["error"]["message"]
    )
    # unsigned, forged (other key / other body), expired and future timestamps
    _refused(client.post(url, content=raw, headers=json_type))
    _refused(client.post(url, content=raw, headers={**json_type, **sign_webhook("whsec_b3RoZXI=", raw)}))
    tampered = sign_webhook(HMAC_SECRET, raw)
    _refused(client.post(url, content=raw + b" ", headers={**json_type, **tampered}))
    old = sign_webhook(HMAC_SECRET, raw, timestamp=int(time.time()) - 301)
    assert "300 s" in client.post(url, content=raw, headers={**json_type, **old}).json()["error"]["message"]
    _refused(
        client.post(
            url,
            content=raw,
            headers={**json_type, **sign_webhook(HMAC_SECRET, raw, timestamp=int(time.time()) + 400)},
        )
    )
    bad_header = {**sign_webhook(HMAC_SECRET, raw), "webhook-signature": "v1,not-base64!!"}
    _refused(client.post(url, content=raw, headers={**json_type, **bad_header}))
    # several signatures (key rotation): one valid is enough
    rotated = sign_webhook(HMAC_SECRET, raw)
    both = {**rotated, "webhook-signature": f"v1,AAAA {rotated['webhook-signature']}"}
    assert client.post(url, content=raw, headers={**json_type, **both}).status_code == 200

    # asynchronous: 202 with the run id, the run finishes on its own
    queued = client.post(
        url, content=raw, headers={**json_type, **sign_webhook(HMAC_SECRET, raw), "Prefer": "respond-async"}
    )
    assert queued.status_code == 202, queued.text
    assert queued.headers["preference-applied"] == "respond-async" and queued.json()["run_id"]
