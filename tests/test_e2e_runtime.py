"""The session runtime end to end: `ara start/status/stop`, `ara runtime ...` and
`AraRuntimeClient.chat` against a real ara-server."""

from __future__ import annotations

import json

import pytest
from ara_sdk import AraRuntimeClient

pytestmark = pytest.mark.e2e


def _json(proc) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_session_lifecycle_and_runtime_commands(cli):
    assert _json(cli("status"))["status"] == "none"
    started = _json(cli("start"))
    sid = started["session_id"]
    assert started["status"] == "running" and sid.startswith("sess_")
    assert _json(cli("session", "start"))["session_id"] == sid  # idempotent while running
    assert _json(cli("runtime", "session", "status"))["status"] == "running"

    caps = _json(cli("runtime", "capabilities", "--session", sid))
    assert caps["session_id"] == sid and "exec" in caps["tools"] and caps["control"]["connected"] is False
    assert _json(cli("runtime", "skills", "list", "--session", sid))["session_id"] == sid
    builtin = _json(cli("runtime", "tools", "list", "--session", sid, "--kind", "builtin"))["tools"]
    assert {"read_file", "write_file", "exec"} <= {t["name"] for t in builtin}

    wrote = _json(
        cli(
            "runtime",
            "tools",
            "execute",
            "--session",
            sid,
            "--tool",
            "write_file",
            "--arg",
            "path=notes/hello.txt",
            "--arg",
            "content=hi from ara",
        )
    )
    assert wrote["result"] == "File written."
    read = _json(
        cli(
            "runtime",
            "tools",
            "execute",
            "--session",
            sid,
            "--tool",
            "read_file",
            "--arg",
            "path=notes/hello.txt",
        )
    )
    assert read["result"] == "hi from ara"
    ran = _json(
        cli(
            "runtime",
            "tools",
            "execute",
            "--session",
            sid,
            "--tool",
            "exec",
            "--arg",
            "command=cat notes/hello.txt; echo $PWD",
        )
    )
    assert ran["result"]["exit_code"] == 0 and ran["result"]["stdout"].startswith("hi from ara")
    escape = cli(
        "runtime",
        "tools",
        "execute",
        "--session",
        sid,
        "--tool",
        "read_file",
        "--arg",
        "path=../../etc/passwd",
    )
    assert escape.returncode == 1 and "outside the session workspace" in escape.stderr
    missing = cli("runtime", "tools", "execute", "--session", sid)
    assert missing.returncode == 1 and "tools execute requires --tool" in missing.stderr

    assert _json(cli("runtime", "control", "actions", "--session", sid)) == {"actions": []}
    call = cli("runtime", "control", "call", "--session", sid, "--action", "list_windows")
    assert call.returncode == 1 and "(409)" in call.stderr
    wrong = cli("runtime", "capabilities", "--session", "sess_nope")
    assert wrong.returncode == 1 and "(404)" in wrong.stderr

    assert _json(cli("stop"))["status"] == "stopped"
    assert _json(cli("status"))["status"] == "stopped"


def test_runtime_without_credentials_says_so(cli):
    proc = cli(
        "runtime",
        "capabilities",
        "--session",
        "s",
        env={"ARA_API_KEY": "", "ARA_API_BASE_URL": "http://127.0.0.1:9"},
    )
    assert proc.returncode == 1
    assert "ara runtime: Missing required env var: ARA_API_KEY." in proc.stderr


def test_chat_streams_through_the_agent_loop(server):
    with AraRuntimeClient(api_key=server.owner_api_key, base_url=server.base_url) as rt:
        result = rt.chat(message="hello there")
    # The offline provider calls the first builtin tool whose required parameters it can fill:
    # list_dir needs none, so it lists the (empty) workspace and answers with that result.
    assert result["tool_calls"] == [{"name": "list_dir", "args": {}, "result": []}]
    assert result["text"] == "[]"
