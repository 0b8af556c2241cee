"""`ara dev` in one shell, `ara deploy`/`ara run` in another with nothing exported; `ara demo`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_support import APPS, base_env

pytestmark = pytest.mark.e2e


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"ara dev exited early: {proc.stdout.read() if proc.stdout else ''}")
        if path.is_file():
            try:
                return json.loads(path.read_text())
            except ValueError:
                pass
        time.sleep(0.1)
    raise AssertionError("ara dev did not come up")


def test_dev_server_is_found_without_exports_and_cloud_credentials_survive(tmp_path, home, workdir):
    cloud = home / ".ara" / "credentials.json"
    cloud.parent.mkdir(parents=True)
    cloud_record = {
        "auth_type": "cli_api_key",
        "api_base_url": "https://api.ara.so",
        "api_key": "ara_cloud_key",
    }
    cloud.write_text(json.dumps(cloud_record))
    env = base_env(home)
    data_dir = tmp_path / "dev-data"
    dev = subprocess.Popen(
        [sys.executable, "-m", "ara_cli", "dev", "--port", "0", "--data-dir", str(data_dir)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        record = home / ".ara" / "dev-servers" / f"{dev.pid}.json"
        info = _wait_for(record, dev)
        assert info["api_base_url"].startswith("http://127.0.0.1:")
        assert record.stat().st_mode & 0o777 == 0o600

        deploy = subprocess.run(
            [sys.executable, "-m", "ara_cli", "deploy", str(APPS / "calc_app.py")],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert deploy.returncode == 0, deploy.stderr
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "ara_cli",
                "run",
                str(APPS / "calc_app.py"),
                "--agent",
                "calculator",
                "--input",
                "a=1",
                "--input",
                "b=1",
            ],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["result"]["output_text"] == "The sum is 2."
    finally:
        dev.send_signal(signal.SIGINT)
        out, _ = dev.communicate(timeout=30)
    assert dev.returncode == 0, out
    assert "owner API key (shown once" in out
    assert json.loads(cloud.read_text()) == cloud_record
    assert not record.exists()


def test_dev_adopts_ara_api_key_for_other_clients(tmp_path, home, workdir):
    env = base_env(home)
    env["ARA_API_KEY"] = "ara_sk_my_own_dev_key_1234567890"
    dev = subprocess.Popen(
        [sys.executable, "-m", "ara_cli", "dev", "--port", "0", "--data-dir", str(tmp_path / "d")],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        info = _wait_for(home / ".ara" / "dev-servers" / f"{dev.pid}.json", dev)
        env["ARA_API_BASE_URL"] = info["api_base_url"]
        deploy = subprocess.run(
            [sys.executable, "-m", "ara_cli", "deploy", str(APPS / "calc_app.py")],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert deploy.returncode == 0, deploy.stderr
    finally:
        dev.send_signal(signal.SIGINT)
        out, _ = dev.communicate(timeout=30)
    assert "shown once" not in out


def test_demo_prints_tool_calls_and_slots_and_exits_0(home, workdir):
    proc = subprocess.run(
        [sys.executable, "-m", "ara_cli", "demo"],
        cwd=workdir,
        env=base_env(home),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "Tool calls:" in out
    for tool in ("read-meeting-request", "find-free-slots", "draft-reply"):
        assert tool in out
    assert "Result:" in out
    assert "Wed 02 Dec, 09:00 EST" in out  # free only because the standup is EXDATEd that day
    assert os.listdir(workdir) == []  # the demo leaves nothing behind in the current directory
