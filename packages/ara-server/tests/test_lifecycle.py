"""The run lifecycle with real sandboxed commands: retries with the documented backoff, the run
timeout, cancellation of queued and running runs, and the concurrency limit across two nodes."""

from __future__ import annotations

import asyncio
import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from ara_server import ServerThread, Settings
from ara_server.engine import OfflineProvider

InProcessServer = Any  # the `server` fixture of conftest.py

ECHO_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "echo",
        "description": "Echo a text.",
        "parameters": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    },
    "function_name": "echo",
    "source": "def echo(text: str) -> dict:\n    return {'reply': text}\n",
}


def small_manifest(slug: str) -> dict[str, Any]:
    return {
        "name": slug,
        "slug": slug,
        "agent": {
            "agents": [{"id": "echoer", "task": "Echo.", "instructions": "Echo the text."}],
            "default_agent_id": "echoer",
            "tools": [ECHO_TOOL],
        },
        "workflows": [
            {
                "id": "echoer",
                "mode": "task",
                "agent_id": "echoer",
                "task": "Echo.",
                "trigger": {"type": "api"},
            }
        ],
    }


def job_manifest(
    slug: str, command: str, *, runtime: dict[str, Any], sandbox: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The small app plus a `job` command workflow governed by a `job` subagent."""
    manifest = small_manifest(slug)
    manifest["workflows"].append(
        {"id": "job", "mode": "run", "run": {"command": command}, "trigger": {"type": "api"}}
    )
    manifest["agent"]["subagents"] = [
        {
            "id": "job",
            "workflow_id": "job",
            "channels": [],
            "runtime": runtime,
            "sandbox": sandbox or {"policy": "shared", "max_concurrency": 8},
            "hooks": [],
        }
    ]
    return manifest


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _submit(c: httpx.AsyncClient, app_id: str, key: str, **body: Any) -> str:
    resp = await c.post(
        f"/v1/apps/{app_id}/runs", json={"workflow_id": "job", "input": {}, **body}, headers=_bearer(key)
    )
    assert resp.status_code == 202, resp.text
    return str(resp.json()["run_id"])


async def _status(c: httpx.AsyncClient, app_id: str, key: str, run_id: str) -> dict[str, Any]:
    resp = await c.get(f"/v1/apps/{app_id}/runs/{run_id}", headers=_bearer(key))
    assert resp.status_code == 200, resp.text
    return resp.json()["run"]


async def _until(
    c: httpx.AsyncClient, app_id: str, key: str, run_id: str, statuses: tuple[str, ...]
) -> dict[str, Any]:
    run: dict[str, Any] = {}
    for _ in range(1200):
        run = await _status(c, app_id, key, run_id)
        if run["status"] in statuses:
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} never reached {statuses}: {run}")


async def _logs(server: InProcessServer, app_id: str, run_id: str) -> list[dict[str, Any]]:
    rows = await server.app.state.services.logbus.after(app_id, 0)
    out = [r for r in rows if r["run_id"] == run_id]
    while len(rows) == 200:
        rows = await server.app.state.services.logbus.after(app_id, rows[-1]["id"])
        out += [r for r in rows if r["run_id"] == run_id]
    return out


def _stamp(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value)).timestamp()


async def test_max_retries_gives_three_attempts_with_the_documented_backoff(server: InProcessServer):
    base = 0.4
    manifest = job_manifest(
        "flaky",
        'echo "attempt=$ARA_ATTEMPT run=$ARA_RUN_ID key=$ARA_IDEMPOTENCY_KEY"; exit 3',
        runtime={"max_retries": 2, "retry_backoff_seconds": base},
    )
    app_id = await server.deploy(manifest)
    key = await server.runtime_key(app_id, rpm=100000)
    run_id = await _submit(server.client, app_id, key, idempotency_key="order-42")
    run = await _until(server.client, app_id, key, run_id, ("completed", "failed", "cancelled"))
    assert (run["status"], run["attempt"]) == ("failed", 3), run
    assert f"attempt=3 run={run_id} key=order-42" in json.dumps(run)
    logs = await _logs(server, app_id, run_id)
    for _ in range(100):  # the final log line is written just after the final status
        if any(r["event_type"] == "run.failed" for r in logs):
            break
        await asyncio.sleep(0.05)
        logs = await _logs(server, app_id, run_id)
    attempts = [r for r in logs if r["event_type"] == "run.attempt"]
    retries = [r for r in logs if r["event_type"] == "run.retry"]
    assert [a["message"].split(" on node")[0] for a in attempts] == [
        "attempt 1 of 3",
        "attempt 2 of 3",
        "attempt 3 of 3",
    ]
    assert len(retries) == 2
    for n, (retry, previous, following) in enumerate(
        zip(retries, attempts[:-1], attempts[1:], strict=True), start=1
    ):
        delay = float(re.search(r"in ([0-9.]+) s$", retry["message"]).group(1))  # type: ignore[union-attr]
        # full jitter: uniform(0, min(cap, base * 2 ** (n - 1)))
        assert 0.0 <= delay <= base * 2 ** (n - 1)
        # the next attempt never starts before the backoff has passed (counted from before the
        # failed attempt's end, so from its start at the latest)
        assert _stamp(following["created_at"]) >= _stamp(previous["created_at"]) + delay - 0.005
    kinds = [r["event_type"] for r in logs]
    assert kinds.count("run.failed") == 1 and kinds.index("run.failed") > kinds.index("run.retry")


async def test_timeout_seconds_stops_a_longer_command(server: InProcessServer):
    manifest = job_manifest("slow", "sleep 4; echo slept-through", runtime={"timeout_seconds": 2})
    app_id = await server.deploy(manifest)
    key = await server.runtime_key(app_id, rpm=100000)
    run_id = await _submit(server.client, app_id, key)
    run = await _until(server.client, app_id, key, run_id, ("completed", "failed", "cancelled"))
    assert run["status"] == "failed" and "timed out after 2 s" in run["error"], run
    assert run["attempt"] == 1
    assert "slept-through" not in json.dumps(run)


def _processes_with(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline and "pytest" not in cmdline:
                pids.append(int(entry.name))
    return pids


async def _wait_for(predicate: Any, what: str) -> None:
    for _ in range(400):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_cancel_ends_a_running_command_and_a_queued_run(server: InProcessServer):
    marker = f"98{os.getpid() % 1000}.25"
    manifest = job_manifest(
        "cancellable",
        f"echo up; sleep {marker}",
        runtime={},
        sandbox={"policy": "shared", "max_concurrency": 1},
    )
    app_id = await server.deploy(manifest)
    key = await server.runtime_key(app_id, rpm=100000)
    c = server.client
    running = await _submit(c, app_id, key)
    await _until(c, app_id, key, running, ("running",))
    await _wait_for(lambda: _processes_with(f"sleep {marker}"), "the command to start")
    queued = await _submit(c, app_id, key)
    assert (await _status(c, app_id, key, queued))["status"] == "queued"  # the limit of 1 holds it back

    first = await c.post(f"/v1/apps/{app_id}/runs/{queued}/cancel", headers=_bearer(key))
    assert first.status_code == 200 and first.json()["run"]["status"] == "cancelled", first.text
    resp = await c.post(f"/v1/apps/{app_id}/runs/{running}/cancel", headers=_bearer(key))
    assert resp.status_code == 200, resp.text
    assert resp.json()["cancelled"] is True and resp.json()["run"]["status"] == "cancelled"
    await _wait_for(lambda: not _processes_with(f"sleep {marker}"), "the sandbox process tree to end")
    again = await c.post(f"/v1/apps/{app_id}/runs/{running}/cancel", headers=_bearer(key))
    assert again.status_code == 409 or again.json()["run"]["status"] == "cancelled"
    missing = await c.post(f"/v1/apps/{app_id}/runs/run_nope/cancel", headers=_bearer(key))
    assert missing.status_code == 404


def _node(data_dir: Path, database_url: str | None, node_id: str, owner_key: str | None) -> ServerThread:
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        workers=3,
        scheduler_interval_seconds=0,
        node_id=node_id,
        owner_api_key=owner_key,
        poll_seconds=0.1,
        secrets_key="ZmFrZS1rZXktZm9yLXRlc3RzLTAxMjM0NTY3ODkwMTI=",
    )
    return ServerThread(settings, provider=OfflineProvider())


async def test_max_concurrency_one_never_overlaps_across_two_nodes(tmp_path: Path, database_url: str | None):
    data_dir = tmp_path / "shared"  # one data dir: the SQLite file (or the key files next to PostgreSQL)
    command = 'echo "start $(date +%s.%N)"; sleep 0.3; echo "end $(date +%s.%N)"'
    manifest = job_manifest("serial", command, runtime={}, sandbox={"policy": "shared", "max_concurrency": 1})
    owner = "ara_owner_test_key_0123456789"
    with (
        _node(data_dir, database_url, "node-a", owner) as a,
        _node(data_dir, database_url, "node-b", owner) as b,
    ):
        async with (
            httpx.AsyncClient(base_url=a.base_url, timeout=30) as ca,
            httpx.AsyncClient(base_url=b.base_url, timeout=30) as cb,
        ):
            created = await ca.post("/apps", json=manifest, headers=_bearer(owner))
            assert created.status_code == 201, created.text
            app_id = created.json()["app"]["id"]
            minted = await ca.post(
                f"/apps/{app_id}/keys", json={"requests_per_minute": 1000}, headers=_bearer(owner)
            )
            key = minted.json()["key"]
            run_ids = [await _submit(ca if n % 2 else cb, app_id, key) for n in range(6)]
            done = [await _until(ca, app_id, key, r, ("completed", "failed", "cancelled")) for r in run_ids]
    assert [d["status"] for d in done] == ["completed"] * 6, done
    spans = []
    for run in done:
        text = json.dumps(run)
        start = float(re.search(r"start ([0-9.]+)", text).group(1))  # type: ignore[union-attr]
        end = float(re.search(r"end ([0-9.]+)", text).group(1))  # type: ignore[union-attr]
        spans.append((start, end))
    spans.sort()
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end, f"two runs overlapped: {spans}"


async def test_a_secret_reaches_tools_on_two_nodes_with_their_own_data_dirs(
    tmp_path: Path, database_url: str | None
):
    url = database_url or f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    manifest = small_manifest("secretive")
    manifest["agent"]["tools"][0] = {
        **ECHO_TOOL,
        "source": (
            "def echo(text: str) -> dict:\n"
            "    import os\n"
            "    return {'reply': os.environ.get('TOKEN', 'missing')[::-1]}\n"
        ),
    }
    owner = "ara_owner_test_key_0123456789"
    with _node(tmp_path / "a", url, "node-a", owner) as a:
        pepper = tmp_path / "a" / "keys.pepper"
        (tmp_path / "b").mkdir(mode=0o700)
        if pepper.exists():  # API keys are hashed with the pepper: every node needs the same file
            (tmp_path / "b" / "keys.pepper").write_bytes(pepper.read_bytes())
        with _node(tmp_path / "b", url, "node-b", owner) as b:
            async with (
                httpx.AsyncClient(base_url=a.base_url, timeout=30) as ca,
                httpx.AsyncClient(base_url=b.base_url, timeout=30) as cb,
            ):
                created = await ca.post("/apps", json=manifest, headers=_bearer(owner))
                assert created.status_code == 201, created.text
                app_id = created.json()["app"]["id"]
                put = await cb.post(
                    f"/apps/{app_id}/secrets",
                    json={"name": "api", "values": {"TOKEN": "s3cret"}},
                    headers=_bearer(owner),
                )
                assert put.status_code in (200, 201), put.text
                key = (await ca.post(f"/apps/{app_id}/keys", json={}, headers=_bearer(owner))).json()["key"]
                for client in (ca, cb):
                    done = await client.post(
                        f"/v1/apps/{app_id}/run", json={"input": {"text": "x"}}, headers=_bearer(key)
                    )
                    assert done.status_code == 200, done.text
                    # reversed: the exact secret value would be masked as ***
                    assert done.json()["result"]["output_text"] == "terc3s", done.text


async def test_a_clean_stop_hands_a_running_run_back_to_the_queue(settings: Settings):
    from ara_server import create_app
    from ara_server.store import runs as runs_store

    manifest = job_manifest("handback", 'sleep "${ARA_SLEEP:-5}"; echo "attempt=$ARA_ATTEMPT"', runtime={})
    app = create_app(settings, provider=OfflineProvider())
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            owner = {"Authorization": f"Bearer {app.state.owner_api_key}"}
            app_id = (await c.post("/apps", json=manifest, headers=owner)).json()["app"]["id"]
            key = (
                await c.post(f"/apps/{app_id}/keys", json={"requests_per_minute": 100000}, headers=owner)
            ).json()["key"]
            run_id = await _submit(c, app_id, key)
            await _until(c, app_id, key, run_id, ("running",))
        store = app.state.store
    # the lifespan has ended (the node stopped cleanly): the run is queued again, its attempt not counted
    reopened = create_app(settings, provider=OfflineProvider())
    async with reopened.router.lifespan_context(reopened):
        row = await reopened.state.store.run(runs_store.get_run, app_id, run_id)
        assert row["status"] in ("queued", "running") and row["attempt"] <= 1
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=reopened), base_url="http://t") as c:
            done = await _until(c, app_id, key, run_id, ("completed", "failed", "cancelled"))
    assert (done["status"], done["attempt"]) == ("completed", 1), done
    assert "attempt=1" in json.dumps(done)
    assert store is not None
