"""Every route x every principal, in-process (httpx ASGITransport), with the exact status each gets.

Principals (see `World` in conftest.py): no credentials, an unknown key, the server's owner, a
member and a viewer of app A, another account that owns app B, runtime keys of A and of B, an app
header key of A, a revoked runtime key of A and an API key from before its rotation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ara_server.engine import isolation_status
from starlette.routing import Route

PRINCIPALS = (
    "none",
    "wrong",
    "owner",
    "member",
    "viewer",
    "other",
    "runtime_a",
    "runtime_b",
    "header_a",
    "revoked_runtime",
    "rotated",
)
ALL = PRINCIPALS
World = Any  # the `world` fixture of conftest.py
ACCOUNTS = ("owner", "member", "viewer", "other")
WRITERS = ("owner", "member")
RUNTIME_CALLERS = ("owner", "member", "runtime_a", "header_a")


def account_only(ok: int) -> dict[str, int]:
    """Any valid API key gets `ok`; everything else 401."""
    return {p: ok if p in ACCOUNTS else 401 for p in ALL}


def app_read(ok: int) -> dict[str, int]:
    """Owner, member and viewer of A get `ok`; another account 404 (A is invisible to it)."""
    out = account_only(ok)
    out["other"] = 404
    return out


def app_write(ok: int, *, viewer: int = 403) -> dict[str, int]:
    """Owner and member of A get `ok`; the viewer 403; another account 404."""
    out = app_read(ok)
    out["viewer"] = viewer
    return out


def owner_only(ok: int) -> dict[str, int]:
    """Only A's owner gets `ok`; member and viewer 403; another account 404."""
    out = app_write(ok)
    out["member"] = 403
    return out


def runtime(ok: int) -> dict[str, int]:
    """Runtime key and app header key of A, owner and member get `ok`; the viewer 403; everything
    else (B's runtime key, another account, revoked or rotated keys) 401."""
    return {p: ok if p in RUNTIME_CALLERS else 403 if p == "viewer" else 401 for p in ALL}


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ALL, status)


def session_tools() -> dict[str, int]:
    """Workspace tools: the server's owner always; members and owners of some app only when the
    machine isolates sandboxes; viewers never."""
    isolated = isolation_status().isolated
    out = account_only(200)
    out["viewer"] = 403
    for p in ("member", "other"):
        out[p] = 200 if isolated else 403
    return out


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # route template: {app_id} is app A
    body: Callable[[str, World], Any] | None
    expected: Callable[[], dict[str, int]]
    concrete: str | None = None  # the path sent, when it differs from the template
    note: str = ""
    multipart: bool = False  # send `body` as form fields plus a small `file` part


def _none(_p: str, _w: World) -> Any:
    return None


# Order matters: sessions start before their tools; apps are created after the session rows (an
# account that creates an app owns one, and the viewer must stay a viewer only); key rotation last.
ROWS: list[Row] = [
    Row("GET", "/healthz", None, lambda: everyone(200)),
    Row("GET", "/readyz", None, lambda: everyone(200)),
    Row("GET", "/auth/cli/whoami", None, lambda: account_only(200)),
    Row("POST", "/auth/cli/invites/accept", lambda p, w: {"token": "ara_inv_unknown"}, lambda: everyone(404)),
    Row("GET", "/apps", None, lambda: account_only(200)),
    Row("PATCH", "/apps/{app_id}", lambda p, w: {"status": "active"}, lambda: app_write(200)),
    Row("GET", "/apps/{app_id}/keys", None, lambda: app_read(200)),
    Row("POST", "/apps/{app_id}/keys", lambda p, w: {"requests_per_minute": 5}, lambda: app_write(201)),
    Row(
        "DELETE",
        "/apps/{app_id}/keys/{key_id}",
        None,
        lambda: app_write(404),
        concrete="/apps/{app_id}/keys/rk_unknown",
    ),
    Row("GET", "/apps/{app_id}/x-keys", None, lambda: app_read(200)),
    Row("POST", "/apps/{app_id}/x-keys", lambda p, w: {}, lambda: app_write(201)),
    Row(
        "DELETE",
        "/apps/{app_id}/x-keys/{key_id}",
        None,
        lambda: app_write(404),
        concrete="/apps/{app_id}/x-keys/xk_unknown",
    ),
    Row("GET", "/apps/{app_id}/secrets", None, lambda: app_read(200)),
    Row(
        "POST",
        "/apps/{app_id}/secrets",
        lambda p, w: {"name": "mail", "values": {"SMTP_PASSWORD": "pw"}},
        lambda: app_write(200),
    ),
    Row(
        "DELETE",
        "/apps/{app_id}/secrets/{name}",
        None,
        lambda: app_write(404),
        concrete="/apps/{app_id}/secrets/unknown",
    ),
    Row("GET", "/apps/{app_id}/setup", None, lambda: app_read(200)),
    Row("GET", "/apps/{app_id}/webhook-secret", None, lambda: owner_only(200)),
    Row(
        "POST",
        "/apps/{app_id}/invites",
        lambda p, w: {"email": f"new-{p}@example.com", "role": "viewer"},
        lambda: owner_only(201),
    ),
    Row("POST", "/v1/apps/{app_id}/run", lambda p, w: {"warmup": True}, lambda: runtime(200)),
    Row("POST", "/v1/apps/{app_id}/runs", lambda p, w: {"input": {"text": "m"}}, lambda: runtime(202)),
    Row(
        "POST",
        "/v1/apps/{app_id}/runs",
        lambda p, w: {"input": {"text": "m"}, "run_id": w.run_b},
        lambda: runtime(409),
        note="B's run id through A: a conflict, never B's run",
    ),
    Row(
        "GET",
        "/v1/apps/{app_id}/runs/{run_id}",
        None,
        lambda: runtime(200),
        concrete="/v1/apps/{app_id}/runs/{run_a}",
    ),
    Row(
        "GET",
        "/v1/apps/{app_id}/runs/{run_id}",
        None,
        lambda: runtime(404),
        concrete="/v1/apps/{app_id}/runs/{run_b}",
        note="B's run is not visible through A",
    ),
    Row(
        "POST",
        "/v1/apps/{app_id}/runs/{run_id}/cancel",
        lambda p, w: {},
        lambda: runtime(409),
        concrete="/v1/apps/{app_id}/runs/{run_a}/cancel",
        note="A's run has already ended",
    ),
    Row(
        "POST",
        "/v1/apps/{app_id}/runs/{run_id}/cancel",
        lambda p, w: {},
        lambda: runtime(404),
        concrete="/v1/apps/{app_id}/runs/{run_b}/cancel",
        note="B's run is not visible through A",
    ),
    Row(
        "POST",
        "/v1/apps/{app_id}/events",
        lambda p, w: {"event_type": "nobody-listens"},
        lambda: runtime(202),
    ),
    Row("GET", "/v1/apps/{app_id}/runs", None, lambda: runtime(200)),
    Row(
        "GET",
        "/v1/apps/{app_id}/runs/{run_id}/events",
        None,
        lambda: runtime(200),
        concrete="/v1/apps/{app_id}/runs/{run_a}/events",
    ),
    Row(
        "GET",
        "/v1/apps/{app_id}/runs/{run_id}/events",
        None,
        lambda: runtime(404),
        concrete="/v1/apps/{app_id}/runs/{run_b}/events",
        note="B's run is not visible through A",
    ),
    *(
        Row(
            method,
            "/v1/apps/{app_id}/endpoints/{label}",
            None,
            lambda: everyone(404),
            concrete="/v1/apps/{app_id}/endpoints/undeclared",
            note="an endpoint the app does not declare",
        )
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    ),
    Row("GET", "/openapi.json", None, lambda: everyone(200)),
    Row(
        "GET",
        "/v1/apps/{app_id}/logs/stream",
        None,
        lambda: runtime(200),
        concrete="/v1/apps/{app_id}/logs/stream?follow=false",
    ),
    Row("POST", "/session/start", None, lambda: account_only(200)),
    Row("GET", "/session/status", None, lambda: account_only(200)),
    Row("GET", "/session/runtime/capabilities", None, lambda: account_only(200)),
    Row("GET", "/session/runtime/skills", None, lambda: account_only(200)),
    Row("GET", "/session/runtime/tools", None, lambda: account_only(200)),
    Row(
        "POST",
        "/session/runtime/tools/execute",
        lambda p, w: {"tool_name": "write_file", "args": {"path": "note.txt", "content": p}},
        session_tools,
    ),
    Row("GET", "/session/runtime/control/actions", None, lambda: account_only(200)),
    Row("POST", "/session/runtime/control/call", lambda p, w: {}, lambda: account_only(409)),
    Row(
        "POST",
        "/chat",
        lambda p, w: {"messages": [{"role": "user", "content": "hi"}]},
        lambda: account_only(200),
    ),
    Row("GET", "/session/files", None, session_tools),
    Row("GET", "/session/files/read", None, session_tools, concrete="/session/files/read?path=note.txt"),
    Row(
        "POST",
        "/session/files/write",
        lambda p, w: {"writes": [{"path": "written.txt", "content": p}]},
        session_tools,
    ),
    Row(
        "POST",
        "/session/files/upload",
        lambda p, w: {"path": "uploads"},
        lambda: {k: 201 if v == 200 else v for k, v in session_tools().items()},
        multipart=True,
    ),
    Row(
        "GET",
        "/session/files/download",
        None,
        session_tools,
        concrete="/session/files/download?path=note.txt",
    ),
    Row(
        "POST",
        "/session/terminal/exec",
        lambda p, w: {"command": "echo hi", "timeout_seconds": 30},
        session_tools,
    ),
    Row("POST", "/session/heartbeat", lambda p, w: {}, lambda: account_only(200)),
    Row("GET", "/automations/jobs", None, lambda: account_only(200)),
    Row(
        "POST",
        "/automations/jobs",
        lambda p, w: {
            "name": f"job-{p}",
            "schedule_kind": "every",
            "every_seconds": 3600,
            "payload": {"kind": "app_agent_call", "app_id": w.app_a, "input": {"text": "t"}},
        },
        lambda: {**app_write(201, viewer=422), "other": 422},
        note="a job may only run an app the caller owns or is a member of",
    ),
    Row(
        "PATCH",
        "/automations/jobs/{job_id}",
        lambda p, w: {"name": "renamed"},
        lambda: account_only(404),
        concrete="/automations/jobs/job_unknown",
    ),
    Row(
        "DELETE",
        "/automations/jobs/{job_id}",
        None,
        lambda: account_only(404),
        concrete="/automations/jobs/job_unknown",
    ),
    Row("GET", "/automations/runs", None, lambda: account_only(200)),
    Row(
        "POST",
        "/automations/runs/{run_id}/replay",
        lambda p, w: {},
        lambda: account_only(404),
        concrete="/automations/runs/arun_unknown/replay",
    ),
    Row("POST", "/session/stop", None, lambda: account_only(200)),
    Row(
        "POST",
        "/apps",
        lambda p, w: w.server.manifest(f"made-by-{p.replace('_', '-')}"),
        lambda: account_only(201),
    ),
    Row("POST", "/apps/api-key/rotate", None, lambda: account_only(200)),
]


def _templates(app: Any) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Route):
            for method in route.methods or ():
                if method != "HEAD":
                    out.add((method, route.path))
    return out


async def test_the_matrix_covers_every_route(server):
    assert _templates(server.app) == {(r.method, r.path) for r in ROWS}


async def test_every_route_answers_every_principal_with_the_exact_status(world: World):
    try:
        await _every_route(world)
    except AssertionError as exc:  # short report (the full repr of the world is huge)
        raise AssertionError(str(exc)[:20000]) from None


async def _every_route(world: World) -> None:
    c = world.server.client
    headers = dict(world.headers)
    mismatches: list[str] = []
    tried = 0
    for row in ROWS:
        path = (row.concrete or row.path).format(app_id=world.app_a, run_a=world.run_a, run_b=world.run_b)
        expected = row.expected()
        for principal in PRINCIPALS:
            body = row.body(principal, world) if row.body else None
            if row.multipart:
                resp = await c.request(
                    row.method,
                    path,
                    data=body,
                    files={"file": ("hello.txt", b"hello")},
                    headers=headers[principal],
                )
            else:
                resp = await c.request(row.method, path, json=body, headers=headers[principal])
            tried += 1
            if resp.status_code != expected[principal]:
                mismatches.append(
                    f"{row.method} {path} as {principal}: {resp.status_code} != {expected[principal]} "
                    f"{row.note} {resp.text[:200]}"
                )
            if resp.status_code >= 400:
                error = resp.json()["error"]
                assert error["code"] and error["message"], resp.text
            if row.method == "POST" and row.path == "/v1/apps/{app_id}/runs" and resp.status_code < 300:
                assert resp.json()["run_id"] != world.run_b
            if row.path == "/apps/api-key/rotate" and resp.status_code == 200:
                headers[principal] = {"Authorization": f"Bearer {resp.json()['api_key']}"}
    assert not mismatches, "\n".join(mismatches)
    assert tried == len(ROWS) * len(PRINCIPALS)


async def test_revoked_and_listed_runtime_keys(world: World):
    c, owner = world.server.client, world.server.owner()
    listed = (await c.get(f"/apps/{world.app_a}/keys", headers=owner)).json()["keys"]
    assert {k["is_active"] for k in listed} == {True, False}
    assert all("key" not in k and "key_hash" not in k for k in listed)
    active = [k for k in listed if k["is_active"]][0]
    gone = await c.delete(f"/apps/{world.app_a}/keys/{active['id']}", headers=owner)
    assert gone.status_code == 200
    again = await c.delete(f"/apps/{world.app_a}/keys/{active['id']}", headers=owner)
    assert again.status_code == 200  # revoking is idempotent
    # A runtime key id of app A cannot be revoked through app B.
    other_listed = (await c.get(f"/apps/{world.app_b}/keys", headers=world.headers["other"])).json()["keys"]
    cross = await c.delete(f"/apps/{world.app_a}/keys/{other_listed[0]['id']}", headers=owner)
    assert cross.status_code == 404
    still = await c.post(
        f"/v1/apps/{world.app_b}/run", json={"warmup": True}, headers=world.headers["runtime_b"]
    )
    assert still.status_code == 200


async def test_without_isolation_only_the_server_owner_gets_session_tools(world, monkeypatch):
    from ara_server.engine import IsolationStatus

    off = IsolationStatus(mechanism="none", isolated=False, reason="bubblewrap missing (simulated)")

    async def no_isolation() -> IsolationStatus:
        return off

    sessions = world.server.app.state.services.sessions
    monkeypatch.setattr(sessions, "isolation", no_isolation)
    c = world.server.client
    body = {"tool_name": "exec", "args": {"command": "cat /proc/1/environ; echo done"}}
    for principal, status in (("owner", 200), ("member", 403), ("other", 403), ("viewer", 403)):
        headers = world.headers[principal]
        assert (await c.post("/session/start", headers=headers)).status_code == 200
        resp = await c.post("/session/runtime/tools/execute", json=body, headers=headers)
        assert resp.status_code == status, (principal, resp.text)
        terminal = await c.post("/session/terminal/exec", json={"command": "id"}, headers=headers)
        assert terminal.status_code == status, (principal, terminal.text)
        if status == 403:
            assert "isolation" in resp.text or "role" in resp.text
    ready = (await c.get("/readyz")).json()
    assert "isolation" in ready
