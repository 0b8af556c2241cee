"""A run's log lines are written without waiting for each commit, yet none is lost and their order
holds: queued lines are committed in order, before the run's final state, and a stream of the run
sees every one of them before its end (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

from ara_server.services.logbus import LogBus
from ara_server.store import Store, accounts, apps

InProcessServer = Any  # the `server` fixture of conftest.py


def _tool(i: int) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": f"step_{i}",
            "description": f"Step {i}.",
            "parameters": {"type": "object", "properties": {}, "required": []},
        },
        "function_name": f"step_{i}",
        "source": f"def step_{i}() -> dict:\n    print('step {i} ran')\n    return {{'step': {i}}}\n",
    }


def _manifest(slug: str, tools: int) -> dict[str, Any]:
    return {
        "name": slug,
        "slug": slug,
        "agent": {
            "agents": [{"id": "worker", "task": "Work.", "instructions": "Work."}],
            "default_agent_id": "worker",
            "tools": [_tool(i) for i in range(1, tools + 1)],
        },
    }


async def _app(store: Store, slug: str) -> str:
    key = await store.run(accounts.ensure_owner, "owner@localhost", None)
    assert key is not None
    owner = await store.run(accounts.account_for_api_key, key)
    assert owner is not None
    app = await apps.create_app(store, owner["id"], slug, {"name": slug})
    assert app is not None
    return str(app["id"])


async def test_queued_lines_are_committed_in_order_by_flush(store: Store):
    app_id = await _app(store, "bus-app")
    bus = LogBus(store)
    await bus.flush()  # nothing queued: returns at once
    for n in range(30):
        bus.log_soon(app_id, "run_x", "info", "tool.call", f"line {n}")
    await bus.flush()
    rows = await bus.after(app_id, 0)
    assert [r["message"] for r in rows] == [f"line {n}" for n in range(30)]
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)


async def test_a_line_of_a_missing_app_does_not_hold_back_the_others(store: Store):
    app_id = await _app(store, "bus-app-2")
    bus = LogBus(store)
    bus.log_soon(app_id, "run_y", "info", "tool.call", "before")
    bus.log_soon("app_does_not_exist", "run_z", "info", "tool.call", "orphan")
    bus.log_soon(app_id, "run_y", "info", "tool.call", "after")
    await bus.flush()
    assert [r["message"] for r in await bus.after(app_id, 0)] == ["before", "after"]


async def test_a_sync_run_has_every_line_in_order_when_its_answer_arrives(server: InProcessServer):
    app_id = await server.deploy(_manifest("logged-run", 3))
    key = await server.runtime_key(app_id, rpm=100000)
    headers = {"Authorization": f"Bearer {key}"}
    resp = await server.client.post(
        f"/v1/apps/{app_id}/run",
        json={"agent_id": "worker", "input": {"message": "go", "run_id": "run_logged_1"}},
        headers=headers,
    )
    assert resp.status_code == 200 and resp.json()["status"] == "completed", resp.text
    body = resp.json()
    assert [e["tool"] for e in body["trace"] if e["type"] == "tool_call"] == ["step_1", "step_2", "step_3"]

    # read at once, no waiting: the lines were committed before the run's final state
    rows = [
        r for r in await server.app.state.services.logbus.after(app_id, 0) if r["run_id"] == "run_logged_1"
    ]
    kinds = [r["event_type"] for r in rows]
    per_tool = ["model.step", "tool.call", "tool.result", "tool.output"]
    expected = ["run.attempt", *per_tool * 3, "model.step", "run.completed"]
    assert kinds == expected, kinds
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    outputs = [r["message"] for r in rows if r["event_type"] == "tool.output"]
    assert outputs == [f"step_{i}: step {i} ran" for i in (1, 2, 3)]

    # the run's stream, read after the end, has the same lines and then its terminal event
    async with server.client.stream(
        "GET", f"/v1/apps/{app_id}/runs/run_logged_1/events", headers=headers
    ) as stream:
        text = "".join([chunk async for chunk in stream.aiter_text()])
    events = [
        json.loads(line.removeprefix("data:").strip())
        for line in text.splitlines()
        if line.startswith("data:")
    ]
    assert [e.get("type") for e in events[:-1]] == expected
    assert events[-1]["event"] == "run.completed"
