"""Everything an app declares runs on ara-server, or the deploy says why not: with the `ara` command
against a real server, a pipeline runs on demand (`ara run --workflow`) and on its event, step after
step; `@app.handler` functions with 0, 1 and 2 parameters answer; the startup entrypoint runs once
with its output in the logs; a tool imports a package that only the app's declared environment has;
a subagent hook finds that environment's `python` through its login shell; deploy warnings name what
the server does not provide; a package that does not exist fails the deploy with its name."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_support import APPS

pytestmark = pytest.mark.e2e

APP = str(APPS / "declared_app.py")


def _json(proc: subprocess.CompletedProcess[str]) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _wait_runs(cli, run_ids: list[str], timeout: float = 90) -> dict[str, dict]:
    runs: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = {rid: _json(cli("run-status", APP, "--run-id", rid))["run"] for rid in run_ids}
        if all(r["status"] in ("completed", "failed", "cancelled") for r in runs.values()):
            break
        time.sleep(0.3)
    return runs


def _log_lines(cli, wanted: str, timeout: float = 60) -> list[str]:
    """`ara logs` lines, read until one contains `wanted` (or the timeout)."""
    lines: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-m", "ara_cli", "logs", APP],
        cwd=cli.cwd,
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                line = proc.stdout.readline() if proc.stdout else ""
                if not line:
                    break
                lines.append(line.rstrip("\n"))
                if wanted in line:
                    break
        finally:
            proc.terminate()
            proc.communicate(timeout=10)
    return lines


@pytest.fixture
def deployed(cli, server):
    if shutil.which("uv") is None:
        pytest.skip("uv is needed to install python_packages")
    result = cli("deploy", APP, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_declaration_runs(cli, server, deployed):
    # Deploy warnings: what ara-server does not provide is listed, never silently ignored.
    warnings = {w["path"]: w["message"] for w in deployed.get("warnings", [])}
    assert any("email" in m for m in warnings.values()), warnings
    assert any("gmail" in m for m in warnings.values()), warnings

    # The startup entrypoint ran once for this version; its output is in the logs.
    lines = _log_lines(cli, "startup.completed")
    assert any(
        "event=startup.output" in line and "started startup-ran-declared-e2e" in line for line in lines
    )
    app_id = deployed["app_id"]
    workdir: Path = server.settings.app_dir(app_id)
    assert (workdir / "startup.txt").read_text() == "startup-ran-declared-e2e\n"

    # `ara run --workflow` runs a pipeline's steps in order.
    piped = _json(cli("run", APP, "--workflow", "two-steps"))
    assert piped["status"] == "completed", piped
    assert [e["step_id"] for e in piped["trace"] if e["type"] == "tool_call"] == ["first", "second"]
    assert json.loads(piped["result"]["output_text"])["lines"] == ["one:a", "two:a"]
    # The tool's print is recorded under its call in the trace.
    assert "step one wrote a" in piped["trace"][0]["logs"]

    # An event starts the event-triggered pipeline.
    event = _json(cli("events", APP, "--event-type", "order.created", "--message", "o-1"))
    assert event["matched_workflows"] == ["on-order"]
    runs = _wait_runs(cli, event["runs"])
    (run,) = runs.values()
    assert (run["status"], run["kind"], run["workflow_id"]) == ("completed", "pipeline", "on-order"), run
    assert (workdir / "steps.txt").read_text().splitlines() == ["one:a", "two:a", "one:evt", "two:evt"]

    # Handlers with 0, 1 and 2 parameters.
    zero = _json(cli("run", APP, "--workflow", "hello0"))
    assert zero["result"]["output_text"] == "hello from nowhere", zero
    one = _json(cli("run", APP, "--workflow", "hello1", "--message", "ann"))
    assert one["result"]["output_text"] == "hello ann", one
    two = _json(cli("run", APP, "--workflow", "hello2", "--message", "bob"))
    assert two["result"]["output_text"] == f"hello bob in run {two['run_id']} of declared-e2e", two

    # A tool imports a package that only the app's declared environment has.
    camel = _json(cli("run", APP, "--agent", "camel-agent", "--input", "word=snake_case_word"))
    assert camel["status"] == "completed", camel
    assert camel["result"]["tool_calls"][-1]["result"] == "SnakeCaseWord"

    # A subagent hook (a `bash -lc` guardrail launcher) finds the same `python`.
    hook = _json(cli("events", APP, "--event-type", "py.check", "--message", "x"))
    (hook_run,) = _wait_runs(cli, hook["runs"]).values()
    assert hook_run["status"] == "completed", hook_run
    assert "3" in hook_run["result"]["output_text"].splitlines()


def test_a_package_that_cannot_be_installed_fails_the_deploy_with_its_name(cli, server, tmp_path):
    if shutil.which("uv") is None:
        pytest.skip("uv is needed to install python_packages")
    app = tmp_path / "broken_pkg_app.py"
    app.write_text(
        "from ara_sdk import App, runtime\n"
        "app = App(name='Broken Pkg', project_name='broken-pkg',\n"
        "          runtime_profile=runtime(python_packages=['inflection', 'ara-no-such-package-x9q7']))\n"
        "@app.agent(entrypoint=True, task='t')\n"
        "def a():\n"
        "    pass\n"
    )
    result = cli("deploy", str(app), timeout=600)
    assert result.returncode != 0
    assert "ara-no-such-package-x9q7" in result.stderr
    assert "$.runtime_profile.python_packages[1]" in result.stderr
