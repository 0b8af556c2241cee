"""The newest original client (ara-sdk 0.1.58, installed in its own virtual environment and used as
a black box) pointed at a real ara-server: automation jobs (add, list, runs, replay, remove), session
files (write, read, upload, download) and `session exec`. A job created this way fires once per due
time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import base_env

pytestmark = [pytest.mark.e2e, pytest.mark.original_sdk]

ORIGINAL_VERSION = "0.1.58"


@pytest.fixture(scope="session")
def ara_0158(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `ara` script of ara-sdk 0.1.58 in a fresh virtualenv (needs the package registry)."""
    from shutil import which

    venv = tmp_path_factory.mktemp("ara-sdk-0158") / "venv"
    uv = [found] if (found := which("uv")) else [sys.executable, "-m", "uv"]
    try:
        subprocess.run(
            [*uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            [
                *uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(venv / "bin" / "python"),
                f"ara-sdk=={ORIGINAL_VERSION}",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"could not install ara-sdk {ORIGINAL_VERSION}: {getattr(exc, 'stderr', exc)!r}")
    return venv / "bin" / "ara"


def _manifest() -> dict[str, Any]:
    return {
        "name": "cron-e2e",
        "slug": "cron-e2e",
        "agent": {
            "agents": [{"id": "reporter", "task": "Report."}],
            "default_agent_id": "reporter",
            "tools": [],
        },
    }


def test_original_0158_cli_against_ara_server(ara_0158: Path, server: Any, home: Path, workdir: Path):
    env = base_env(home)
    env.update(
        ARA_API_BASE_URL=server.base_url,
        ARA_API_KEY=server.owner_api_key,
        VIRTUAL_ENV=str(ara_0158.parent.parent),
        PATH=f"{ara_0158.parent}{os.pathsep}{env['PATH']}",
    )

    def ara(*args: str) -> Any:
        proc = subprocess.run(
            [str(ara_0158), *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=120
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        return json.loads(proc.stdout)

    owner = {"Authorization": f"Bearer {server.owner_api_key}"}
    with httpx.Client(base_url=server.base_url, headers=owner, timeout=60) as api:
        created = api.post("/apps", json=_manifest())
        assert created.status_code == 201, created.text
        app_id = created.json()["app"]["id"]
        assert api.patch(f"/apps/{app_id}", json={"status": "active"}).status_code == 200
        assert api.post("/session/start").status_code == 200

        # --- automation jobs
        assert ara("runtime", "automation", "list") == {"jobs": []}
        added = ara(
            "runtime",
            "automation",
            "add",
            "--name",
            "tick",
            "--every-seconds",
            "2",
            "--payload-json",
            json.dumps({"kind": "app_agent_call", "agent_id": "reporter", "input": {"n": 1}}),
        )
        job = added["job"]
        assert job["name"] == "tick" and job["enabled"] is True and job["payload"]["deliver"] is True
        assert [j["id"] for j in ara("runtime", "automation", "list")["jobs"]] == [job["id"]]

        # the scheduler (1 s tick) fires it once per due time
        deadline = time.monotonic() + 60
        runs: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            runs = ara("runtime", "automation", "runs")["runs"]
            if len(runs) >= 3 and all(r["state"] in ("succeeded", "failed") for r in runs):
                break
            time.sleep(0.5)
        assert len(runs) >= 3, runs
        times = [datetime.fromisoformat(r["scheduled_for"]) for r in runs]
        assert len(set(times)) == len(times)  # no due time fired twice
        assert all(int(t.timestamp()) % 2 == 0 for t in times)
        assert {r["state"] for r in runs} == {"succeeded"}, runs

        replayed = ara("runtime", "automation", "replay", "--run-id", runs[-1]["id"])
        assert replayed["ok"] is True and replayed["run"]["replay_of"] == runs[-1]["id"]
        done = ara("runtime", "automation", "runs", "--state", "succeeded")["runs"]
        assert all(r["state"] == "succeeded" for r in done)

        removed = ara("runtime", "automation", "remove", "--id", job["id"], "--yes")
        assert removed["ok"] is True and removed["action"] == "deleted"
        assert ara("runtime", "automation", "list") == {"jobs": []}
        settled = len(ara("runtime", "automation", "runs")["runs"])
        time.sleep(3)
        assert len(ara("runtime", "automation", "runs")["runs"]) == settled  # a deleted job no longer fires

        # --- session files
        wrote = ara(
            "runtime", "files", "write", "--path", "notes/today.txt", "--content", "hello from 0.1.58"
        )
        assert wrote["written"] == [{"path": "/root/.ara/workspace/notes/today.txt", "bytes": 17}]
        assert ara("runtime", "files", "read", "--path", "notes/today.txt")["content"] == "hello from 0.1.58"
        (workdir / "report.csv").write_bytes(b"a,b\n1,2\n")
        up = ara("runtime", "files", "upload", "--local", "report.csv", "--path", "data/in.csv")
        assert up["path"] == "/root/.ara/workspace/data/in.csv" and up["bytes"] == 8
        listed = ara("runtime", "files", "list", "--path", "data")
        assert [e["name"] for e in listed["entries"]] == ["in.csv"]
        down = ara("runtime", "files", "download", "--path", "data/in.csv", "--output", "copy.csv")
        assert down["bytes"] == 8 and (workdir / "copy.csv").read_bytes() == b"a,b\n1,2\n"

        # --- session terminal
        ran = ara("runtime", "session", "exec", "--command", "cat notes/today.txt && echo ok")
        assert ran["ok"] is True and ran["exit_code"] == 0 and ran["stdout"] == "hello from 0.1.58ok\n"
