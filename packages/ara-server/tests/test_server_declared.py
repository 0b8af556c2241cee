"""What an app declares, run in-process with real sandboxed subprocesses: workflows of every mode on
request, pipelines that stop at the first failing step, command adapters fed over stdio (also from a
git artifact and a tarball artifact served on loopback), startup once per deployed version, deploy
warnings, per-app environments shared by identical package lists, and tool output in the app log."""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from ara_server.engine import environment_key

PRINT_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "noisy",
        "description": "Print, then answer.",
        "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
    },
    "function_name": "noisy",
    "source": "def noisy(n: int) -> dict:\n    print('noisy says', n)\n    return {'n': n + 1}\n",
}
FAIL_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {"name": "boom", "description": "", "parameters": {"type": "object", "properties": {}}},
    "function_name": "boom",
    "source": "def boom() -> dict:\n    raise ValueError('no')\n",
}


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def manifest_with(server: Any, **extra: Any) -> dict[str, Any]:
    """The server fixture's small app plus more tools, workflows or a runtime profile."""
    m = server.manifest(extra.pop("slug", "declared"))
    m["agent"]["tools"] = [*m["agent"]["tools"], PRINT_TOOL, FAIL_TOOL]
    m["workflows"] += extra.pop("workflows", [])
    m.update(extra)
    return m


async def _run(server: Any, app_id: str, key: str, target: str, **input: Any) -> dict[str, Any]:
    resp = await server.client.post(
        f"/v1/apps/{app_id}/run", json={"agent_id": target, "input": input}, headers=_bearer(key)
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


async def _logs(server: Any, app_id: str) -> list[dict[str, Any]]:
    logbus = server.app.state.services.logbus
    rows: list[dict[str, Any]] = []
    last = 0
    while batch := await logbus.after(app_id, last):
        rows += batch
        last = batch[-1]["id"]
    return rows


async def _wait_log(server: Any, app_id: str, event_type: str, count: int = 1) -> list[dict[str, Any]]:
    for _ in range(300):
        rows = [r for r in await _logs(server, app_id) if r["event_type"] == event_type]
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {event_type} log line")


async def test_every_workflow_mode_runs_on_request_and_pipelines_stop_at_the_first_failure(server):
    app_id = await server.deploy(
        manifest_with(
            server,
            workflows=[
                {
                    "id": "counted",
                    "mode": "pipeline",
                    "pipeline": [
                        {"id": "a", "kind": "tool", "tool_name": "noisy", "args": {"n": 1}},
                        {"id": "b", "kind": "tool", "tool_name": "shout", "args": {"text": "ok"}},
                    ],
                },
                {
                    "id": "breaks",
                    "mode": "pipeline",
                    "pipeline": [
                        {"id": "a", "kind": "tool", "tool_name": "boom", "args": {}},
                        {"id": "b", "kind": "tool", "tool_name": "noisy", "args": {"n": 1}},
                    ],
                },
                {"id": "cmd", "mode": "run", "run": {"command": "echo ran-$ARA_WORKFLOW_ID"}},
            ],
        )
    )
    key = await server.runtime_key(app_id)
    counted = await _run(server, app_id, key, "counted")
    assert (counted["status"], counted["workflow_id"]) == ("completed", "counted")
    assert [e["step_id"] for e in counted["trace"]] == ["a", "b"]
    assert counted["result"]["output_text"] == '{"reply": "OK"}'
    # What a tool prints is recorded under its call and written to the app log.
    assert counted["trace"][0]["logs"].strip() == "noisy says 1"
    lines = [r["message"] for r in await _logs(server, app_id) if r["event_type"] == "tool.output"]
    assert "noisy: noisy says 1" in lines

    breaks = await _run(server, app_id, key, "breaks")
    assert breaks["status"] == "failed" and "ValueError: no" in breaks["error"]
    assert [e["step_id"] for e in breaks["trace"]] == ["a"]  # the second step never ran

    cmd = await _run(server, app_id, key, "cmd")
    assert (cmd["status"], cmd["result"]["output_text"]) == ("completed", "ran-cmd\n")

    missing = await server.client.post(
        f"/v1/apps/{app_id}/run", json={"agent_id": "ghost"}, headers=_bearer(key)
    )
    assert missing.status_code == 404 and "workflows: shouter, on-ping, counted" in missing.text


def _git_repo(root: Path) -> Path:
    repo = root / "adapter-repo"
    (repo / "worker").mkdir(parents=True)
    (repo / "worker" / "agent.py").write_text(
        "import json, os, sys\n"
        "req = json.load(sys.stdin)\n"
        "print(json.dumps({'output_text': os.environ['AGENT_FRAMEWORK'] + ':' + req['input']['message']"
        " + ':' + req['agent_id']}))\n"
    )
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "add", "."], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-q", "-m", "worker"], check=True)
    return repo


@pytest.mark.skipif(shutil.which("git") is None, reason="git is needed for a git artifact")
async def test_a_command_adapter_from_a_git_artifact_answers_over_stdio(server, shared_dir):
    repo = _git_repo(shared_dir)  # the clone runs sandboxed, with a private /tmp
    adapter = {
        "type": "command",
        "framework": "langgraph",
        "transport": "stdio",
        "entrypoint": "python3 agent.py",
        "args": [],
        "artifact": {"type": "git", "repo_url": str(repo), "ref": "main", "subdir": "worker"},
        "env": {"AGENT_FRAMEWORK": "langgraph"},
    }
    app_id = await server.deploy(manifest_with(server, runtime_profile={"adapter": adapter}))
    key = await server.runtime_key(app_id)
    out = await _run(server, app_id, key, "shouter", message="hi")
    assert out["status"] == "completed", out
    assert out["result"]["output_text"] == "langgraph:hi:shouter"
    assert out["trace"][0]["type"] == "adapter"


async def test_a_broken_artifact_fails_the_deploy_with_its_path(server, tmp_path):
    artifact = {"type": "git", "repo_url": str(tmp_path / "nowhere"), "ref": "main", "subdir": ""}
    resp = await server.client.post(
        "/apps", json=manifest_with(server, runtime_profile={"artifacts": [artifact]}), headers=server.owner()
    )
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "artifact_unavailable"
    assert "$.runtime_profile.artifacts[0]" in resp.text


class _Tarball(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


async def test_runtime_artifacts_from_a_tarball_are_in_the_working_directory(server):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"from the tarball\n"
        info = tarfile.TarInfo("pkg-1.0/data.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    _Tarball.body = buf.getvalue()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Tarball)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/pkg.tar.gz"
        artifact = {"type": "tarball", "url": url, "strip_prefix": "pkg-1.0"}
        app_id = await server.deploy(
            manifest_with(
                server,
                runtime_profile={"artifacts": [artifact]},
                workflows=[
                    {"id": "read", "mode": "run", "run": {"command": 'cat "$ARA_ARTIFACT_DIRS/data.txt"'}}
                ],
            )
        )
        key = await server.runtime_key(app_id)
        out = await _run(server, app_id, key, "read")
        assert (out["status"], out["result"]["output_text"]) == ("completed", "from the tarball\n"), out
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_startup_runs_once_per_deployed_version_with_its_output_in_the_logs(server):
    profile = {
        "startup": {
            "entrypoint": "echo booted >> boots.txt; cat boots.txt; true",
            "shell": "bash",
            "args": [],
        }
    }
    app_id = await server.deploy({**server.manifest(), "runtime_profile": profile})
    done = await _wait_log(server, app_id, "startup.completed")
    assert len(done) == 1
    output = [r["message"] for r in await _logs(server, app_id) if r["event_type"] == "startup.output"]
    assert output == ["booted"]
    key = await server.runtime_key(app_id)
    first = await _run(server, app_id, key, "shouter", text="x")
    assert first["status"] == "completed", (first["error"], first["trace"])
    # The same version again: no second startup. A new version: one more.
    same = await server.client.patch(
        f"/apps/{app_id}", json={"runtime_profile": profile}, headers=server.owner()
    )
    assert same.status_code == 200
    await _run(server, app_id, key, "shouter", text="x")
    changed = {"startup": {**profile["startup"], "args": ["v2"]}}
    resp = await server.client.patch(
        f"/apps/{app_id}", json={"runtime_profile": changed}, headers=server.owner()
    )
    assert resp.status_code == 200
    assert len(await _wait_log(server, app_id, "startup.completed", count=2)) == 2
    await _run(server, app_id, key, "shouter", text="x")
    assert len([r for r in await _logs(server, app_id) if r["event_type"] == "startup.started"]) == 2


async def test_deploy_warnings_name_what_the_server_does_not_provide(server):
    m = manifest_with(
        server,
        interfaces={"tool_privileges": [{"toolkit": "gmail", "allowed_actions": ["send"]}]},
        runtime_profile={"image": "python:3.12-slim", "node_packages": ["left-pad"]},
    )
    m["agent"]["subagents"] = [{"id": "shouter", "workflow_id": "shouter", "channels": ["email", "sms"]}]
    resp = await server.client.post("/apps", json=m, headers=server.owner())
    assert resp.status_code == 201, resp.text
    paths = [w["path"] for w in resp.json()["warnings"]]
    assert paths == [
        "$.agent.subagents[0].channels[0]",
        "$.agent.subagents[0].channels[1]",
        "$.interfaces.tool_privileges[0]",
        "$.runtime_profile.image",
        "$.runtime_profile.node_packages",
    ]
    app_id = resp.json()["app"]["id"]
    clean = await server.client.patch(
        f"/apps/{app_id}",
        json={"interfaces": {}, "runtime_profile": {}, "agent": server.manifest()["agent"]},
        headers=server.owner(),
    )
    assert clean.status_code == 200 and clean.json()["warnings"] == []


def test_identical_package_lists_share_one_environment():
    assert environment_key(["b==1", "a"]) == environment_key(["a", "b==1", "a"])
    assert environment_key(["a"]) != environment_key(["a", "b==1"])


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv installs python_packages")
async def test_two_apps_with_the_same_packages_use_one_environment(server, settings):
    profile = {"python_packages": ["inflection==0.5.1"]}
    camel = {
        "type": "function",
        "function": {
            "name": "camel",
            "description": "",
            "parameters": {
                "type": "object",
                "properties": {"word": {"type": "string"}},
                "required": ["word"],
            },
        },
        "function_name": "camel",
        "source": (
            "def camel(word: str) -> str:\n    import inflection\n    return inflection.camelize(word)\n"
        ),
    }
    ids = []
    for slug in ("env-one", "env-two"):
        m = manifest_with(server, slug=slug, runtime_profile=profile)
        m["agent"]["tools"] = [camel]
        ids.append(await server.deploy(m))
    envs = [p for p in (settings.data_dir / "envs").iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert [p.name for p in envs] == [environment_key(["inflection==0.5.1"])]
    key = await server.runtime_key(ids[1])
    out = await _run(server, ids[1], key, "shouter", word="two_words")
    assert out["status"] == "completed", out
    assert out["result"]["tool_calls"][0]["result"] == "TwoWords"


async def test_a_runtime_block_of_the_wrong_shape_is_a_422_with_its_path(server):
    for profile, path in (
        ({"python_packages": "inflection"}, "$.runtime_profile"),
        ({"startup": {"entrypoint": 3}}, "$.runtime_profile"),
    ):
        resp = await server.client.post(
            "/apps", json={**server.manifest(), "runtime_profile": profile}, headers=server.owner()
        )
        assert resp.status_code == 422, resp.text
        assert path in resp.text
