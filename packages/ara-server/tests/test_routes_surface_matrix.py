"""The routes of endpoints, automations, session files/terminal, run listing and events and
/openapi.json, for every principal of the `world` fixture, with the exact status each gets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ara_server.engine import isolation_status

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
ACCOUNTS = ("owner", "member", "viewer", "other")
RUNTIME_CALLERS = ("owner", "member", "runtime_a", "header_a")
WORKSPACE = "/root/.ara/workspace"


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(PRINCIPALS, status)


def account_only(ok: int) -> dict[str, int]:
    return {p: ok if p in ACCOUNTS else 401 for p in PRINCIPALS}


def runtime(ok: int) -> dict[str, int]:
    return {p: ok if p in RUNTIME_CALLERS else 403 if p == "viewer" else 401 for p in PRINCIPALS}


def workspace(ok: int) -> dict[str, int]:
    """Session files and terminal: the tools gate (the owner always; an owner or member of some app
    when sandboxes are isolated; never a viewer only)."""
    isolated = isolation_status().isolated
    out = account_only(ok)
    out["viewer"] = 403
    for p in ("member", "other"):
        out[p] = ok if isolated else 403
    return out


def job_create() -> dict[str, int]:
    """A job in app A: its owner and member may; the viewer and another account have no app A to
    run it in (422 naming `$.payload.app_id`)."""
    out = account_only(201)
    out["viewer"] = out["other"] = 422
    return out


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    expected: Callable[[], dict[str, int]]
    json: Callable[[Any], Any] | None = None
    files: dict[str, Any] | None = None


ENDPOINT = "/v1/apps/{app_id}/endpoints/nothing-here"
ROWS = [
    Row("GET", "/openapi.json", lambda: everyone(200)),
    Row("GET", "/automations/jobs", lambda: account_only(200)),
    Row(
        "POST",
        "/automations/jobs",
        job_create,
        json=lambda w: {
            "name": "j",
            "schedule_kind": "every",
            "every_seconds": 60,
            "payload": {"kind": "agent_turn", "message": "hi", "app_id": w.app_a},
        },
    ),
    Row(
        "PATCH", "/automations/jobs/job_unknown", lambda: account_only(404), json=lambda w: {"enabled": False}
    ),
    Row("DELETE", "/automations/jobs/job_unknown", lambda: account_only(404)),
    Row("GET", "/automations/runs", lambda: account_only(200)),
    Row("POST", "/automations/runs/arun_unknown/replay", lambda: account_only(404), json=lambda w: {}),
    *[
        Row(m, ENDPOINT, lambda: everyone(404), json=lambda w: {})
        for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
    ],
    Row("GET", "/v1/apps/{app_id}/runs", lambda: runtime(200)),
    Row("GET", "/v1/apps/{app_id}/runs/{run_a}/events", lambda: runtime(200)),
    Row("GET", "/v1/apps/{app_id}/runs/{run_b}/events", lambda: runtime(404)),
    Row("POST", "/session/heartbeat", lambda: account_only(200), json=lambda w: {}),
    Row(
        "POST",
        "/session/files/write",
        lambda: workspace(200),
        json=lambda w: {"writes": [{"path": "m.txt", "content": "x"}]},
    ),
    Row("GET", "/session/files", lambda: workspace(200)),
    Row("GET", f"/session/files/read?path={WORKSPACE}/m.txt", lambda: workspace(200)),
    Row("GET", f"/session/files/download?path={WORKSPACE}/m.txt", lambda: workspace(200)),
    Row("POST", "/session/files/upload", lambda: workspace(201), files={"file": ("u.txt", b"u")}),
    Row("POST", "/session/terminal/exec", lambda: workspace(200), json=lambda w: {"command": "true"}),
]


async def test_every_surface_route_answers_every_principal_with_the_exact_status(world: Any):
    c = world.server.client
    for principal in ACCOUNTS:
        started = await c.post("/session/start", headers=world.headers[principal])
        assert started.status_code == 200, started.text
    mismatches: list[str] = []
    for row in ROWS:
        path = row.path.format(app_id=world.app_a, run_a=world.run_a, run_b=world.run_b)
        expected = row.expected()
        for principal in PRINCIPALS:
            kwargs: dict[str, Any] = {"headers": world.headers[principal]}
            if row.json is not None:
                kwargs["json"] = row.json(world)
            if row.files is not None:
                kwargs["files"] = row.files
                kwargs["data"] = {"path": ""}
            resp = await c.request(row.method, path, **kwargs)
            if resp.status_code != expected[principal]:
                mismatches.append(
                    f"{row.method} {path} as {principal}: {resp.status_code} != {expected[principal]}"
                )
            if resp.status_code >= 400:
                error = resp.json()["error"]
                assert error["code"] and error["message"], resp.text
    assert mismatches == []
