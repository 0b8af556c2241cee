"""Every app command end to end against a real ara-server: events, async runs, status, logs,
setup, setup-auth with the app header key, invites, local entrypoints."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from e2e_support import APPS

pytestmark = pytest.mark.e2e


@pytest.fixture
def deployed(cli) -> dict:
    proc = cli("deploy", str(APPS / "calc_app.py"))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _json(proc) -> dict:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


def test_events_are_idempotent_by_key(cli, deployed):
    args = (
        "events",
        str(APPS / "calc_app.py"),
        "--event-type",
        "mail.received",
        "--message",
        "hi",
        "--input",
        "a=1",
        "--idempotency-key",
        "evt-1",
    )
    first = _json(cli(*args))
    second = _json(cli(*args))
    assert first == second
    conflict = cli(
        "events",
        str(APPS / "calc_app.py"),
        "--event-type",
        "mail.received",
        "--message",
        "other",
        "--idempotency-key",
        "evt-1",
    )
    assert conflict.returncode == 1
    assert "(409)" in conflict.stderr


def test_run_async_then_run_status_until_completed(cli, deployed):
    submitted = _json(
        cli(
            "run-async",
            str(APPS / "calc_app.py"),
            "--agent",
            "calculator",
            "--input",
            "a=5",
            "--input",
            "b=6",
            "--run-id",
            "run-e2e-async-1",
        )
    )
    run = submitted.get("run", submitted)
    assert run["run_id"] == "run-e2e-async-1"
    status = _json(
        cli(
            "run-status",
            str(APPS / "calc_app.py"),
            "--run-id",
            "run-e2e-async-1",
            "--wait",
            "--timeout",
            "60",
        )
    )
    assert status["run"]["status"] == "completed"
    assert status["run"]["result"]["output_text"] == "The sum is 11."
    # The same idempotency key returns the same run.
    again = _json(
        cli(
            "run-async",
            str(APPS / "calc_app.py"),
            "--agent",
            "calculator",
            "--input",
            "a=5",
            "--input",
            "b=6",
            "--run-id",
            "run-e2e-async-2",
            "--idempotency-key",
            "run-run-e2e-async-1",
        )
    )
    assert again.get("run", again)["run_id"] == "run-e2e-async-1"


def test_run_async_webhook_needs_a_callback_url(cli, deployed):
    proc = cli("run-async", str(APPS / "calc_app.py"), "--response-mode", "webhook")
    assert proc.returncode == 1
    assert "requires --callback-url" in proc.stderr


def test_run_status_needs_a_run_id(cli, deployed):
    proc = cli("run-status", str(APPS / "calc_app.py"))
    assert proc.returncode == 1
    assert "run-status requires --run-id" in proc.stderr


def test_setup_auth_then_run_with_the_app_header_key(cli, deployed):
    (cli.cwd / ".runtime-keys.local").unlink()
    result = _json(cli("setup-auth", str(APPS / "calc_app.py")))
    assert result["app_header_key_created"] is True and result["app_header_key"]
    response = _json(
        cli(
            "run",
            str(APPS / "calc_app.py"),
            "--agent",
            "calculator",
            "--input",
            "a=1",
            "--input",
            "b=2",
            env={"ARA_APP_HEADER_KEY": result["app_header_key"]},
        )
    )
    assert response["result"]["output_text"] == "The sum is 3."


def test_setup_and_invite(cli, deployed):
    setup = _json(cli("setup", str(APPS / "calc_app.py")))
    assert setup
    invite = _json(
        cli("invite", str(APPS / "calc_app.py"), "--email", "friend@example.com", "--role", "member")
    )
    assert "friend@example.com" in json.dumps(invite)
    missing = cli("invite", str(APPS / "calc_app.py"))
    assert missing.returncode == 1 and "invite requires --email" in missing.stderr


def test_logs_stream_run_lines(cli, deployed):
    _json(cli("run", str(APPS / "calc_app.py"), "--agent", "calculator", "--input", "a=1", "--input", "b=2"))
    lines: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-m", "ara_cli", "logs", str(APPS / "calc_app.py")],
        cwd=cli.cwd,
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(lines) < 2:
                line = proc.stdout.readline()
                if line:
                    lines.append(line)
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=10)
    assert lines, err
    assert all(" run=" in line and " event=" in line for line in lines)


def test_local_entrypoint_needs_no_credentials(cli):
    env = {"ARA_API_KEY": "", "ARA_API_BASE_URL": "http://127.0.0.1:9"}
    result = _json(cli("local", str(APPS / "local_app.py"), "--input", "name=ara", env=env))
    assert result == {"ok": True, "result": "hello ara!"}


def test_auth_login_whoami_rotate_logout(cli, server):
    env = {"ARA_API_KEY": ""}
    login = _json(
        cli("auth", "login", "--api-key", server.owner_api_key, "--api-base-url", server.base_url, env=env)
    )
    assert login["status"] == "logged_in" and login["auth_type"] == "cli_api_key"
    creds = cli.home / ".ara" / "credentials.json"
    assert creds.stat().st_mode & 0o777 == 0o600
    who = _json(cli("auth", "whoami", env={**env, "ARA_API_BASE_URL": server.base_url}))
    assert who["auth_source"] == "cli_api_key" and who["user"]
    rotated = _json(cli("auth", "rotate", env={**env, "ARA_API_BASE_URL": server.base_url}))
    assert rotated["credentials_updated"] is True
    assert json.loads(creds.read_text())["api_key"] != server.owner_api_key
    # The old key stops working, the stored new key works.
    old = cli(
        "auth", "whoami", env={"ARA_API_KEY": server.owner_api_key, "ARA_API_BASE_URL": server.base_url}
    )
    assert old.returncode == 1 and "(401)" in old.stderr
    assert _json(cli("auth", "whoami", env={**env, "ARA_API_BASE_URL": server.base_url}))["user"]
    assert _json(cli("auth", "logout", env=env)) == {"ok": True, "status": "logged_out"}
    assert not creds.exists()
    nobody = cli("auth", "whoami", env={**env, "ARA_API_BASE_URL": server.base_url})
    assert nobody.returncode == 1 and "not logged in" in nobody.stderr


def test_auth_login_rejects_unknown_provider_before_any_network(cli):
    proc = cli(
        "auth",
        "login",
        "--provider",
        "myspace",
        "--api-base-url",
        "http://127.0.0.1:9",
        env={"ARA_API_KEY": ""},
    )
    assert proc.returncode == 1
    assert "unsupported OAuth provider" in proc.stderr


def test_up_is_deploy(cli):
    first = _json(cli("up", str(APPS / "calc_app.py")))
    assert first["ok"] is True and first["slug"] == "calc-e2e"


async def test_async_client_deploys_runs_and_polls(server, tmp_path):
    from ara_sdk import AsyncAraClient, load_app

    manifest = load_app(APPS / "calc_app.py").manifest
    client = AsyncAraClient(
        manifest=manifest, api_key=server.owner_api_key, base_url=server.base_url, cwd=tmp_path
    )
    deployed = await client.deploy()
    key = deployed["runtime_key"]
    result = await client.run(agent_id="calculator", input_payload={"a": 4, "b": 4}, runtime_key=key)
    assert result["result"]["output_text"] == "The sum is 8."
    submitted = await client.run_async(
        agent_id="calculator", input_payload={"a": 1, "b": 1}, runtime_key=key, run_id="run-async-client-1"
    )
    assert submitted["run"]["run_id"] == "run-async-client-1"
    import asyncio

    status = (await client.run_status(run_id="run-async-client-1", runtime_key=key))["run"]
    for _ in range(100):
        if status["status"] == "completed":
            break
        await asyncio.sleep(0.1)
        status = (await client.run_status(run_id="run-async-client-1", runtime_key=key))["run"]
    assert status["status"] == "completed"
    setup = await client.setup()
    assert setup["app"]["slug"] == "calc-e2e"
    await client.aclose()
