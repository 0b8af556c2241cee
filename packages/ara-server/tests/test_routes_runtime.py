"""Runtime-plane routes in-process (httpx ASGITransport): sync and async runs, run status, events,
logs, and the 401/403/404/409/422/429 answers."""

from __future__ import annotations

import asyncio


def _code(resp) -> str:
    return resp.json()["error"]["code"]


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _wait_finished(server, app_id: str, run_id: str, key: str) -> dict:
    run: dict = {}
    for _ in range(600):
        run = (await server.client.get(f"/v1/apps/{app_id}/runs/{run_id}", headers=_bearer(key))).json()[
            "run"
        ]
        if run["status"] in ("completed", "failed"):
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish: {run}")


async def test_sync_run_calls_the_tool_and_a_reused_run_id_answers_that_run(server):
    c = server.client
    app_id = await server.deploy()
    key = await server.runtime_key(app_id)
    body = {"input": {"text": "hi", "run_id": "run_fixed_1"}}
    done = await c.post(f"/v1/apps/{app_id}/run", json=body, headers=_bearer(key))
    assert done.status_code == 200, done.text
    out = done.json()
    assert (out["status"], out["run_id"], out["agent_id"]) == ("completed", "run_fixed_1", "shouter")
    assert out["result"]["tool_calls"][0]["result"] == {"reply": "HI"}
    again = await c.post(f"/v1/apps/{app_id}/run", json=body, headers=_bearer(key))
    assert again.status_code == 200, again.text  # a retry of the same request: the same run, not a second one
    assert (again.json()["run_id"], again.json()["status"]) == ("run_fixed_1", "completed")
    status = (await c.get(f"/v1/apps/{app_id}/runs/run_fixed_1", headers=_bearer(key))).json()["run"]
    assert status["attempt"] == 1
    other = await c.post(f"/v1/apps/{app_id}/run", json={**body, "agent_id": "nope"}, headers=_bearer(key))
    assert other.status_code == 404


async def test_runtime_auth_answers(server):
    c = server.client
    app_id = await server.deploy()
    missing = await c.post(f"/v1/apps/{app_id}/run", json={})
    assert (missing.status_code, _code(missing)) == (401, "unauthorized")
    wrong = await c.post(f"/v1/apps/{app_id}/run", json={}, headers=_bearer("ara_rk_nope"))
    assert (wrong.status_code, _code(wrong)) == (401, "unauthorized")
    no_app = await c.post("/v1/apps/app_nope/run", json={}, headers=_bearer("ara_rk_nope"))
    assert (no_app.status_code, _code(no_app)) == (404, "not_found")
    viewer = await server.api_key_for("v@example.com", app_id, "viewer")
    denied = await c.post(f"/v1/apps/{app_id}/run", json={}, headers=_bearer(viewer))
    assert (denied.status_code, _code(denied)) == (403, "forbidden")
    header_key = await server.runtime_key(app_id, header=True)
    warm = await c.post(
        f"/v1/apps/{app_id}/run", json={"warmup": True}, headers={"X-Ara-App-Key": header_key}
    )
    assert warm.status_code == 200 and warm.json()["warmup"] is True
    owner = await c.post(f"/v1/apps/{app_id}/run", json={"warmup": True}, headers=server.owner())
    assert owner.status_code == 200


async def test_rate_limit_is_429_with_retry_after(server):
    c = server.client
    app_id = await server.deploy()
    key = await server.runtime_key(app_id, rpm=2)
    codes = [
        (await c.post(f"/v1/apps/{app_id}/run", json={"warmup": True}, headers=_bearer(key))).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    limited = await c.post(f"/v1/apps/{app_id}/run", json={"warmup": True}, headers=_bearer(key))
    assert _code(limited) == "rate_limited" and int(limited.headers["Retry-After"]) >= 1


async def test_bad_run_requests(server):
    c = server.client
    app_id = await server.deploy()
    key = await server.runtime_key(app_id)
    unknown = await c.post(f"/v1/apps/{app_id}/run", json={"agent_id": "nobody"}, headers=_bearer(key))
    assert (unknown.status_code, _code(unknown)) == (404, "agent_not_found")
    bad_input = await c.post(f"/v1/apps/{app_id}/run", json={"input": [1]}, headers=_bearer(key))
    assert (bad_input.status_code, _code(bad_input)) == (422, "invalid_input")
    bad_mode = await c.post(f"/v1/apps/{app_id}/runs", json={"response_mode": "push"}, headers=_bearer(key))
    assert (bad_mode.status_code, _code(bad_mode)) == (422, "invalid_body")
    no_url = await c.post(f"/v1/apps/{app_id}/runs", json={"response_mode": "webhook"}, headers=_bearer(key))
    assert (no_url.status_code, _code(no_url)) == (422, "invalid_body")
    no_run = await c.get(f"/v1/apps/{app_id}/runs/run_nope", headers=_bearer(key))
    assert (no_run.status_code, _code(no_run)) == (404, "not_found")


async def test_async_run_is_queued_idempotent_and_completed_by_a_worker(server):
    c = server.client
    app_id = await server.deploy()
    key = await server.runtime_key(app_id)
    body = {"input": {"text": "queued"}, "idempotency_key": "k-1"}
    first = await c.post(f"/v1/apps/{app_id}/runs", json=body, headers=_bearer(key))
    assert first.status_code == 202 and first.json()["created"] is True
    replay = await c.post(f"/v1/apps/{app_id}/runs", json=body, headers=_bearer(key))
    assert replay.status_code == 200 and replay.json()["run_id"] == first.json()["run_id"]
    run = await _wait_finished(server, app_id, first.json()["run_id"], key)
    assert run["status"] == "completed" and run["result"]["tool_calls"][0]["result"] == {"reply": "QUEUED"}


async def test_events_run_their_hooks_once_and_conflicts_are_409(server):
    c = server.client
    app_id = await server.deploy()
    key = await server.runtime_key(app_id)
    headers = {**_bearer(key), "X-Idempotency-Key": "evt-1"}
    first = await c.post(f"/v1/apps/{app_id}/events", json={"event_type": "ping"}, headers=headers)
    assert first.status_code == 202 and first.json()["matched_workflows"] == ["on-ping"]
    replay = await c.post(f"/v1/apps/{app_id}/events", json={"event_type": "ping"}, headers=headers)
    assert replay.status_code == 200 and replay.json() == first.json()
    conflict = await c.post(f"/v1/apps/{app_id}/events", json={"event_type": "other"}, headers=headers)
    assert (conflict.status_code, _code(conflict)) == (409, "idempotency_conflict")
    no_type = await c.post(f"/v1/apps/{app_id}/events", json={}, headers=_bearer(key))
    assert (no_type.status_code, _code(no_type)) == (422, "invalid_event")
    [run_id] = first.json()["runs"]
    run = await _wait_finished(server, app_id, run_id, key)
    assert (run["status"], run["kind"], run["result"]["output_text"]) == ("completed", "command", "pong\n")


async def test_logs_stream_without_follow_returns_the_lines(server):
    c = server.client
    app_id = await server.deploy()
    key = await server.runtime_key(app_id)
    await c.post(f"/v1/apps/{app_id}/run", json={"input": {"text": "x"}}, headers=_bearer(key))
    resp = await c.get(f"/v1/apps/{app_id}/logs/stream?follow=false", headers=_bearer(key))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    assert '"event_type": "app.created"' in resp.text and '"event_type": "run.completed"' in resp.text
