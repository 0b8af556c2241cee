"""The main job end to end: `ara deploy` then `ara run` against a real ara-server on loopback."""

from __future__ import annotations

import json
import sqlite3

import pytest
from e2e_support import APPS

pytestmark = pytest.mark.e2e


def _deploy(cli, app: str = "calc_app.py") -> dict:
    proc = cli("deploy", str(APPS / app))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_deploy_then_run_chains_tools_and_persists_the_trace(cli, server):
    deployed = _deploy(cli)
    assert deployed["ok"] is True
    assert deployed["slug"] == "calc-e2e"
    assert deployed["runtime_key"]
    keys_file = cli.cwd / ".runtime-keys.local"
    assert json.loads(keys_file.read_text())["calc-e2e"] == deployed["runtime_key"]
    assert keys_file.stat().st_mode & 0o777 == 0o600

    # --input a=2 reaches the int parameter as 2; the runtime key comes from .runtime-keys.local.
    proc = cli("run", str(APPS / "calc_app.py"), "--agent", "calculator", "--input", "a=2", "--input", "b=40")
    assert proc.returncode == 0, proc.stderr
    response = json.loads(proc.stdout)
    assert response["status"] == "completed"
    assert response["result"]["output_text"] == "The sum is 42."
    calls = [entry for entry in response["trace"] if entry["type"] == "tool_call"]
    assert [c["tool"] for c in calls] == ["add", "describe"]
    assert calls[0]["arguments"] == {"a": 2, "b": 40}
    assert calls[0]["result"] == {"sum": 42, "types": ["int", "int"]}

    # The run and its trace are persisted in the server's SQLite database.
    db = sqlite3.connect(server.settings.data_dir / "ara.db")
    try:
        status, result, trace = db.execute(
            "select status, result, trace from runs where run_id = ?", (response["run_id"],)
        ).fetchone()
    finally:
        db.close()
    assert status == "completed"
    assert json.loads(result)["output_text"] == "The sum is 42."
    assert [e["tool"] for e in json.loads(trace) if e["type"] == "tool_call"] == ["add", "describe"]


def test_run_with_message_flag_and_explicit_runtime_key(cli):
    deployed = _deploy(cli)
    (cli.cwd / ".runtime-keys.local").unlink()
    proc = cli(
        "run",
        str(APPS / "calc_app.py"),
        "--runtime-key",
        deployed["runtime_key"],
        "--input-json",
        '{"a": 1, "b": 2}',
        "--message",
        "please add",
    )
    assert proc.returncode == 0, proc.stderr
    response = json.loads(proc.stdout)
    assert response["result"]["output_text"] == "The sum is 3."


def test_redeploy_updates_in_place(cli):
    first = _deploy(cli)
    second = _deploy(cli)
    assert first["app_id"] == second["app_id"]
    # A redeploy reuses the app's runtime key instead of minting another one.
    assert first["runtime_key"] == second["runtime_key"]
