"""Wire compatibility with a client no one here wrote: the original ara-sdk 0.1.45 CLI, installed in
its own virtual environment and used as a black box, pointed at ara-server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_support import APPS, base_env

pytestmark = [pytest.mark.e2e, pytest.mark.original_sdk]

ORIGINAL_VERSION = "0.1.45"


@pytest.fixture(scope="session")
def original_ara(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `ara` script of ara-sdk 0.1.45 in a fresh virtualenv (needs the package registry)."""
    venv = tmp_path_factory.mktemp("ara-sdk-original") / "venv"
    uv = _uv()
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


def _uv() -> list[str]:
    from shutil import which

    found = which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def _original(
    original_ara: Path, cwd: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(original_ara), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_original_cli_deploys_and_runs_against_ara_server(original_ara, server, home, workdir):
    env = base_env(home)
    env["ARA_API_BASE_URL"] = server.base_url
    env["ARA_API_KEY"] = server.owner_api_key
    env["VIRTUAL_ENV"] = str(original_ara.parent.parent)
    env["PATH"] = f"{original_ara.parent}{os.pathsep}{env['PATH']}"

    proc = _original(original_ara, workdir, env, "deploy", str(APPS / "calc_app.py"))
    assert proc.returncode == 0, proc.stderr
    deployed = json.loads(proc.stdout)
    assert deployed["ok"] is True and deployed["slug"] == "calc-e2e"
    runtime_key = deployed["runtime_key"]
    assert runtime_key

    env["ARA_RUNTIME_KEY"] = runtime_key
    proc = _original(
        original_ara,
        workdir,
        env,
        "run",
        str(APPS / "calc_app.py"),
        "--agent",
        "calculator",
        "--input",
        "a=20",
        "--input",
        "b=22",
    )
    assert proc.returncode == 0, proc.stderr
    response = json.loads(proc.stdout)
    assert response["result"]["output_text"] == "The sum is 42."
    assert [c["name"] for c in response["result"]["tool_calls"]] == ["add", "describe"]


def test_original_cli_setup_auth_events_and_async_runs(original_ara, server, home, workdir):
    env = base_env(home)
    env.update(ARA_API_BASE_URL=server.base_url, ARA_API_KEY=server.owner_api_key)
    app = str(APPS / "calc_app.py")
    deployed = json.loads(_original(original_ara, workdir, env, "deploy", app).stdout)
    env["ARA_RUNTIME_KEY"] = deployed["runtime_key"]

    # setup-auth mints an app header key; a run authorized by it alone works.
    proc = _original(original_ara, workdir, env, "setup-auth", app)
    assert proc.returncode == 0, proc.stderr
    auth = json.loads(proc.stdout)
    assert auth["app_header_key_created"] is True and auth["app_header_key"]
    header_env = {k: v for k, v in env.items() if k != "ARA_RUNTIME_KEY"} | {
        "ARA_APP_HEADER_KEY": auth["app_header_key"]
    }
    proc = _original(
        original_ara,
        workdir,
        header_env,
        "run",
        app,
        "--agent",
        "calculator",
        "--input",
        "a=1",
        "--input",
        "b=1",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["result"]["output_text"] == "The sum is 2."

    # events twice with one idempotency key: the same response.
    args = (
        "events",
        app,
        "--event-type",
        "mail.received",
        "--message",
        "hi",
        "--idempotency-key",
        "orig-evt-1",
    )
    first = _original(original_ara, workdir, env, *args)
    second = _original(original_ara, workdir, env, *args)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert json.loads(first.stdout) == json.loads(second.stdout)

    # run-async, then run-status until completed.
    proc = _original(
        original_ara,
        workdir,
        env,
        "run-async",
        app,
        "--agent",
        "calculator",
        "--input",
        "a=3",
        "--input",
        "b=4",
    )
    assert proc.returncode == 0, proc.stderr
    submitted = json.loads(proc.stdout)
    run_id = submitted.get("run_id") or submitted["run"]["run_id"]
    status = {}
    for _ in range(100):
        proc = _original(original_ara, workdir, env, "run-status", app, "--run-id", run_id)
        assert proc.returncode == 0, proc.stderr
        status = json.loads(proc.stdout)["run"]
        if status["status"] in ("completed", "failed"):
            break
        time.sleep(0.2)
    assert status["status"] == "completed"
    assert status["result"]["output_text"] == "The sum is 7."
