"""Hostile input to every route, in-process: every case gets a 4xx JSON error (never a 5xx, never a
traceback) and a refused request writes nothing (row counts of every table and the files of the
data directory are the same before and after).

Run with `-s` to see the figures: attempts and refusals by kind.
"""

from __future__ import annotations

import collections
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from ara_server.store.schema import metadata

DEEP = ('{"a":' * 2000 + "1" + "}" * 2000).encode()
DEEP_LIST = ("[" * 2000 + "]" * 2000).encode()
BIG = 20 * 1024 * 1024
LONG = "x" * 10_000


@dataclass
class Case:
    kind: str
    method: str
    path: str
    principal: str = "owner"
    body: Any = None  # JSON value, or bytes sent as is
    headers: dict[str, str] = field(default_factory=lambda: dict[str, str]())
    expect: int | None = None  # exact status when it matters; else any 4xx
    stream: bool = False  # send `body` (bytes) chunked, without Content-Length
    may_succeed: bool = False  # odd but acceptable input: only "no 5xx, no traceback" is checked


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if "sessions" not in p.parts}


async def _counts(server: Any) -> dict[str, int]:
    store = server.app.state.store
    out: dict[str, int] = {}
    async with store.connect() as conn:
        for table in metadata.sorted_tables:
            out[table.name] = (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()
    return out


def _manifest_with_files(server: Any, slug: str, *paths: str) -> dict[str, Any]:
    m = server.manifest(slug)
    m["runtime_profile"] = {"files": [{"path": p, "content": "x"} for p in paths]}
    return m


def _body_routes(a: str) -> list[tuple[str, str, str]]:
    """(method, path, principal) of every route that reads a body."""
    return [
        ("POST", "/auth/cli/invites/accept", "none"),
        ("POST", "/apps", "owner"),
        ("PATCH", f"/apps/{a}", "owner"),
        ("POST", f"/apps/{a}/keys", "owner"),
        ("POST", f"/apps/{a}/x-keys", "owner"),
        ("POST", f"/apps/{a}/secrets", "owner"),
        ("POST", f"/apps/{a}/invites", "owner"),
        ("POST", f"/v1/apps/{a}/run", "runtime_a"),
        ("POST", f"/v1/apps/{a}/runs", "runtime_a"),
        ("POST", f"/v1/apps/{a}/events", "runtime_a"),
        ("POST", "/session/runtime/tools/execute", "owner"),
        ("POST", "/session/runtime/control/call", "owner"),
        ("POST", "/chat", "owner"),
        ("POST", "/session/files/write", "owner"),
        ("POST", "/session/terminal/exec", "owner"),
        ("POST", "/session/heartbeat", "owner"),
        ("POST", "/automations/jobs", "owner"),
        ("PATCH", "/automations/jobs/job_unknown", "owner"),
        ("POST", "/automations/runs/arun_unknown/replay", "owner"),
    ]


def _other_routes(a: str, run_a: str) -> list[tuple[str, str, str]]:
    """Routes that read no JSON object body (or not before other checks): any 4xx is right."""
    return [
        ("POST", f"/v1/apps/{a}/runs/{run_a}/cancel", "runtime_a"),
        ("POST", f"/v1/apps/{a}/endpoints/undeclared", "none"),
        ("POST", "/session/files/upload", "owner"),
        ("POST", "/session/runtime/control/call", "none"),
    ]


def cases(server: Any, a: str, run_a: str, run_b: str) -> Iterable[Case]:
    execute = "/session/runtime/tools/execute"
    for method, path, who in _other_routes(a, run_a):
        yield Case("json nested 2000 deep", method, path, who, DEEP)
        yield Case("20 MB body", method, path, who, b'{"x":"' + b"y" * BIG + b'"}')
        yield Case("not JSON", method, path, who, b"{nope")
    for method, path, who in _body_routes(a):
        yield Case("json nested 2000 deep", method, path, who, DEEP, expect=400)
        yield Case("json nested 2000 deep", method, path, who, DEEP_LIST, expect=400)
        yield Case("20 MB body", method, path, who, b'{"x":"' + b"y" * BIG + b'"}', expect=413)
        yield Case("not JSON", method, path, who, b"{nope", expect=400)
        yield Case("not UTF-8", method, path, who, b'{"x":"\xff\xfe"}', expect=400)
        yield Case("NaN / Infinity / 1e400", method, path, who, b'{"x": NaN}', expect=400)
        yield Case("NaN / Infinity / 1e400", method, path, who, b'{"x": 1e400}', expect=400)
        yield Case("not an object", method, path, who, b"[1, 2]", expect=400)
        yield Case("bad Content-Length", method, path, who, b"{}", headers={"Content-Length": "abc"})
        yield Case("NUL in a JSON string", method, path, who, b'{"x": "a\\u0000b"}', expect=400)
        yield Case("NUL in a JSON string", method, path, who, b'{"a\\u0000b": 1}', expect=400)
    yield Case("20 MB body", "POST", f"/v1/apps/{a}/events", "runtime_a", b"y" * BIG, expect=413, stream=True)
    yield Case("20 MB body", "POST", "/apps", "owner", b"y" * BIG, expect=413, stream=True)
    for rpm in (10**30, 0, -5, "60", 1.5, True, None):
        for kind in ("keys", "x-keys"):
            yield Case(
                "requests_per_minute out of range",
                "POST",
                f"/apps/{a}/{kind}",
                body={"requests_per_minute": rpm},
                expect=422,
            )
    yield Case("key name too long", "POST", f"/apps/{a}/keys", body={"name": LONG}, expect=422)
    for hours in (10**12, 0, -1, "168", 2.5):
        yield Case(
            "expires_in_hours out of range",
            "POST",
            f"/apps/{a}/invites",
            body={"email": "h@example.com", "expires_in_hours": hours},
            expect=422,
        )
    for email in ("", "no-at", "a@" + "b" * 400, ["x@y"]):
        yield Case("bad invite", "POST", f"/apps/{a}/invites", body={"email": email}, expect=422)
    yield Case(
        "bad invite",
        "POST",
        f"/apps/{a}/invites",
        body={"email": "r@example.com", "role": "admin"},
        expect=422,
    )
    for i, paths in enumerate(
        (
            (".",),
            ("./",),
            ("a\0b",),
            ("x", "x/y"),
            ("x/y", "x"),
            ("a//b",),
            ("a/./b",),
            ("a\\b",),
            ("d", "d"),
            ("",),
            ("/abs",),
            ("../up",),
        )
    ):
        yield Case(
            "runtime file path",
            "POST",
            "/apps",
            body=_manifest_with_files(server, f"files-{i}", *paths),
            expect=422,
        )
        yield Case(
            "runtime file path",
            "PATCH",
            f"/apps/{a}",
            body=_manifest_with_files(server, "app-a", *paths),
            expect=422,
        )
    for slug in ("Bad Slug", "-x", "x" * 64, "../x", "", 5, "ünï"):
        m = server.manifest("ok")
        m["slug"] = slug
        yield Case("slug rule", "POST", "/apps", body=m, expect=422)
    for values in (
        {"A\0B": "v"},
        {"K=V": "v"},
        {"GOOD": "a\0b"},
        {"ARA_TOKEN": "v"},
        {"1X": "v"},
        {},
        {"K": 5},
        {str(i): "v" for i in range(300)},
    ):
        yield Case(
            "secret key or value",
            "POST",
            f"/apps/{a}/secrets",
            body={"name": "mail", "values": values},
            expect=422,
        )
    for name in ("A B", "a", "x" * 65, "../etc", 7):
        yield Case(
            "secret name", "POST", f"/apps/{a}/secrets", body={"name": name, "values": {"K": "v"}}, expect=422
        )
    yield Case(
        "secret value too long",
        "POST",
        f"/apps/{a}/secrets",
        body={"name": "big", "values": {"K": "v" * 70_000}},
        expect=422,
    )
    for pattern in ("/etc/*", "", "../*", "a\0b"):
        yield Case(
            "session glob",
            "POST",
            execute,
            body={"tool_name": "glob", "args": {"pattern": pattern}},
            expect=422,
        )
    for path in ("a\0b", "../../../etc/passwd", "/etc/passwd", ""):
        yield Case(
            "session read_file",
            "POST",
            execute,
            body={"tool_name": "read_file", "args": {"path": path}},
            expect=422,
        )
    for timeout in ("abc", -1, 0, 10**9, None, [1]):
        yield Case(
            "session exec timeout_seconds",
            "POST",
            execute,
            body={"tool_name": "exec", "args": {"command": "true", "timeout_seconds": timeout}},
            expect=422,
        )
    for body in (
        {"tool_name": "write_file", "args": {"path": "x", "content": 5}},
        {"tool_name": "write_file", "args": {"path": ["x"], "content": "c"}},
        {"tool_name": "edit_file", "args": {"path": "x"}},
        {"tool_name": "nope", "args": {}},
        {"tool_name": "read_file", "args": "path"},
        {"tool_name": 5},
        {"tool_name": "exec", "args": {"command": ""}},
        {"tool_name": "list_dir", "args": {"path": "../.."}},
    ):
        yield Case("session tool arguments", "POST", execute, body=body, expect=422)
    yield Case(
        "session_id not a string", "POST", "/session/runtime/control/call", body={"session_id": 5}, expect=422
    )
    yield Case("colliding run_id", "POST", f"/v1/apps/{a}/runs", "runtime_a", {"run_id": run_b}, expect=409)
    yield Case(
        "colliding run_id",
        "POST",
        f"/v1/apps/{a}/runs",
        "runtime_a",
        {"run_id": run_b, "idempotency_key": "fresh-key"},
        expect=409,
    )
    for run_id in ("../../x", "x" * 200, 5, "a b"):
        yield Case("bad run_id", "POST", f"/v1/apps/{a}/runs", "runtime_a", {"run_id": run_id}, expect=422)
    yield Case(
        "idempotency key too long",
        "POST",
        f"/v1/apps/{a}/runs",
        "runtime_a",
        {"idempotency_key": LONG},
        expect=422,
    )
    yield Case(
        "idempotency key too long",
        "POST",
        f"/v1/apps/{a}/events",
        "runtime_a",
        {"event_type": "x"},
        headers={"X-Idempotency-Key": LONG},
        expect=422,
    )
    for body in (
        {"event_type": LONG},
        {"event_type": 5},
        {"event_type": "x", "channel": LONG, "source": [1]},
        {"event_type": "x", "agent_id": LONG},
        {"event_type": "x", "idempotency_key": LONG},
        {"event_type": ""},
    ):
        yield Case("event fields", "POST", f"/v1/apps/{a}/events", "runtime_a", body, may_succeed=True)
    yield Case("key name too long", "POST", f"/apps/{a}/x-keys", body={"name": LONG}, expect=422)
    yield Case("bad invite token", "POST", "/auth/cli/invites/accept", "none", {"token": LONG}, expect=422)
    yield Case("bad invite token", "POST", "/auth/cli/invites/accept", "none", {"token": 5}, expect=422)
    yield Case("agent id too long", "POST", f"/v1/apps/{a}/run", "runtime_a", {"agent_id": LONG}, expect=422)
    yield Case("input not an object", "POST", f"/v1/apps/{a}/run", "runtime_a", {"input": [1]}, expect=422)
    for url in (
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "file:///etc/passwd",
        "http://user:pw@example.com/",
        "http://",
        "not a url",
        5,
    ):
        yield Case(
            "callback URL policy",
            "POST",
            f"/v1/apps/{a}/runs",
            "runtime_a",
            {"response_mode": "webhook", "callback": {"url": url}},
            expect=422,
        )
    for path in (
        f"/apps/{a}/keys/{LONG}",
        f"/apps/{a}/secrets/{LONG}",
        f"/apps/{a}/x-keys/x%2500",
        f"/apps/{a}/secrets/%2e%2e",
    ):
        yield Case("hostile path parameter", "DELETE", path, expect=404)
    yield Case("hostile path parameter", "GET", f"/v1/apps/{a}/runs/{LONG}", "runtime_a", expect=404)
    yield Case("hostile path parameter", "GET", f"/v1/apps/{LONG}/runs/x", "runtime_a", expect=404)
    yield Case("hostile path parameter", "GET", f"/apps/{a}%00/setup", expect=400)
    yield Case("hostile query", "GET", "/session/runtime/tools?kind=%00", expect=400)
    for path in (
        f"/apps/{a}/keys/%00",
        f"/v1/apps/{a}%00/run",
        f"/v1/apps/{a}/endpoints/a%00b",
        "/apps/%00/setup",
    ):
        yield Case(
            "NUL in the path", "GET" if path.endswith("setup") else "POST", path, "runtime_a", expect=400
        )
    for query in ("limit=abc", "limit=-1", "limit=100000000000000000000", "status=%00", "cursor=%ff%fe"):
        yield Case("hostile query", "GET", f"/v1/apps/{a}/runs?{query}", "runtime_a")
    for query in ("path=%00", "path=../../../etc/passwd", "path=/etc/passwd", f"path={LONG}", ""):
        yield Case("hostile query", "GET", f"/session/files/read?{query}")
        yield Case("hostile query", "GET", f"/session/files/download?{query}")
    yield Case("hostile query", "GET", "/automations/runs?state=%00")
    for body in (
        {"command": "true", "timeout_seconds": "abc"},
        {"command": "true", "timeout_seconds": 10**12},
        {"command": ""},
        {"command": "true", "extra": 1},
    ):
        yield Case("session terminal arguments", "POST", "/session/terminal/exec", body=body, expect=422)
    for body in (
        {"writes": [{"path": "a\0b", "content": "x"}]},
        {"writes": [{"path": "../../x", "content": "x"}]},
        {"writes": []},
        {"writes": [{"path": "x", "content": 5}]},
    ):
        yield Case("session file write", "POST", "/session/files/write", body=body)
    for body in (
        {
            "name": "j",
            "schedule_kind": "every",
            "every_seconds": 10**30,
            "payload": {"kind": "app_agent_call", "app_id": a},
        },
        {
            "name": "j",
            "schedule_kind": "cron",
            "schedule_expr": "* * *",
            "payload": {"kind": "app_agent_call", "app_id": a},
        },
        {
            "name": "j",
            "schedule_kind": "every",
            "every_seconds": 60,
            "payload": {"kind": "app_agent_call", "app_id": "app_other"},
        },
        {"name": "", "schedule_kind": "every", "every_seconds": 60, "payload": {}},
    ):
        yield Case("automation job", "POST", "/automations/jobs", body=body, expect=422)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 1024 * 1024):
        yield data[i : i + 1024 * 1024]


async def test_hostile_input_gets_4xx_and_writes_nothing(world, capsys):
    server = world.server
    c = server.client
    for who in ("owner",):
        assert (await c.post("/session/start", headers=world.headers[who])).status_code == 200
    data_dir: Path = server.app.state.settings.data_dir
    tried: collections.Counter[str] = collections.Counter()
    refused: collections.Counter[str] = collections.Counter()
    accepted: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    for case in cases(server, world.app_a, world.run_a, world.run_b):
        headers = {**world.headers[case.principal], **case.headers}
        before, files_before = await _counts(server), _files(data_dir)
        if case.stream:
            resp = await c.request(case.method, case.path, content=_chunks(case.body), headers=headers)
        elif isinstance(case.body, bytes):
            resp = await c.request(
                case.method,
                case.path,
                content=case.body,
                headers={"Content-Type": "application/json", **headers},
            )
        else:
            resp = await c.request(case.method, case.path, json=case.body, headers=headers)
        tried[case.kind] += 1
        label = f"{case.kind}: {case.method} {case.path[:80]} {str(case.body)[:80]!r}"
        if resp.status_code >= 500 or "Traceback" in resp.text:
            failures.append(f"{label} -> {resp.status_code} {resp.text[:300]}")
            continue
        expect = 400 if "\\x00" in repr(case.body) else case.expect  # NUL: refused while decoding
        if expect is not None and resp.status_code != expect:
            failures.append(f"{label} -> {resp.status_code} (expected {expect}) {resp.text[:300]}")
        if case.may_succeed and resp.status_code < 400:
            accepted[case.kind] += 1
            continue
        if resp.status_code < 400:
            failures.append(f"{label} -> {resp.status_code}: accepted")
        if 400 <= resp.status_code < 500:
            refused[case.kind] += 1
            error = json.loads(resp.text)["error"]
            assert error["code"] and error["message"]
            after, files_after = await _counts(server), _files(data_dir)
            if after != before:
                changed = {k: (before[k], after[k]) for k in after if before.get(k) != after[k]}
                failures.append(f"{label} -> {resp.status_code} but rows changed: {changed}")
            if files_after != files_before:
                failures.append(
                    f"{label} -> {resp.status_code} but files changed: {files_after ^ files_before}"
                )
    with capsys.disabled():
        print("\nhostile input: kind, tried, refused with 4xx, accepted (allowed), 5xx")
        for kind in tried:
            print(f"  {kind:40} {tried[kind]:4} {refused[kind]:4} {accepted[kind]:4} {0:4}")
        total = (sum(tried.values()), sum(refused.values()), sum(accepted.values()))
        server_errors = len([f for f in failures if " -> 5" in f])
        print(f"  {'total':40} {total[0]:4} {total[1]:4} {total[2]:4} {server_errors:4}")
    assert not failures, "\n".join(failures)
    assert sum(tried.values()) - sum(accepted.values()) == sum(refused.values())


async def test_concurrent_first_writes_of_a_secret_both_succeed(world):
    import asyncio

    c, owner = world.server.client, world.server.owner()
    path = f"/apps/{world.app_a}/secrets"
    answers = await asyncio.gather(
        *(c.post(path, json={"name": "race", "values": {"K": str(i)}}, headers=owner) for i in range(8))
    )
    assert [r.status_code for r in answers] == [200] * 8
    listed = (await c.get(path, headers=owner)).json()["secrets"]
    assert [s["name"] for s in listed].count("race") == 1


async def test_a_redeploy_with_bad_files_leaves_the_slug_free(world):
    c, owner = world.server.client, world.server.owner()
    bad = world.server.manifest("half-made")
    bad["runtime_profile"] = {"files": [{"path": "x", "content": "1"}, {"path": "x/y", "content": "2"}]}
    refused = await c.post("/apps", json=bad, headers=owner)
    assert refused.status_code == 422 and "$.runtime_profile.files[1].path" in refused.text
    good = await c.post("/apps", json=world.server.manifest("half-made"), headers=owner)
    assert good.status_code == 201
