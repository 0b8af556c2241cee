"""Events trigger the app's hooks end to end: command hooks (plain and guardrail-wrapped) and task
hooks run as async runs, once per idempotent event."""

from __future__ import annotations

import json
import time

import pytest
from e2e_support import APPS

pytestmark = pytest.mark.e2e


def test_event_runs_every_matching_hook_once(cli, server):
    app = str(APPS / "hooks_app.py")
    assert cli("deploy", app).returncode == 0
    args = (
        "events",
        app,
        "--event-type",
        "mail.received",
        "--message",
        "quarterly numbers",
        "--idempotency-key",
        "mail-1",
    )
    first = json.loads(cli(*args).stdout)
    assert sorted(first["matched_workflows"]) == sorted(["on-mail", "summarize-mail", "mail-received-hook"])
    assert json.loads(cli(*args).stdout) == first  # replay: no second set of runs

    statuses = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        statuses = {
            rid: json.loads(cli("run-status", app, "--run-id", rid).stdout)["run"] for rid in first["runs"]
        }
        if all(r["status"] in ("completed", "failed") for r in statuses.values()):
            break
        time.sleep(0.2)
    by_workflow = {r["workflow_id"]: r for r in statuses.values()}
    assert all(r["status"] == "completed" for r in by_workflow.values()), by_workflow
    assert by_workflow["on-mail"]["result"]["output_text"].strip() == "hook saw quarterly numbers"
    assert by_workflow["summarize-mail"]["result"]["output_text"] == "summary: quarterly numbers"
    guarded = by_workflow["mail-received-hook"]["result"]["output_text"].splitlines()
    start, done = json.loads(guarded[0]), json.loads(guarded[-1])
    assert start["phase"] == "start" and done["phase"] == "done" and done["exit_code"] == 0
    workdir = server.settings.app_dir(json.loads(cli("setup", app).stdout)["app"]["id"])
    assert (workdir / "subagents" / "archiver" / "done.txt").read_text() == "subagent-ran\n"
