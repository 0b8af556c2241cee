"""Bad input end to end: a clear message and a non-zero exit, never a traceback; the server stays up."""

from __future__ import annotations

import json

import pytest
from e2e_support import APPS

pytestmark = pytest.mark.e2e


def _no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


def test_project_name_breaking_the_dns_rule(cli):
    proc = cli("deploy", str(APPS / "bad_name_app.py"))
    assert proc.returncode == 1
    _no_traceback(proc)
    assert "project_name" in proc.stderr
    assert "lowercase letters, digits" in proc.stderr


def test_script_without_an_app(cli):
    proc = cli("deploy", str(APPS / "no_app.py"))
    assert proc.returncode == 1
    _no_traceback(proc)
    assert "No App(...) instance found in script" in proc.stderr


def test_missing_script(cli):
    proc = cli("deploy", "nope.py")
    assert proc.returncode == 1
    _no_traceback(proc)
    assert "Script not found" in proc.stderr


def test_run_against_an_app_never_deployed(cli):
    proc = cli("run", str(APPS / "calc_app.py"), "--agent", "calculator", "--runtime-key", "ara_rk_x")
    assert proc.returncode == 1
    _no_traceback(proc)
    assert "App 'calc-e2e' not found. Deploy first." in proc.stderr


def test_wrong_and_missing_runtime_key(cli):
    assert cli("deploy", str(APPS / "calc_app.py")).returncode == 0
    (cli.cwd / ".runtime-keys.local").unlink()
    (cli.home / ".ara" / "runtime-keys.json").unlink()  # the copy kept by app directory and slug
    proc = cli("run", str(APPS / "calc_app.py"), "--agent", "calculator", "--runtime-key", "ara_rk_wrong")
    assert proc.returncode == 1
    _no_traceback(proc)
    assert "(401)" in proc.stderr
    proc = cli("run", str(APPS / "calc_app.py"), "--agent", "calculator")
    assert proc.returncode == 1
    _no_traceback(proc)
    assert "Missing runtime key" in proc.stderr


def test_tool_that_raises_fails_the_run_with_its_error_in_the_trace(cli):
    assert cli("deploy", str(APPS / "failing_app.py")).returncode == 0
    proc = cli("run", str(APPS / "failing_app.py"), "--agent", "raiser", "--input", "reason=tax forms")
    assert proc.returncode == 1
    _no_traceback(proc)
    response = json.loads(proc.stdout)
    assert response["status"] == "failed"
    assert "cannot handle tax forms" in response["error"]
    call = next(e for e in response["trace"] if e["type"] == "tool_call")
    assert call["tool"] == "explode" and "ValueError" in call["error"]


def test_tool_past_its_timeout_fails_the_run_and_the_server_stays_up(cli, server):
    assert cli("deploy", str(APPS / "failing_app.py")).returncode == 0
    proc = cli("run", str(APPS / "failing_app.py"), "--agent", "sleeper", "--input", "seconds=30")
    assert proc.returncode == 1
    response = json.loads(proc.stdout)
    assert response["status"] == "failed"
    assert "timed out" in response["error"].lower() or "timeout" in response["error"].lower()
    # The server still answers.
    proc = cli("run", str(APPS / "failing_app.py"), "--agent", "raiser", "--input", "reason=x")
    assert json.loads(proc.stdout)["status"] == "failed"


def test_missing_credentials_use_the_spec_message(cli):
    proc = cli(
        "deploy", str(APPS / "calc_app.py"), env={"ARA_API_KEY": "", "ARA_API_BASE_URL": "http://127.0.0.1:9"}
    )
    assert proc.returncode == 1
    _no_traceback(proc)
    assert (
        "Missing required env var: ARA_API_KEY. No credentials found. "
        "Set ARA_API_KEY or run `ara auth login`."
    ) in proc.stderr


def test_input_json_that_is_not_an_object(cli):
    proc = cli("run", str(APPS / "calc_app.py"), "--input-json", "[1, 2]")
    assert proc.returncode == 1
    _no_traceback(proc)
    assert "--input-json must decode to a JSON object, got list" in proc.stderr


def test_manifest_rejected_by_the_server_names_the_json_path(cli, server):
    import httpx

    response = httpx.post(
        f"{server.base_url}/apps",
        headers={"Authorization": f"Bearer {server.owner_api_key}"},
        json={
            "slug": "bad-manifest",
            "name": "x",
            "workflows": [{"id": "w", "trigger": {"type": "cron", "cron": "0 25 * * *"}}],
        },
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_manifest"
    assert error["details"][0]["path"] == "$.workflows[0].trigger.cron"
    malformed = httpx.post(
        f"{server.base_url}/apps",
        headers={"Authorization": f"Bearer {server.owner_api_key}"},
        content=b"{not json",
    )
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "invalid_json"


def test_runtime_key_rate_limit_answers_429_with_retry_after(cli, server):
    import httpx

    assert cli("deploy", str(APPS / "calc_app.py"), "--rpm", "2").returncode == 0
    key = json.loads((cli.cwd / ".runtime-keys.local").read_text())["calc-e2e"]
    apps = httpx.get(
        f"{server.base_url}/apps", headers={"Authorization": f"Bearer {server.owner_api_key}"}
    ).json()["apps"]
    url = f"{server.base_url}/v1/apps/{apps[0]['id']}/runs/run-none"
    codes = [httpx.get(url, headers={"Authorization": f"Bearer {key}"}).status_code for _ in range(3)]
    assert codes[:2] == [404, 404] and codes[2] == 429
    limited = httpx.get(url, headers={"Authorization": f"Bearer {key}"})
    assert int(limited.headers["Retry-After"]) >= 1 and limited.json()["error"]["code"] == "rate_limited"
