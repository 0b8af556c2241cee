"""A tool that uses modules imported only at its file's top (`import ara_sdk as ara`, `import json`)
runs on a real server although the manifest carries the function's source alone."""

from __future__ import annotations

import json

import pytest
from e2e_support import APPS

pytestmark = pytest.mark.e2e


def test_tool_uses_ara_and_json_imported_at_module_top(cli, server):
    env = {"JOB_TOKEN": "tok-123456"}
    proc = cli("deploy", str(APPS / "job_toplevel_import_app.py"), env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True

    proc = cli("run", str(APPS / "job_toplevel_import_app.py"), "--input", "word=hello", env=env)
    assert proc.returncode == 0, proc.stderr
    response = json.loads(proc.stdout)
    calls = [entry for entry in response["trace"] if entry["type"] == "tool_call"]
    assert [c["tool"] for c in calls] == ["sign"], response
    assert response["status"] == "completed", response
    assert calls[0]["result"] == {"signed": json.dumps(["hello", "654321-kot"]), "region": "eu"}


def test_a_name_no_module_provides_is_still_a_name_error(cli, server, tmp_path):
    app = tmp_path / "unknown_name_app.py"
    app.write_text(
        "import ara_sdk as ara\n\n\n"
        "@ara.tool\n"
        "def broken(word: str) -> dict:\n"
        '    """Use a name nothing defines."""\n'
        "    return {'x': no_such_module_anywhere.value}\n\n\n"
        'ara.Job("job-unknown-name", system_instructions="Call broken.")\n'
    )
    assert cli("deploy", str(app)).returncode == 0
    proc = cli("run", str(app), "--input", "word=hi")
    response = json.loads(proc.stdout)
    assert response["status"] == "failed", response
    calls = [entry for entry in response["trace"] if entry["type"] == "tool_call"]
    assert "NameError" in json.dumps(calls) and "no_such_module_anywhere" in json.dumps(calls), calls
