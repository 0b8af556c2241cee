"""The server surface in-process (httpx ASGITransport): automation jobs and runs, session files,
terminal and heartbeat, the run list and a run's event stream, and /openapi.json."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from ara_server.services.automations import due_times
from openapi_spec_validator import validate
from starlette.routing import Route

WORKSPACE = "/root/.ara/workspace"


def bearer_headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _code(resp: httpx.Response) -> str:
    return resp.json()["error"]["code"]


def _job_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "nightly",
        "schedule_kind": "every",
        "every_seconds": 3600,
        "schedule_expr": None,
        "timezone": "UTC",
        "payload": {"kind": "agent_turn", "message": "summarise", "deliver": True, "channel": "linq"},
        "execution_mode": "sandbox_required",
        "misfire_policy": "fire_latest_only",
        "max_retries": 3,
        "retry_backoff_seconds": 30,
    }
    return {**body, **over}


async def _finish(c: httpx.AsyncClient, app_id: str, run_id: str, headers: dict[str, str]) -> dict[str, Any]:
    for _ in range(400):
        got = await c.get(f"/v1/apps/{app_id}/runs/{run_id}", headers=headers)
        run = got.json()["run"]
        if run["status"] in ("completed", "failed", "cancelled"):
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


async def test_automation_jobs_crud_runs_and_replay(server: Any):
    c, owner = server.client, server.owner()
    assert (await c.get("/automations/jobs")).status_code == 401
    # no app yet: an agent_turn job has nowhere to run
    nowhere = await c.post("/automations/jobs", json=_job_body(), headers=owner)
    assert (nowhere.status_code, _code(nowhere)) == (422, "invalid_body")
    assert "$.payload.app_id" in nowhere.json()["error"]["message"]
    app_id = await server.deploy()
    assert (await c.get("/automations/jobs", headers=owner)).json() == {"jobs": []}
    created = await c.post("/automations/jobs", json=_job_body(), headers=owner)
    assert created.status_code == 201, created.text
    job = created.json()["job"]
    assert job["enabled"] is True and job["app_id"] == app_id and job["delivery"] == "unsupported"
    assert job["next_run_at"] is not None
    cron = await c.post(
        "/automations/jobs",
        json=_job_body(
            name="weekly",
            schedule_kind="cron",
            every_seconds=None,
            schedule_expr="0 9 * * 1",
            timezone="Europe/Paris",
            payload={"kind": "app_agent_call", "agent_id": "shouter", "input": {"text": "hi"}},
            misfire_policy="skip_if_late",
        ),
        headers=owner,
    )
    assert cron.status_code == 201, cron.text
    for bad, path in [
        (_job_body(every_seconds=0), "$.every_seconds"),
        (_job_body(schedule_kind="cron", every_seconds=None, schedule_expr="nope"), "$.schedule_expr"),
        (
            _job_body(
                schedule_kind="cron", every_seconds=None, schedule_expr="* * * * *", timezone="Mars/Base"
            ),
            "$.timezone",
        ),
        (_job_body(misfire_policy="sometimes"), "$.misfire_policy"),
        (_job_body(max_retries=-1), "$.max_retries"),
        (_job_body(payload={"kind": "email"}), "$.payload.kind"),
        (_job_body(payload={"kind": "app_agent_call", "agent_id": "ghost"}), "$.payload.agent_id"),
        (_job_body(surprise=1), "surprise"),
    ]:
        refused = await c.post("/automations/jobs", json=bad, headers=owner)
        assert refused.status_code == 422, (bad, refused.text)
        assert path in refused.json()["error"]["message"], (path, refused.text)
    listed = (await c.get("/automations/jobs", headers=owner)).json()["jobs"]
    assert [j["name"] for j in listed] == ["nightly", "weekly"]

    patched = await c.patch(
        f"/automations/jobs/{job['id']}", json={"enabled": False, "name": "n2"}, headers=owner
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["job"]["enabled"] is False and patched.json()["job"]["next_run_at"] is None
    for missing in ("job_404", "a%2Fb%20c"):
        gone = await c.patch(f"/automations/jobs/{missing}", json={"enabled": True}, headers=owner)
        assert gone.status_code == 404, gone.text
    assert (await c.patch(f"/automations/jobs/{job['id']}", json={}, headers=owner)).status_code == 422
    assert (
        await c.patch(f"/automations/jobs/{job['id']}", json={"schedule_kind": "cron"}, headers=owner)
    ).status_code == 422

    # another account sees none of it
    stranger = await server.api_key_for("stranger@example.com", app_id, "viewer")
    assert (await c.get("/automations/jobs", headers=bearer_headers(stranger))).json() == {"jobs": []}
    assert (
        await c.delete(f"/automations/jobs/{job['id']}", headers=bearer_headers(stranger))
    ).status_code == 404

    # firing: the service's tick fires each due time once, however often it runs
    service = server.app.state.services.automations
    activated = await c.patch(f"/apps/{app_id}", json={"status": "active"}, headers=owner)
    assert activated.status_code == 200, activated.text
    await c.patch(f"/automations/jobs/{job['id']}", json={"enabled": True}, headers=owner)
    at = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1, seconds=5)
    service._since = at - timedelta(seconds=30)
    first = await service.tick(at)
    service._since = at - timedelta(seconds=30)
    again = await service.tick(at)
    assert len(first) == 1 and again == []
    runs = (await c.get("/automations/runs", headers=owner)).json()["runs"]
    assert len(runs) == 1 and runs[0]["job_id"] == job["id"] and runs[0]["run_id"] == first[0]
    finished = await _finish(c, app_id, first[0], owner)
    assert finished["status"] == "completed"
    done = (await c.get("/automations/runs?state=succeeded", headers=owner)).json()["runs"]
    assert [r["id"] for r in done] == [runs[0]["id"]]
    assert (await c.get("/automations/runs?state=failed", headers=owner)).json()["runs"] == []
    bad_state = await c.get("/automations/runs?state=weird", headers=owner)
    assert (bad_state.status_code, _code(bad_state)) == (422, "invalid_query")

    replay = await c.post(f"/automations/runs/{runs[0]['id']}/replay", json={}, headers=owner)
    assert replay.status_code == 202, replay.text
    again_run = replay.json()["run"]
    assert again_run["replay_of"] == runs[0]["id"] and again_run["id"] != runs[0]["id"]
    assert (await _finish(c, app_id, again_run["run_id"], owner))["status"] == "completed"
    assert (await c.post("/automations/runs/arun_nope/replay", json={}, headers=owner)).status_code == 404

    deleted = await c.delete(f"/automations/jobs/{job['id']}", headers=owner)
    assert deleted.json() == {"ok": True, "id": job["id"], "deleted": True}
    assert (await c.delete(f"/automations/jobs/{job['id']}", headers=owner)).status_code == 404
    orphan = await c.post(f"/automations/runs/{runs[0]['id']}/replay", json={}, headers=owner)
    assert (orphan.status_code, _code(orphan)) == (409, "job_deleted")
    assert len((await c.get("/automations/runs", headers=owner)).json()["runs"]) == 2


async def test_automation_session_tools(server: Any):
    c, owner = server.client, server.owner()
    await server.deploy()
    await c.post("/session/start", headers=owner)
    execute = "/session/runtime/tools/execute"
    made = await c.post(execute, json={"tool_name": "automation_create", "args": _job_body()}, headers=owner)
    assert made.status_code == 200, made.text
    job_id = made.json()["result"]["job"]["id"]
    listed = await c.post(execute, json={"tool_name": "automation_list", "args": {}}, headers=owner)
    assert [j["id"] for j in listed.json()["result"]["jobs"]] == [job_id]
    upd = await c.post(
        execute,
        json={"tool_name": "automation_update", "args": {"id": job_id, "enabled": False}},
        headers=owner,
    )
    assert upd.json()["result"]["job"]["enabled"] is False
    gone = await c.post(
        execute, json={"tool_name": "automation_delete", "args": {"id": job_id}}, headers=owner
    )
    assert gone.json()["result"]["deleted"] is True
    listed_tools = (await c.get("/session/runtime/tools?kind=builtin", headers=owner)).json()["tools"]
    available = {t["name"] for t in listed_tools if t["available"]}
    assert {"automation_create", "automation_list", "automation_update", "automation_delete"} <= available


def test_due_times_every_and_cron():
    job = {"schedule_kind": "every", "every_seconds": 60}
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert due_times(job, start, start + timedelta(seconds=59)) == []
    assert due_times(job, start, start + timedelta(seconds=180)) == [
        start + timedelta(seconds=s) for s in (60, 120, 180)
    ]
    cron = {"schedule_kind": "cron", "schedule_expr": "0 9 * * *", "timezone": "Europe/Paris"}
    got = due_times(cron, start, start + timedelta(days=2))
    assert got == [datetime(2026, 1, 1, 8, tzinfo=UTC), datetime(2026, 1, 2, 8, tzinfo=UTC)]


async def test_session_files_terminal_and_heartbeat(server: Any):
    c, owner = server.client, server.owner()
    idle = await c.get("/session/files", headers=owner)
    assert (idle.status_code, _code(idle)) == (409, "session_not_running")
    assert (await c.post("/session/heartbeat", json={}, headers=owner)).status_code == 409
    await c.post("/session/start", headers=owner)
    beat = await c.post("/session/heartbeat", json={}, headers=owner)
    assert beat.status_code == 200 and beat.json()["ok"] is True

    wrote = await c.post(
        "/session/files/write",
        json={"writes": [{"path": f"{WORKSPACE}/notes/today.txt", "content": "héllo"}], "restart": False},
        headers=owner,
    )
    assert wrote.status_code == 200, wrote.text
    assert wrote.json()["written"] == [{"path": f"{WORKSPACE}/notes/today.txt", "bytes": 6}]
    read = await c.get("/session/files/read", params={"path": f"{WORKSPACE}/notes/today.txt"}, headers=owner)
    assert read.json()["content"] == "héllo"
    listing = await c.get("/session/files", params={"path": f"{WORKSPACE}/notes"}, headers=owner)
    assert [(e["name"], e["type"], e["size"]) for e in listing.json()["entries"]] == [
        ("today.txt", "file", 6)
    ]
    root = (await c.get("/session/files", headers=owner)).json()
    assert root["path"] == WORKSPACE and [e["name"] for e in root["entries"]] == ["notes"]

    for hostile in ("/etc/passwd", f"{WORKSPACE}/../../etc/passwd", "../outside.txt"):
        refused = await c.get("/session/files/read", params={"path": hostile}, headers=owner)
        assert (refused.status_code, _code(refused)) == (403, "path_outside_workspace"), hostile
    escape = await c.post(
        "/session/files/write", json={"writes": [{"path": "/tmp/x", "content": "x"}]}, headers=owner
    )
    assert escape.status_code == 403 and "$.writes[0].path" in escape.json()["error"]["message"]
    missing = await c.get("/session/files/read", params={"path": f"{WORKSPACE}/nope.txt"}, headers=owner)
    assert missing.status_code == 404
    restart = await c.post(
        "/session/files/write",
        json={"writes": [{"path": "a", "content": ""}], "restart": True},
        headers=owner,
    )
    assert restart.status_code == 422 and "$.restart" in restart.json()["error"]["message"]
    assert (await c.post("/session/files/write", json={"writes": []}, headers=owner)).status_code == 422

    blob = bytes(range(256)) * 4
    up = await c.post(
        "/session/files/upload",
        data={"path": ""},
        files={"file": ("report.bin", blob, "application/octet-stream")},
        headers=owner,
    )
    assert up.status_code == 201, up.text
    assert up.json() == {"ok": True, "path": f"{WORKSPACE}/report.bin", "bytes": len(blob)}
    up2 = await c.post(
        "/session/files/upload",
        data={"path": f"{WORKSPACE}/data/"},
        files={"file": ("in.csv", b"a,b\n", "application/octet-stream")},
        headers=owner,
    )
    assert up2.json()["path"] == f"{WORKSPACE}/data/in.csv"
    nofile = await c.post("/session/files/upload", data={"path": "x"}, headers=owner)
    assert nofile.status_code == 422
    down = await c.get("/session/files/download", params={"path": f"{WORKSPACE}/report.bin"}, headers=owner)
    assert down.status_code == 200 and down.content == blob
    assert down.headers["content-type"] == "application/octet-stream"
    assert 'filename="report.bin"' in down.headers["content-disposition"]
    binary = await c.get("/session/files/read", params={"path": f"{WORKSPACE}/report.bin"}, headers=owner)
    assert (binary.status_code, _code(binary)) == (422, "not_text")

    # a symbolic link made by the session's own commands never leads the server out of the workspace
    workspace = server.app.state.services.sessions.workspace(
        (await c.get("/auth/cli/whoami", headers=owner)).json()["user"]["id"]
    )
    outside = workspace.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s3cret")
    (workspace / "link").symlink_to(outside)
    (workspace / "file-link").symlink_to(outside / "secret.txt")
    for hostile in ("link/secret.txt", "file-link"):
        refused = await c.get("/session/files/read", params={"path": hostile}, headers=owner)
        assert (refused.status_code, _code(refused)) == (403, "path_outside_workspace"), refused.text
    escaped = await c.post(
        "/session/files/write", json={"writes": [{"path": "link/new.txt", "content": "x"}]}, headers=owner
    )
    assert escaped.status_code == 403 and not (outside / "new.txt").exists()
    replaced = await c.post(
        "/session/files/write", json={"writes": [{"path": "file-link", "content": "mine"}]}, headers=owner
    )
    assert replaced.status_code == 200 and (outside / "secret.txt").read_text() == "s3cret"
    assert not (workspace / "file-link").is_symlink()
    listed = await c.get("/session/files", headers=owner)
    assert {e["name"]: e["type"] for e in listed.json()["entries"]}["link"] == "file"

    ran = await c.post(
        "/session/terminal/exec",
        json={"command": "echo hi && cat notes/today.txt && pwd", "timeout_seconds": 30},
        headers=owner,
    )
    assert ran.status_code == 200, ran.text
    out = ran.json()
    assert out["ok"] is True and out["exit_code"] == 0 and out["stdout"].startswith("hi\nhéllo")
    failed = (await c.post("/session/terminal/exec", json={"command": "exit 3"}, headers=owner)).json()
    assert failed["ok"] is False and failed["exit_code"] == 3
    slow = (
        await c.post(
            "/session/terminal/exec", json={"command": "sleep 30", "timeout_seconds": 1}, headers=owner
        )
    ).json()
    assert slow["timed_out"] is True and slow["ok"] is False
    bad = await c.post(
        "/session/terminal/exec", json={"command": "true", "timeout_seconds": 601}, headers=owner
    )
    assert bad.status_code == 422 and "$.timeout_seconds" in bad.json()["error"]["message"]


async def test_run_list_filters_pagination_and_event_stream(server: Any):
    c, owner = server.client, server.owner()
    app_id = await server.deploy()
    ids = []
    for i in range(5):
        resp = await c.post(f"/v1/apps/{app_id}/runs", json={"input": {"text": f"t{i}"}}, headers=owner)
        ids.append(resp.json()["run_id"])
    for run_id in ids:
        await _finish(c, app_id, run_id, owner)
    page = (await c.get(f"/v1/apps/{app_id}/runs", params={"limit": 2}, headers=owner)).json()
    assert [r["run_id"] for r in page["runs"]] == ids[::-1][:2] and page["next_cursor"]
    seen = [r["run_id"] for r in page["runs"]]
    while page["next_cursor"]:
        page = (
            await c.get(
                f"/v1/apps/{app_id}/runs", params={"limit": 2, "cursor": page["next_cursor"]}, headers=owner
            )
        ).json()
        seen += [r["run_id"] for r in page["runs"]]
    assert seen == ids[::-1]
    none = await c.get(f"/v1/apps/{app_id}/runs", params={"status": "failed"}, headers=owner)
    assert none.json()["runs"] == []
    assert (
        len(
            (
                await c.get(
                    f"/v1/apps/{app_id}/runs", params={"agent": "shouter", "kind": "agent"}, headers=owner
                )
            ).json()["runs"]
        )
        == 5
    )
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await c.get(f"/v1/apps/{app_id}/runs", params={"since": future}, headers=owner)).json()[
        "runs"
    ] == []
    for params, name in [
        ({"status": "odd"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"since": "soon"}, "since"),
        ({"cursor": "!!"}, "cursor"),
    ]:
        bad = await c.get(f"/v1/apps/{app_id}/runs", params=params, headers=owner)
        assert (bad.status_code, _code(bad)) == (422, "invalid_query"), bad.text
        assert f"`{name}`" in bad.json()["error"]["message"]
    assert (await c.get(f"/v1/apps/{app_id}/runs")).status_code == 401

    events = await _sse(c, f"/v1/apps/{app_id}/runs/{ids[0]}/events", owner)
    names = [e["event"] for e in events]
    assert names[0] == "run.queued" and "run.started" in names and names[-1] == "run.completed"
    assert names.count("run.completed") == 1
    # the agent's model turn and its tool call, as they happened
    assert "model.step" in names and names.index("tool.call") < names.index("tool.result")
    # resuming after the second event gives the rest, exactly once
    resumed = await _sse(
        c, f"/v1/apps/{app_id}/runs/{ids[0]}/events", {**owner, "Last-Event-ID": events[1]["id"]}
    )
    assert [e["id"] for e in resumed] == [e["id"] for e in events[2:]]
    assert await _sse(c, f"/v1/apps/{app_id}/runs/{ids[0]}/events", {**owner, "Last-Event-ID": "end"}) == []
    assert (await c.get(f"/v1/apps/{app_id}/runs/run_nope/events", headers=owner)).status_code == 404
    for hostile in ("9" * 5000, "-1", "abc"):
        bad = await c.get(
            f"/v1/apps/{app_id}/runs/{ids[0]}/events", headers={**owner, "Last-Event-ID": hostile}
        )
        assert (bad.status_code, _code(bad)) == (422, "invalid_header")


async def _sse(c: httpx.AsyncClient, url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with c.stream("GET", url, headers=headers) as resp:
        assert resp.status_code == 200
        current: dict[str, Any] = {}
        async for line in resp.aiter_lines():
            if not line:
                if current:
                    out.append(current)
                current = {}
            elif line.startswith("id: "):
                current["id"] = line[4:]
            elif line.startswith("event: "):
                current["event"] = line[7:]
            elif line.startswith("data: "):
                current["data"] = json.loads(line[6:])
    return out


async def test_openapi_document_is_valid_and_lists_every_route(server: Any):
    c = server.client
    doc = (await c.get("/openapi.json")).json()
    validate(doc)
    for route in server.app.routes:
        assert isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}:
            assert method.lower() in doc["paths"][route.path], (method, route.path)
    ops = doc["paths"]
    create = ops["/automations/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert create == {"$ref": "#/components/schemas/JobCreate"}
    assert "JobCreate" in doc["components"]["schemas"] and "ErrorBody" in doc["components"]["schemas"]


@pytest.mark.parametrize("docs", [True, False])
async def test_openapi_publishes_documented_endpoints(server: Any, docs: bool):
    manifest = server.manifest("documented")
    manifest["agent"]["agents"][0]["fastapi_endpoint"] = {
        "type": "fastapi_endpoint",
        "method": "POST",
        "path": "/hook",
        "label": "hook",
        "docs": docs,
        "auth": {"mode": "none", "header_name": "", "secret_env": ""},
    }
    app_id = await server.deploy(manifest)
    activated = await server.client.patch(
        f"/apps/{app_id}", json={"status": "active"}, headers=server.owner()
    )
    assert activated.status_code == 200, activated.text
    doc = (await server.client.get("/openapi.json")).json()
    validate(doc)
    assert (f"/v1/apps/{app_id}/endpoints/hook" in doc["paths"]) is docs


async def test_two_nodes_fire_an_automation_job_once_per_due_time(server: Any):
    from ara_server.services.automations import AutomationService

    c, owner = server.client, server.owner()
    app_id = await server.deploy()
    assert (await c.patch(f"/apps/{app_id}", json={"status": "active"}, headers=owner)).status_code == 200
    created = await c.post(
        "/automations/jobs", json=_job_body(every_seconds=60, misfire_policy="fire_all"), headers=owner
    )
    assert created.status_code == 201, created.text
    store = server.app.state.store
    node_a, node_b = AutomationService(store), AutomationService(store)
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=2)
    for node in (node_a, node_b):
        node._since = start - timedelta(minutes=1, seconds=1)
    # both nodes tick over the same four due times at once: each is fired by exactly one of them
    until = start + timedelta(minutes=2)
    fired = await asyncio.gather(node_a.tick(until), node_b.tick(until))
    assert len(fired[0]) + len(fired[1]) == 4
    runs = (await c.get("/automations/runs", headers=owner)).json()["runs"]
    expected = sorted((start + timedelta(minutes=m)).isoformat() for m in (-1, 0, 1, 2))
    assert sorted(r["scheduled_for"] for r in runs) == expected
    # a later tick of either node fires nothing again
    assert await node_a.tick(until) == [] and await node_b.tick(until) == []


async def test_an_automation_run_retries_as_its_job_says(server: Any):
    c, owner = server.client, server.owner()
    app_id = await server.deploy()
    assert (await c.patch(f"/apps/{app_id}", json={"status": "active"}, headers=owner)).status_code == 200
    body = _job_body(max_retries=7, retry_backoff_seconds=11)
    assert (await c.post("/automations/jobs", json=body, headers=owner)).status_code == 201
    service = server.app.state.services.automations
    at = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1, seconds=1)
    service._since = at - timedelta(seconds=30)
    (run_id,) = await service.tick(at)
    services = server.app.state.services
    row = await services.runs.get(app_id, run_id)
    app = (await c.get("/apps", headers=owner)).json()["apps"][0]
    policy = services.runs.lifecycle.policy({**app, "manifest": server.manifest()}, row)
    assert (policy.max_retries, policy.retry_backoff_seconds, row["max_attempts"]) == (7, 11.0, 8)


async def test_scheduler_create_payloads_work_as_session_tools(server: Any):
    from ara_sdk import schedule, scheduler

    c, owner = server.client, server.owner()
    app_id = await server.deploy()
    assert (await c.patch(f"/apps/{app_id}", json={"status": "active"}, headers=owner)).status_code == 200
    await c.post("/session/start", headers=owner)
    execute = "/session/runtime/tools/execute"
    tool_job = scheduler.create(
        schedule.every(seconds=60, run={"type": "tool", "tool_name": "shout", "args": {"text": "hi"}})
    )
    made = await c.post(
        execute, json={"tool_name": tool_job["tool"], "args": tool_job["args"]}, headers=owner
    )
    assert made.status_code == 200, made.text
    assert made.json()["result"]["job"]["payload"] == {
        "kind": "app_tool_call",
        "tool_name": "shout",
        "args": {"text": "hi"},
    }
    agent_job = scheduler.upsert(
        schedule.cron(expr="0 9 * * *", run={"type": "agent", "agent_id": "shouter", "input": {"text": "x"}}),
        app_id=app_id,
    )
    for _ in range(2):  # an upsert replaces the job of the same name
        upserted = await c.post(
            execute, json={"tool_name": "automation_create", "args": agent_job["args"]}, headers=owner
        )
        assert upserted.status_code == 200, upserted.text
    names = [j["name"] for j in (await c.get("/automations/jobs", headers=owner)).json()["jobs"]]
    assert names == ["shout-every-60s", "shouter-0-9"]
    unknown = scheduler.create(schedule.every(seconds=60, run={"type": "tool", "tool_name": "nope"}))
    refused = await c.post(
        execute, json={"tool_name": "automation_create", "args": unknown["args"]}, headers=owner
    )
    assert refused.status_code == 422 and "$.payload.tool_name" in refused.json()["error"]["message"]

    # the tool job fires as a tool run whose result is the tool's
    service = server.app.state.services.automations
    at = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1, seconds=1)
    service._since = at - timedelta(seconds=30)
    (run_id,) = await service.tick(at)
    finished = await _finish(c, app_id, run_id, owner)
    assert finished["status"] == "completed", finished
    assert finished["kind"] == "tool" and "HI" in json.dumps(finished["result"])
