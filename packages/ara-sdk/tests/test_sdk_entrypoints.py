"""Light imports, `python -m ara_sdk`, `python app.py <command>`, and the job-first helpers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import ara_sdk as ara
import pytest
from ara_sdk import App, load_app, run_auth_cli, run_cli, run_runtime_cli
from ara_sdk._cli_bridge import CliNotInstalledError
from ara_sdk._job import ConnectorRef, MissingSecretError

HEAVY = ("httpx", "httpx_sse", "click", "rich", "pygments", "ara_http", "ara_cli", "cyclopts")


def _python(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.mark.parametrize(
    "statement", ["from ara_sdk import App", "import ara_sdk", "import ara_sdk as ara; ara.Job"]
)
def test_importing_the_authoring_surface_loads_no_http_stack(statement: str) -> None:
    code = f"{statement}\nimport sys\nprint([m for m in sys.modules if m.split('.')[0] in {HEAVY!r}])"
    proc = _python("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_clients_import_on_first_use() -> None:
    code = "import sys, ara_sdk\nc = ara_sdk.AraClient\nprint(c.__name__, 'httpx' in sys.modules)"
    proc = _python("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["AraClient", "True"]


def test_older_generation_exports_are_importable() -> None:
    from ara_sdk import core

    assert (
        core.App is App and core.run_cli is run_cli and callable(run_auth_cli) and callable(run_runtime_cli)
    )
    with pytest.raises(AttributeError):
        _ = ara.NoSuchName  # type: ignore[attr-defined]


def test_python_dash_m_ara_sdk_runs_the_cli() -> None:
    proc = _python("-m", "ara_sdk", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "deploy" in proc.stdout and "auth" in proc.stdout


def test_python_dash_m_ara_sdk_without_the_cli_says_how_to_install(tmp_path: Path) -> None:
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text("import sys\nsys.modules['ara_cli'] = None\n")
    proc = _python("-m", "ara_sdk", "--help", env={"PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 1
    assert "pip install ara-cli" in proc.stderr and "Traceback" not in proc.stderr


def test_run_cli_without_the_cli_raises_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = tmp_path / "app.py"
    script.write_text('from ara_sdk import App\napp = App("bridge-app")\n')
    app = load_app(script)
    monkeypatch.setitem(sys.modules, "ara_cli", None)
    monkeypatch.delitem(sys.modules, "ara_cli.__main__", raising=False)
    with pytest.raises(CliNotInstalledError, match="pip install ara-cli"):
        run_cli(app, ["local"])


APP_WITH_RUN_CLI = """
from ara_sdk import App, run_cli

app = App("python-app-cli")


@app.local_entrypoint()
def main(input: dict) -> dict:
    return {"echo": input}


run_cli(app)  # unguarded on purpose: importing the file from the CLI must not recurse
"""

APP_WITH_METHOD = """
from ara_sdk import App

app = App("python-app-method")


@app.local_entrypoint()
def main(input: dict) -> dict:
    return {"doubled": {k: v * 2 for k, v in input.items()}}


if __name__ == "__main__":
    app.cli()
"""


@pytest.mark.parametrize(
    ("source", "expected"),
    [(APP_WITH_RUN_CLI, {"echo": {"x": "1"}}), (APP_WITH_METHOD, {"doubled": {"x": "11"}})],
)
def test_python_app_py_command_runs_the_cli_for_that_app(tmp_path: Path, source: str, expected: dict) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(source))
    proc = _python("app.py", "local", "--input", "x=1", "--json", cwd=tmp_path, env={"HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] is True and out["result"] == expected


def test_python_app_py_with_an_unknown_command_exits_non_zero(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(APP_WITH_RUN_CLI))
    proc = _python("app.py", "no-such-command", cwd=tmp_path, env={"HOME": str(tmp_path)})
    assert proc.returncode != 0 and "Traceback" not in proc.stderr


# ------------------------------------------------------------------------------ job-first helpers
def test_secret_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARA_TEST_SECRET", "s3")
    monkeypatch.delenv("ARA_TEST_MISSING", raising=False)
    assert ara.secret("ARA_TEST_SECRET") == "s3" and ara.secret("ARA_TEST_MISSING", "d") == "d"
    with pytest.raises(MissingSecretError, match="^Missing required secret: ARA_TEST_MISSING$"):
        ara.secret("ARA_TEST_MISSING")
    assert isinstance(MissingSecretError("x"), RuntimeError)
    assert ara.env("ARA_TEST_MISSING") == "" and ara.env("ARA_TEST_MISSING", "eu") == "eu"


def test_connector_references() -> None:
    ref = ara.connectors.Google_Calendar.Create_Event
    assert (
        str(ref) == "connector:googlecalendar:create_event"
        and repr(ref) == "<ara.connectors.googlecalendar.create_event>"
    )
    assert str(ara.connectors.gmail) == "connector:gmail" and ref == ConnectorRef(
        "googlecalendar", "create event"
    )
    with pytest.raises(ValueError, match="letters or digits"):
        ConnectorRef("--")


def test_a_job_file_loads_as_an_app_whether_or_not_the_job_is_assigned(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        "import ara_sdk as ara\n\n\n@ara.tool\ndef ping() -> str:\n    return 'pong'\n\n\n"
        "ara.Job('Ping Job', system_instructions='Ping.')\n"
    )
    first = load_app(script).manifest
    again = load_app(script).manifest  # loading twice does not register twice
    assert first == again
    assert first["slug"] == "ping-job" and [a["id"] for a in first["agent"]["agents"]] == ["Ping Job"]
    assert [t["function"]["name"] for t in first["agent"]["tools"]] == ["ping"]
    assert ping_is_callable(script)


def ping_is_callable(script: Path) -> bool:
    proc = _python("-c", f"import runpy; ns = runpy.run_path({str(script)!r}); print(ns['ping']())")
    return proc.returncode == 0 and proc.stdout.strip() == "pong"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"id": "  "}, "non-empty id"),
        ({"id": "j", "skills": ["connector:--"]}, "letters or digits"),
        ({"id": "j", "skills": "send_email"}, r"Job\(skills=...\) must be a list, got str"),
        ({"id": "j", "required_env": "TOKEN"}, r"Job\(required_env=...\) must be a list"),
        (
            {"id": "j", "required_env": ["bad key"]},
            r"Job\(required_env=...\): Invalid environment key: bad key",
        ),
        ({"id": "j", "required_env": ["ARA_TOKEN"]}, "Reserved environment key"),
        ({"id": "j", "execution": "fast"}, r"Job\(execution=...\) must be a dict"),
    ],
)
def test_bad_job_arguments_are_declaration_errors_naming_the_argument(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ara.Job(**kwargs)
