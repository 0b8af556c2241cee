"""Runs you can see, end to end: `ara run --stream` prints tool calls as they happen, `ara runs`
lists runs as a table, `AraClient.stream_run` / `AsyncAraClient.stream_run` resume with
`Last-Event-ID` and get the remaining events exactly once; and ara's own `ara runtime automation`,
`files` and `session exec` commands against a real server."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import APPS

pytestmark = pytest.mark.e2e


def _calc(workdir: Path) -> str:
    target = workdir / "calc_app.py"
    shutil.copy(APPS / "calc_app.py", target)
    return str(target)


def test_run_stream_runs_table_and_resumable_events(cli, server, workdir, monkeypatch):
    calc = _calc(workdir)
    assert cli("deploy", calc).returncode == 0
    text = {"ARA_OUTPUT": "text"}
    streamed = cli("run", calc, "--stream", "--input", "a=2", "--input", "b=3", env=text)
    assert streamed.returncode == 0, streamed.stderr
    out = streamed.stdout
    assert "[tool.call]" in out and "Result:" in out and "The sum is 5." in out
    assert out.index("[tool.call]") < out.index("Result:")

    as_json = cli("run", calc, "--stream", "--input", "a=1", "--input", "b=1")
    events = [json.loads(line) for line in as_json.stdout.splitlines()]
    names = [e["event"] for e in events]
    assert names[0] == "run.queued" and names[-1] == "run.completed" and "tool.call" in names
    run_id = events[-1]["run_id"]

    table = cli("runs", calc, env=text)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:3] == ["RUN", "ID", "STATUS"]
    assert run_id in table.stdout
    page = json.loads(cli("runs", calc, "--status", "completed", "--limit", "1").stdout)
    assert len(page["runs"]) == 1 and page["next_cursor"]

    from ara_sdk import AraClient, AsyncAraClient, load_app
    from ara_sdk._run_events import RunEvent

    monkeypatch.setenv("ARA_API_BASE_URL", server.base_url)
    monkeypatch.setenv("ARA_API_KEY", server.owner_api_key)
    manifest = load_app(calc).manifest
    with AraClient.from_env(manifest=manifest, cwd=workdir, app_dir=workdir) as client:
        full = list(client.stream_run(run_id=run_id))
        assert [e["id"] for e in full] == [e["id"] for e in events]
        rest = list(client.stream_run(run_id=run_id, last_event_id=full[1]["id"]))
        assert [e["id"] for e in rest] == [e["id"] for e in full[2:]]
        assert client.runs(agent="calculator", limit=200)["runs"][0]["run_id"] == run_id

    async def async_events() -> list[RunEvent]:
        async with AsyncAraClient.from_env(manifest=manifest, cwd=workdir, app_dir=workdir) as client:
            return [e async for e in client.stream_run(run_id=run_id, last_event_id=full[0]["id"])]

    assert [e["id"] for e in asyncio.run(async_events())] == [e["id"] for e in full[1:]]


def test_ara_runtime_automation_files_and_exec(cli, server, workdir):
    owner = {"Authorization": f"Bearer {server.owner_api_key}"}
    manifest = {
        "name": "auto",
        "slug": "auto",
        "agent": {"agents": [{"id": "a", "task": "Go."}], "tools": []},
    }
    assert httpx.post(f"{server.base_url}/apps", json=manifest, headers=owner).status_code == 201
    assert cli("start").returncode == 0

    def ok(*args: str) -> Any:
        proc = cli("runtime", *args)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        return json.loads(proc.stdout)

    job = ok(
        "automation", "add", "--name", "n", "--every-seconds", "3600", "--payload-json", '{"message": "hi"}'
    )["job"]
    assert job["payload"] == {"message": "hi"} and job["enabled"] is True
    assert ok("automation", "disable", "--id", job["id"])["job"]["enabled"] is False
    assert [j["id"] for j in ok("automation", "list")["jobs"]] == [job["id"]]
    assert ok("automation", "runs") == {"runs": []}
    assert ok("automation", "remove", "--id", job["id"], "--yes")["action"] == "deleted"
    missing = cli("runtime", "automation", "remove", "--id", "job_nope", "--yes", "--no-disable-fallback")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert ok("automation", "purge", "--all", "--yes")["initial_count"] == 0

    assert ok("files", "write", "--path", "a/b.txt", "--content", "x y")["written"][0]["bytes"] == 3
    assert ok("files", "read", "--path", "a/b.txt")["content"] == "x y"
    (workdir / "up.bin").write_bytes(b"\x00\x01\x02")
    assert ok("files", "upload", "--local", "up.bin")["path"] == "/root/.ara/workspace/up.bin"
    assert {e["name"] for e in ok("files", "list")["entries"]} == {"a", "up.bin"}
    ran = ok("session", "exec", "--command", "wc -c < up.bin")
    assert ran["ok"] is True and ran["stdout"].strip() == "3"
    beat = cli("runtime", "session", "keepalive", "--iterations", "1", "--interval-seconds", "0")
    assert beat.returncode == 0, beat.stderr
    first = json.loads(beat.stdout[: beat.stdout.index("\n}\n") + 2])
    assert first["ok"] is True and first["response"]["ok"] is True
