"""Wire compatibility with a client no one here wrote: the original ara-sdk 0.1.45 CLI, installed in
its own virtual environment and used as a black box, pointed at ara-server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
        subprocess.run([*uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, capture_output=True, timeout=120)
        subprocess.run(
            [*uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), f"ara-sdk=={ORIGINAL_VERSION}"],
            check=True, capture_output=True, timeout=300,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"could not install ara-sdk {ORIGINAL_VERSION}: {getattr(exc, 'stderr', exc)!r}")
    return venv / "bin" / "ara"


def _uv() -> list[str]:
    from shutil import which

    found = which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def _original(original_ara: Path, cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(original_ara), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
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
        original_ara, workdir, env,
        "run", str(APPS / "calc_app.py"), "--agent", "calculator", "--input", "a=20", "--input", "b=22",
    )
    assert proc.returncode == 0, proc.stderr
    response = json.loads(proc.stdout)
    assert response["result"]["output_text"] == "The sum is 42."
    assert [c["name"] for c in response["result"]["tool_calls"]] == ["add", "describe"]
