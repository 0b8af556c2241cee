"""The recording server used to observe clients as black boxes: real HTTP on loopback, credentials
never recorded, and the recorded original-client fixture stays free of secrets."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import msgspec
from support.recording_server import PlausibleResponder, RecordingServer
from support.wire_0158 import BODIES, route_of

FIXTURE = Path(__file__).parent / "fixtures" / "original_0158_calls.json"


def test_records_requests_and_redacts_credentials():
    with RecordingServer() as rec, httpx.Client(base_url=rec.base_url) as client:
        created = client.post(
            "/automations/jobs",
            json={"name": "n", "schedule_kind": "every", "every_seconds": 60, "payload": {"m": 1}},
            headers={"Authorization": "Bearer topsecret", "X-Ara-App-Key": "appsecret"},
        )
        assert created.status_code == 200
        job_id = created.json()["job"]["id"]
        listed = client.get("/automations/jobs", params={"x": "1"})
        assert [job["id"] for job in listed.json()["jobs"]] == [job_id]
        missing = client.patch("/automations/jobs/a%2Fb", json={"enabled": False})
        assert missing.status_code == 404

    first, second, third = rec.exchanges
    assert first.headers["authorization"] == "Bearer <redacted>"
    assert first.headers["x-ara-app-key"] == "<redacted>"
    assert "topsecret" not in json.dumps(first.headers)
    assert first.body.kind == "json" and first.body.value["name"] == "n"
    assert second.query == [("x", "1")]
    assert third.raw_path == "/automations/jobs/a%2Fb" and third.path == "/automations/jobs/a/b"


def test_files_round_trip_through_multipart_upload_and_download():
    responder = PlausibleResponder()
    with RecordingServer(responder) as rec, httpx.Client(base_url=rec.base_url) as client:
        up = client.post(
            "/session/files/upload", data={"path": ""}, files={"file": ("r.bin", b"\x00\xffdata")}
        )
        assert up.json()["path"] == "/root/.ara/workspace/r.bin"
        down = client.get("/session/files/download", params={"path": "/root/.ara/workspace/r.bin"})
        assert down.content == b"\x00\xffdata"
        client.post("/session/files/write", json={"writes": [{"path": "a.txt", "content": "hi"}]})
        read = client.get("/session/files/read", params={"path": "a.txt"})
        assert read.json()["content"] == "hi"
    assert rec.exchanges[1].response.kind == "base64"


def test_original_client_fixture_has_no_credentials_and_covers_every_command():
    document = json.loads(FIXTURE.read_text())
    commands = {" ".join(s["argv"][2:4]) for s in document["scenarios"]}
    expected = {
        f"automation {c}"
        for c in ["list", "add", "update", "remove", "purge", "enable", "disable", "runs", "replay"]
    }
    expected |= {f"files {c}" for c in ["list", "read", "write", "upload", "download"]}
    expected |= {"session exec", "session keepalive"}
    assert expected <= commands
    for scenario in document["scenarios"]:
        for exchange in scenario["exchanges"]:
            assert exchange["headers"]["authorization"] == "Bearer <redacted>"


def test_every_recorded_request_body_decodes_into_its_typed_shape():
    document = json.loads(FIXTURE.read_text())
    seen: set[tuple[str, str]] = set()
    for scenario in document["scenarios"]:
        for exchange in scenario["exchanges"]:
            route = route_of(exchange["method"], exchange["path"])
            if route in BODIES:
                assert exchange["body"]["kind"] == "json", route
                msgspec.convert(exchange["body"]["value"], BODIES[route])
                seen.add(route)
            else:
                assert exchange["body"]["kind"] in ("none", "text"), route
    assert seen == set(BODIES)
