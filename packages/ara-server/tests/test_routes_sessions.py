"""Session routes in-process (httpx ASGITransport): start/status/stop, builtin tools in the
workspace, chat as SSE, and the 401/404/409/422 answers."""

from __future__ import annotations

import json


def _code(resp) -> str:
    return resp.json()["error"]["code"]


async def test_session_lifecycle_and_tools(server):
    c = server.client
    assert (await c.post("/session/start")).status_code == 401
    none = await c.get("/session/status", headers=server.owner())
    assert none.json()["status"] == "none"
    idle = await c.get("/session/runtime/tools", headers=server.owner())
    assert (idle.status_code, _code(idle)) == (409, "session_not_running")
    started = (await c.post("/session/start", headers=server.owner())).json()
    assert started["created"] is True and started["status"] == "running"
    again = (await c.post("/session/start", headers=server.owner())).json()
    assert again["created"] is False and again["session_id"] == started["session_id"]
    other = await c.get("/session/runtime/tools?session_id=sess_nope", headers=server.owner())
    assert (other.status_code, _code(other)) == (404, "session_not_found")

    await server.deploy()
    tools = (await c.get("/session/runtime/tools", headers=server.owner())).json()["tools"]
    assert {"read_file", "exec"} <= {t["name"] for t in tools if t["kind"] == "builtin"}
    assert [t["name"] for t in tools if t["kind"] == "app"] == ["shout"]
    bad_kind = await c.get("/session/runtime/tools?kind=weird", headers=server.owner())
    assert (bad_kind.status_code, _code(bad_kind)) == (422, "invalid_kind")
    caps = (await c.get("/session/runtime/capabilities", headers=server.owner())).json()
    assert caps["agents"] == [{"id": "shouter", "app": "shouter"}]

    execute = "/session/runtime/tools/execute"
    wrote = await c.post(
        execute,
        json={"tool_name": "write_file", "args": {"path": "a.txt", "content": "hi"}},
        headers=server.owner(),
    )
    assert wrote.status_code == 200
    read = await c.post(
        execute, json={"tool_name": "read_file", "args": {"path": "a.txt"}}, headers=server.owner()
    )
    assert read.json()["result"] == "hi"
    outside = await c.post(
        execute, json={"tool_name": "read_file", "args": {"path": "../../x"}}, headers=server.owner()
    )
    assert (outside.status_code, _code(outside)) == (422, "tool_failed")
    no_name = await c.post(execute, json={"args": {}}, headers=server.owner())
    assert (no_name.status_code, _code(no_name)) == (422, "invalid_body")
    ui = await c.post("/session/runtime/control/call", json={}, headers=server.owner())
    assert (ui.status_code, _code(ui)) == (409, "no_ui")

    stopped = (await c.post("/session/stop", headers=server.owner())).json()
    assert stopped["was_running"] is True
    assert (await c.get("/session/status", headers=server.owner())).json()["status"] == "stopped"


async def test_chat_streams_events_and_rejects_bad_bodies(server):
    c = server.client
    bad = await c.post("/chat", json={"messages": []}, headers=server.owner())
    assert (bad.status_code, _code(bad)) == (422, "invalid_body")
    resp = await c.post(
        "/chat", json={"messages": [{"role": "user", "content": "hello"}]}, headers=server.owner()
    )
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    lines = [line[6:] for line in resp.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    assert json.loads(lines[0])["type"] in ("text-delta", "tool-input-available")
