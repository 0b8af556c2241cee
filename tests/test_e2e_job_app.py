"""A job-first app (`ara.Job`, `@ara.tool`) deploys and runs with our CLI on a real ara-server."""

from __future__ import annotations

import json

import pytest
from e2e_support import APPS

pytestmark = pytest.mark.e2e


def test_job_app_deploys_and_runs(cli, server):
    env = {"JOB_REGION": "eu-west"}
    proc = cli("deploy", str(APPS / "job_app.py"), env=env)
    assert proc.returncode == 0, proc.stderr
    deployed = json.loads(proc.stdout)
    assert deployed["ok"] is True and deployed["slug"] == "job-e2e"

    proc = cli("run", str(APPS / "job_app.py"), "--input", "a=2", "--input", "b=40", env=env)
    assert proc.returncode == 0, proc.stderr
    response = json.loads(proc.stdout)
    assert response["status"] == "completed"
    calls = [entry for entry in response["trace"] if entry["type"] == "tool_call"]
    assert [c["tool"] for c in calls][:1] == ["add"]
    assert calls[0]["result"] == {"sum": 42}
