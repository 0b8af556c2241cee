"""The clients end to end with the `ara` command: invitees, runtime keys by app directory, and what
every command says when there is no server or no credential."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from e2e_support import APPS, Cli, base_env

pytestmark = pytest.mark.e2e

CALC = str(APPS / "calc_app.py")


def _no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


def _accept(server, token: str) -> str:
    response = httpx.post(f"{server.base_url}/auth/cli/invites/accept", json={"token": token})
    assert response.status_code == 200, response.text
    return response.json()["api_key"]


def _invitee(cli: Cli, server, tmp_path: Path, role: str) -> Cli:
    """A second user (own HOME and directory, no runtime key) invited to calc_app with `role`."""
    invite = json.loads(cli("invite", CALC, "--email", f"{role}@example.com", "--role", role).stdout)[
        "invite"
    ]
    key = _accept(server, invite["invite_token"])
    home, cwd = tmp_path / f"{role}-home", tmp_path / f"{role}-work"
    home.mkdir()
    cwd.mkdir()
    env = {**base_env(home), "ARA_API_BASE_URL": server.base_url, "ARA_API_KEY": key}
    return Cli(home=home, cwd=cwd, env=env)


def _first_log_line(cli: Cli, *args: str) -> str:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ara_cli", *args],
        cwd=cli.cwd,
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        return proc.stdout.readline()
    finally:
        watchdog.cancel()
        proc.kill()
        proc.communicate()  # reaps the process and closes its pipes


def test_member_uses_run_status_setup_and_logs_without_a_runtime_key(cli, server, tmp_path):
    assert cli("deploy", CALC).returncode == 0
    member = _invitee(cli, server, tmp_path, "member")
    proc = member("run", CALC, "--agent", "calculator", "--input", "a=1", "--input", "b=2")
    assert proc.returncode == 0, proc.stderr
    response = json.loads(proc.stdout)
    assert response["result"]["output_text"] == "The sum is 3."
    status = member("run-status", CALC, "--run-id", response["run_id"])
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["run"]["status"] == "completed"
    assert member("setup", CALC).returncode == 0
    line = _first_log_line(member, "logs", CALC)
    assert " run=" in line and " event=" in line


def test_viewer_reads_but_is_refused_a_run_with_the_servers_reason(cli, server, tmp_path):
    assert cli("deploy", CALC).returncode == 0
    viewer = _invitee(cli, server, tmp_path, "viewer")
    assert viewer("setup", CALC).returncode == 0
    proc = viewer("run", CALC, "--agent", "calculator", "--input", "a=1", "--input", "b=2")
    assert proc.returncode == 1
    _no_traceback(proc)
    assert "failed (403)" in proc.stderr
    assert "server: viewers cannot run this app" in proc.stderr


def test_runtime_key_is_found_by_the_app_files_directory(cli, server, tmp_path):
    project = tmp_path / "project"
    (project / "chain").mkdir(parents=True)
    shutil.copy(CALC, project / "chain" / "app.py")
    deployer = Cli(home=cli.home, cwd=project, env=cli.env)
    assert deployer("deploy", "chain/app.py").returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    runner = Cli(home=cli.home, cwd=elsewhere, env=cli.env)
    proc = runner(
        "run", "../project/chain/app.py", "--agent", "calculator", "--input", "a=2", "--input", "b=3"
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["result"]["output_text"] == "The sum is 5."


@pytest.mark.parametrize(
    "args",
    [
        ("deploy", CALC),
        ("run", CALC, "--agent", "calculator"),
        ("setup", CALC),
        ("runtime", "session", "status"),
        ("auth", "whoami"),
    ],
    ids=lambda a: a[0] if a[0] != "runtime" and a[0] != "auth" else " ".join(a[:2]),
)
def test_no_server_and_no_credentials_say_ara_dev_or_log_in(tmp_path, args):
    home = tmp_path / "home"
    home.mkdir()
    lost = Cli(home=home, cwd=tmp_path, env=base_env(home))
    proc = lost(*args)
    assert proc.returncode == 1
    _no_traceback(proc)
    if args[0] == "auth":  # whoami keeps its own wording
        assert "ara auth login" in proc.stderr
        return
    assert "Missing required env var: ARA_API_KEY. No credentials found." in proc.stderr
    assert "https://api.ara.so" in proc.stderr and "`ara dev`" in proc.stderr
    assert "`ara auth login`" in proc.stderr


def test_unreachable_servers_are_named(cli, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = cli("deploy", CALC, env={"ARA_API_BASE_URL": f"http://127.0.0.1:{port}"})
    assert proc.returncode == 1
    _no_traceback(proc)
    assert f"cannot reach 127.0.0.1:{port}" in proc.stderr and "`ara dev`" in proc.stderr
    proc = cli("deploy", CALC, env={"ARA_API_BASE_URL": "https://no-such-host.invalid"})
    assert proc.returncode == 1
    _no_traceback(proc)
    assert "cannot reach no-such-host.invalid" in proc.stderr and "ARA_API_BASE_URL" in proc.stderr
