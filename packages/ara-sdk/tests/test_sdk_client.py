"""AraClient and AraRuntimeClient against httpx.MockTransport: call sequences and payloads."""

import json

import httpx
import pytest
from ara_core import Secret, runtime
from ara_sdk import AraClient, AraRuntimeClient
from ara_sdk.errors import (
    AppExistsError,
    AppNotDeployedError,
    ChatError,
    ClientError,
    InvalidOptionError,
    MissingRuntimeKeyError,
)


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    """Keep `~/.ara` (the user runtime-key store) inside the test's directory."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("ARA_RUNTIME_KEY", "ARA_APP_HEADER_KEY", "ARA_API_KEY"):
        monkeypatch.delenv(name, raising=False)


class FakeApi:
    def __init__(self, apps=None, secrets=None, delete_status=200):
        self.calls: list[tuple[str, str, dict]] = []
        self.apps = apps or []
        self.remote_secrets = secrets or []
        self.delete_status = delete_status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        self.calls.append((request.method, request.url.path, body))
        path = request.url.path
        if path == "/apps" and request.method == "GET":
            return httpx.Response(200, json={"apps": self.apps})
        if path == "/apps" and request.method == "POST":
            return httpx.Response(201, json={"app": {"id": "app_1"}})
        if path.endswith("/keys"):
            return httpx.Response(201, json={"key": "ara_rk_new"})
        if path.endswith("/secrets") and request.method == "GET":
            return httpx.Response(200, json={"secrets": [{"name": n} for n in self.remote_secrets]})
        if "/secrets/" in path and request.method == "DELETE":
            return httpx.Response(self.delete_status, json={})
        if path.endswith("/run"):
            return httpx.Response(
                200,
                json={
                    "run_id": "run-1",
                    "auth": request.headers.get("authorization"),
                    "xkey": request.headers.get("x-ara-app-key"),
                },
            )
        return httpx.Response(200, json={"ok": True})


MANIFEST = {
    "name": "demo",
    "slug": "demo",
    "description": "",
    "agent": {},
    "workflows": [],
    "interfaces": {},
    "runtime_profile": {},
}


def _client(api, tmp_path, manifest=MANIFEST):
    return AraClient(
        manifest=manifest,
        api_key="ara_sk_x",
        base_url="https://api.test",
        cwd=tmp_path,
        transport=httpx.MockTransport(api),
    )


def test_deploy_creates_activates_syncs_mints_and_warms(tmp_path):
    profile = runtime(secrets=[Secret.from_dict("mail", {"K": "v"}), Secret.from_name("shared")])
    api = FakeApi(secrets=["mail", "stale", "shared"], delete_status=404)
    result = _client(api, tmp_path, {**MANIFEST, "runtime_profile": profile}).deploy(
        warm=True, warm_agent_id="a"
    )
    sequence = [(m, p) for m, p, _ in api.calls]
    assert sequence == [
        ("GET", "/apps"),
        ("POST", "/apps"),
        ("PATCH", "/apps/app_1"),
        ("POST", "/apps/app_1/secrets"),
        ("GET", "/apps/app_1/secrets"),
        ("DELETE", "/apps/app_1/secrets/stale"),
        ("POST", "/apps/app_1/keys"),
        ("POST", "/v1/apps/app_1/run"),
    ]
    create = api.calls[1][2]
    assert create["slug"] == "demo" and "__secret_definitions" not in create["runtime_profile"]
    assert create["runtime_profile"]["secret_refs"] == [{"name": "mail"}, {"name": "shared"}]
    assert api.calls[2][2] == {"status": "active"}
    assert api.calls[3][2] == {"name": "mail", "values": {"K": "v"}}
    assert api.calls[6][2] == {"name": "demo-py-local", "requests_per_minute": 60}
    assert api.calls[7][2] == {"agent_id": "a", "workflow_id": "a", "warmup": True, "input": {}}
    assert result["secrets"] == {"synced": ["mail"], "referenced_only": ["shared"]}
    assert result["runtime_key"] == "ara_rk_new" and result["runtime_key_created"] is True
    assert json.loads((tmp_path / ".runtime-keys.local").read_text()) == {"demo": "ara_rk_new"}
    assert (tmp_path / ".runtime-key.local").read_text() == "ara_rk_new\n"
    assert (tmp_path / ".runtime-keys.local").stat().st_mode & 0o777 == 0o600


def test_deploy_existing_app_patches_and_on_existing_error(tmp_path):
    api = FakeApi(apps=[{"id": "app_9", "slug": "demo", "role": "owner"}])
    _client(api, tmp_path).deploy()
    assert api.calls[1][:2] == ("PATCH", "/apps/app_9") and api.calls[1][2]["status"] == "active"
    with pytest.raises(
        AppExistsError, match=r"^Project 'demo' already exists for this account \(app_id=app_9\)\.$"
    ):
        _client(FakeApi(apps=[{"id": "app_9", "slug": "demo", "role": "owner"}]), tmp_path).deploy(
            on_existing="error"
        )
    with pytest.raises(InvalidOptionError, match="on_existing must be one of: update, error"):
        _client(api, tmp_path).deploy(on_existing="replace")


def test_run_key_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("ARA_RUNTIME_KEY", raising=False)
    monkeypatch.delenv("ARA_APP_HEADER_KEY", raising=False)
    api = FakeApi(
        apps=[
            {"id": "app_1", "slug": "demo", "role": "owner"},
            {"id": "app_2", "slug": "demo", "role": "member"},
        ]
    )
    client = _client(api, tmp_path)
    with pytest.raises(
        MissingRuntimeKeyError, match=r"^Missing runtime key\. Set ARA_RUNTIME_KEY, ARA_APP_HEADER_KEY"
    ):
        client.run(agent_id="a")
    (tmp_path / ".runtime-key.local").write_text("ignored\n")  # the older single-key file is never read
    with pytest.raises(MissingRuntimeKeyError):
        client.run(agent_id="a")
    (tmp_path / ".runtime-keys.local").write_text(json.dumps({"demo": "from-file"}))
    assert dict(client.run(agent_id="a"))["auth"] == "Bearer from-file"
    monkeypatch.setenv("ARA_RUNTIME_KEY", "from-env")
    assert dict(client.run(workflow_id="a"))["auth"] == "Bearer from-env"
    assert api.calls[-1][2] == {"agent_id": "a", "workflow_id": "a", "warmup": False, "input": {}}
    assert dict(client.run(agent_id="a", runtime_key="explicit"))["auth"] == "Bearer explicit"
    monkeypatch.setenv("ARA_APP_HEADER_KEY", "xk")
    response = dict(client.run(agent_id="a"))
    assert response["xkey"] == "xk" and response["auth"] is None
    assert all(p != "/v1/apps/app_2/run" for _, p, _ in api.calls)  # the caller's own app wins


def test_missing_app_says_not_deployed(tmp_path):
    with pytest.raises(AppNotDeployedError, match=r"^App 'demo' not found\. Deploy first\. ") as info:
        _client(FakeApi(), tmp_path).setup()
    assert info.value.base_url == "https://api.test" and isinstance(info.value, RuntimeError)


def test_run_async_validation(tmp_path):
    with pytest.raises(ClientError, match="requires --callback-url"):
        _client(FakeApi(), tmp_path).run_async(response_mode="webhook")
    with pytest.raises(ClientError, match="run_status requires run_id"):
        _client(FakeApi(), tmp_path).run_status(run_id=" ")


def test_chat_parses_the_sse_stream():
    events = [
        {"type": "reasoning-delta", "delta": "think"},
        {"type": "text-delta", "delta": "Hello "},
        {
            "type": "tool-input-available",
            "toolCallId": "t1",
            "toolName": "write_file",
            "input": {"path": "a"},
        },
        {"type": "tool-output-available", "toolCallId": "t1", "output": "File written."},
        {"type": "text-delta", "delta": "world"},
    ]
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + ": ping\n\ndata: [DONE]\n\n"
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, text=body, headers={"Content-Type": "text/event-stream"})

    rt = AraRuntimeClient(api_key="k", base_url="https://api.test", transport=httpx.MockTransport(handler))
    result = rt.chat(message="hi", model="openai/gpt-4o", conversation_id="c1")
    assert result == {
        "text": "Hello world",
        "tool_calls": [{"name": "write_file", "args": {"path": "a"}, "result": "File written."}],
        "reasoning": "think",
    }
    assert json.loads(seen[0].content) == {
        "messages": [{"role": "user", "content": "hi"}],
        "model": "openai/gpt-4o",
        "chatId": "c1",
    }
    assert seen[0].headers["accept"] == "text/event-stream"
    error = "data: " + json.dumps({"type": "error", "errorText": "boom"}) + "\n\n"
    rt = AraRuntimeClient(
        api_key="k",
        base_url="https://api.test",
        transport=httpx.MockTransport(
            lambda r: httpx.Response(200, text=error, headers={"Content-Type": "text/event-stream"})
        ),
    )
    with pytest.raises(ChatError, match="^boom$"):
        rt.chat(message="x")


def test_runtime_client_routes():
    seen = []

    def handler(request):
        seen.append(
            (request.method, str(request.url), json.loads(request.content) if request.content else None)
        )
        return (
            httpx.Response(204)
            if request.url.path == "/session/stop"
            else httpx.Response(200, json={"ok": True})
        )

    rt = AraRuntimeClient(api_key="k", base_url="https://api.test", transport=httpx.MockTransport(handler))
    assert rt.session_stop() == {"ok": True}
    rt.tools(session_id="s1", kind="builtin")
    rt.execute_tool(session_id="s1", tool_name="exec", args={"command": "ls"})
    rt.control_call(session_id="s1", action="list_windows")
    assert seen[1][1] == "https://api.test/session/runtime/tools?session_id=s1&kind=builtin"
    assert seen[2][2] == {
        "session_id": "s1",
        "tool_name": "exec",
        "args": {"command": "ls"},
        "agent_id": None,
    }
    assert seen[3][2] == {"session_id": "s1", "action": "list_windows", "args": {}, "timeout_ms": 8000}
