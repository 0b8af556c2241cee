"""The guardrail launcher (spec §2.11) run by real bash against hostile commands."""

import json
import subprocess

from ara_core import guardrail_command, task_guardrail_prefix
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HOSTILE = st.sampled_from(
    [
        "echo 'single' \"double\" `echo backtick` $(echo sub) $HOME",
        "printf '%s\\n' \"$ARA_RUN_ID\" > out.txt; cat out.txt",
        "cat <<'EOF'\nline with $dollar and `tick`\nEOF",
        "echo multi\necho line",
        "exit 7",
        "false",
        "echo '__COMMAND__ __WORKDIR__'",
        "echo \\\\ backslash; echo '\"quoted\"'",
    ]
)


def _run(script: str, tmp_path, env=None):
    return subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **(env or {})},
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=HOSTILE, code=st.integers(0, 3))
def test_launcher_sets_variables_logs_twice_and_propagates_exit(tmp_path, body, code):
    command = (
        f"{body}\n"
        'echo "vars:$ARA_APP_SLUG:$ARA_SUBAGENT_ID:$ARA_WORKFLOW_ID:'
        '$ARA_TIMEOUT_SECONDS:$ARA_MAX_RETRIES:$ARA_RETRY_BACKOFF_SECONDS:$(basename "$PWD")"\n'
        f"exit {code}"
    )
    script = guardrail_command(
        command,
        app_slug="my-app",
        subagent_id="booker",
        workflow_id="booker-hook",
        timeout_seconds=60,
        max_retries=3,
        retry_backoff_seconds=9,
    )
    proc = _run(script, tmp_path)
    lines = proc.stdout.splitlines()
    start, done = json.loads(lines[0]), json.loads(lines[-1])
    assert start["phase"] == "start" and done["phase"] == "done" and start["event"] == "ara.hook"
    assert start["run_id"].startswith("run-") and start["idempotency_key"] == f"booker-hook-{start['run_id']}"
    expected = 7 if body == "exit 7" else code  # `false` mid-script does not end it
    assert proc.returncode == expected == done["exit_code"]
    assert isinstance(done["duration_ms"], int)
    if body != "exit 7":
        assert "vars:my-app:booker:booker-hook:60:3:9:booker" in proc.stdout
    assert (tmp_path / "subagents" / "booker").is_dir()


def test_launcher_reuses_run_id_and_idempotency_key(tmp_path):
    script = guardrail_command(
        'echo "$RUN_ID $IDEMPOTENCY_KEY"',
        app_slug="a",
        subagent_id="s",
        workflow_id="w",
        working_dir="work dir",
    )
    proc = _run(script, tmp_path, {"ARA_RUN_ID": "run-fixed", "IDEMPOTENCY_KEY": "key-1"})
    assert "run-fixed key-1" in proc.stdout
    assert json.loads(proc.stdout.splitlines()[0])["idempotency_key"] == "key-1"
    assert (tmp_path / "work dir").is_dir()


def test_task_prefix_names_the_budget():
    text = task_guardrail_prefix(
        app_slug="a",
        subagent_id="s",
        workflow_id="w",
        timeout_seconds=30,
        max_retries=1,
        retry_backoff_seconds=2,
    )
    assert (
        "subagents/s/" in text
        and "30 seconds" in text
        and "$ARA_IDEMPOTENCY_KEY" in text
        and text.endswith("\n\n")
    )
