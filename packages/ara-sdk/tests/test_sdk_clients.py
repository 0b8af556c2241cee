"""AraClient and AsyncAraClient: typed errors, app id cached, invitees, runtime keys by app directory."""

import asyncio
import json

import httpx
import pytest
from ara_core import Secret, runtime
from ara_sdk import AraClient, AsyncAraClient
from ara_sdk.errors import (
    AppNotDeployedError,
    MissingCredentialsError,
    MissingRuntimeKeyError,
    PermissionDeniedError,
    ProjectNameTakenError,
    SecretRoutesMissingError,
)

MANIFEST = {
    "name": "demo",
    "slug": "demo",
    "description": "",
    "agent": {},
    "workflows": [],
    "interfaces": {},
    "runtime_profile": {},
}


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in (
        "ARA_RUNTIME_KEY",
        "ARA_APP_HEADER_KEY",
        "ARA_API_KEY",
        "ARA_ACCESS_TOKEN",
        "ARA_API_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)


class Server:
    """A fake Ara API: records every request, answers like ara-server."""

    def __init__(self, apps=None, *, create_status=201, secrets_status=200, viewer_run_forbidden=True):
        self.apps = list(apps or [])
        self.requests: list[httpx.Request] = []
        self.create_status = create_status
        self.secrets_status = secrets_status
        self.viewer_run_forbidden = viewer_run_forbidden

    def count(self, method, path):
        return sum(1 for r in self.requests if (r.method, r.url.path) == (method, path))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path, request.method
        body = json.loads(request.content) if request.content else {}
        auth = request.headers.get("authorization", "")
        if path == "/apps" and method == "GET":
            return httpx.Response(200, json={"apps": self.apps})
        if path == "/apps" and method == "POST":
            if self.create_status != 201:
                return httpx.Response(
                    self.create_status, json={"error": {"code": "slug_taken", "message": "taken"}}
                )
            self.apps.append({"id": "app_new", "slug": body["slug"], "role": "owner"})
            return httpx.Response(201, json={"ok": True, "app": {"id": "app_new", "slug": body["slug"]}})
        if path.endswith("/secrets"):
            if self.secrets_status != 200:
                return httpx.Response(self.secrets_status, json={})
            return httpx.Response(200, json={"secrets": [{"name": "mail"}]})
        if path.endswith("/keys"):
            return httpx.Response(201, json={"key": "ara_rk_minted", "id": "k1", "key_prefix": "ara_rk_m"})
        if path.endswith("/run"):
            if auth == "Bearer viewer-token" and self.viewer_run_forbidden:
                return httpx.Response(
                    403, json={"error": {"code": "forbidden", "message": "viewers cannot run this app"}}
                )
            return httpx.Response(
                200,
                json={"ok": True, "run_id": "run-1", "status": "completed", "result": {"output_text": auth}},
            )
        if path.endswith("/runs"):
            return httpx.Response(
                202, json={"ok": True, "run": {"run_id": body.get("run_id", "r")}, "created": True}
            )
        if "/runs/" in path:
            return httpx.Response(
                200, json={"ok": True, "run": {"run_id": path.rsplit("/", 1)[1], "status": "completed"}}
            )
        if path.endswith("/events"):
            return httpx.Response(202, json={"ok": True, "event_id": "ev1", "echo": body})
        if path.endswith("/logs/stream"):
            rows = [
                {"id": 1, "level": "info", "message": "one"},
                {"id": 2, "level": "info", "message": "two"},
            ]
            text = "".join(f"data: {json.dumps(r)}\n\n" for r in rows)
            return httpx.Response(200, text=text, headers={"Content-Type": "text/event-stream"})
        return httpx.Response(200, json={"ok": True, "path": path})


def _client(server, tmp_path, *, api_key="owner-token", app_dir=None, cwd=None, manifest=MANIFEST):
    return AraClient(
        manifest=manifest,
        api_key=api_key,
        base_url="https://api.test",
        cwd=cwd or tmp_path,
        app_dir=app_dir,
        transport=httpx.MockTransport(server),
    )


def test_app_id_is_resolved_once_per_client(tmp_path):
    server = Server([{"id": "app_1", "slug": "demo", "role": "owner"}])
    client = _client(server, tmp_path)
    client.run(agent_id="a", runtime_key="k")
    client.events(agent_id="a", runtime_key="k", idempotency_key="idem-1")
    client.run_async(agent_id="a", runtime_key="k", run_id="r1")
    client.run_status(run_id="r1", runtime_key="k")
    client.setup()
    assert list(client.logs(runtime_key="k")) == [
        {"id": 1, "level": "info", "message": "one"},
        {"id": 2, "level": "info", "message": "two"},
    ]
    assert client.app_id() == "app_1"
    assert server.count("GET", "/apps") == 1
    event = next(r for r in server.requests if r.url.path.endswith("/events"))
    assert event.headers["x-idempotency-key"] == "idem-1"
    assert json.loads(event.content)["agent_id"] == "a"


def test_deploy_caches_the_new_app_id(tmp_path):
    server = Server()
    client = _client(server, tmp_path)
    deployed = client.deploy()
    assert deployed["app_id"] == "app_new"
    response = client.run(agent_id="a")  # the key deploy stored
    assert response["result"]["output_text"] == "Bearer ara_rk_minted"
    assert server.count("GET", "/apps") == 1


def test_invitee_member_runs_with_its_own_token(tmp_path):
    server = Server([{"id": "app_7", "slug": "demo", "role": "member"}])
    client = _client(server, tmp_path, api_key="member-token")
    assert client.run(agent_id="a")["result"]["output_text"] == "Bearer member-token"
    assert client.setup()["path"] == "/apps/app_7/setup"


def test_invitee_viewer_gets_the_servers_refusal_as_a_typed_error(tmp_path):
    server = Server([{"id": "app_7", "slug": "demo", "role": "viewer"}])
    client = _client(server, tmp_path, api_key="viewer-token")
    with pytest.raises(PermissionDeniedError) as info:
        client.run(agent_id="a")
    assert info.value.server_message == "viewers cannot run this app"
    assert client.setup()["path"] == "/apps/app_7/setup"  # reading is allowed


def test_own_app_wins_over_a_shared_one_with_the_same_slug(tmp_path):
    server = Server(
        [{"id": "shared", "slug": "demo", "role": "member"}, {"id": "mine", "slug": "demo", "role": "owner"}]
    )
    assert _client(server, tmp_path).app_id() == "mine"


def test_runtime_key_is_found_by_app_directory_from_anywhere(tmp_path):
    app_dir, deploy_cwd, other_cwd = tmp_path / "apps" / "chain", tmp_path / "a", tmp_path / "b"
    for d in (app_dir, deploy_cwd, other_cwd):
        d.mkdir(parents=True)
    server = Server()
    _client(server, tmp_path, app_dir=app_dir, cwd=deploy_cwd).deploy()
    assert json.loads((deploy_cwd / ".runtime-keys.local").read_text()) == {"demo": "ara_rk_minted"}
    elsewhere = _client(server, tmp_path, app_dir=app_dir, cwd=other_cwd)
    assert elsewhere.run(agent_id="a")["result"]["output_text"] == "Bearer ara_rk_minted"
    # Another app file with the same slug, in another directory, has no key.
    other_app = tmp_path / "apps" / "other"
    other_app.mkdir()
    with pytest.raises(MissingRuntimeKeyError) as info:
        _client(server, tmp_path, app_dir=other_app, cwd=other_cwd).run(agent_id="a")
    assert str(other_app) in info.value.searched[0]
    assert info.value.args[0].startswith(
        "Missing runtime key. Set ARA_RUNTIME_KEY, ARA_APP_HEADER_KEY, or run deploy/setup-auth first. "
        "App 'demo' is deployed, but no runtime key"
    )


def test_not_deployed_and_missing_key_are_different_errors(tmp_path):
    with pytest.raises(AppNotDeployedError) as not_deployed:
        _client(Server(), tmp_path).run(agent_id="a")
    assert not_deployed.value.args[0] == (
        "App 'demo' not found. Deploy first. It is not deployed on https://api.test "
        "(nor shared with this account): run `ara deploy <app.py>`."
    )
    with pytest.raises(MissingRuntimeKeyError):
        _client(Server([{"id": "app_1", "slug": "demo", "role": "owner"}]), tmp_path).run(agent_id="a")


def test_conflict_and_missing_secret_routes_are_typed(tmp_path):
    with pytest.raises(ProjectNameTakenError, match="^Project name is already taken"):
        _client(Server(create_status=409), tmp_path).deploy()
    profile = runtime(secrets=[Secret.from_dict("mail", {"K": "v"})])
    with pytest.raises(SecretRoutesMissingError, match="lacks the App SDK secret routes"):
        _client(
            Server(secrets_status=404), tmp_path, manifest={**MANIFEST, "runtime_profile": profile}
        ).deploy()


def test_http_property_has_the_originals_methods(tmp_path):
    server = Server([{"id": "app_1", "slug": "demo", "role": "owner"}])
    client = _client(server, tmp_path)
    assert client.http.list_secrets("app_1") == {"secrets": [{"name": "mail"}]}
    assert client.http.list_apps()["apps"][0]["id"] == "app_1"
    client.http.upsert_secret("app_1", name="mail", values={"K": "v"})
    client.http.delete_secret("app_1", "old/name")
    paths = [(r.method, r.url.raw_path.decode()) for r in server.requests]
    assert paths[-2:] == [("POST", "/apps/app_1/secrets"), ("DELETE", "/apps/app_1/secrets/old%2Fname")]
    assert json.loads(server.requests[-2].content) == {"name": "mail", "values": {"K": "v"}}
    run = client.http.run_app("app_1", runtime_key="rk", agent_id="a", input_payload={"x": 1})
    assert run["result"]["output_text"] == "Bearer rk"
    assert json.loads(server.requests[-1].content) == {
        "agent_id": "a",
        "workflow_id": "a",
        "warmup": False,
        "input": {"x": 1},
    }


def test_from_env_without_credentials_names_the_server_and_the_ways_in(tmp_path, monkeypatch):
    monkeypatch.setenv("ARA_API_BASE_URL", "http://127.0.0.1:9")
    with pytest.raises(MissingCredentialsError) as info:
        AraClient.from_env(manifest=MANIFEST, cwd=tmp_path)
    assert info.value.base_url == "http://127.0.0.1:9"
    assert info.value.args[0].startswith("Missing required env var: ARA_API_KEY. No credentials found.")
    assert (
        "No credentials for http://127.0.0.1:9; to work locally, start a server with `ara dev`"
        in info.value.args[0]
    )


def test_from_env_resolves_the_token_per_request(tmp_path, monkeypatch):
    monkeypatch.setenv("ARA_API_BASE_URL", "https://api.test")
    monkeypatch.setenv("ARA_API_KEY", "first")
    server = Server([{"id": "app_1", "slug": "demo", "role": "owner"}])
    client = AraClient.from_env(manifest=MANIFEST, cwd=tmp_path, transport=httpx.MockTransport(server))
    client.http.list_apps()
    monkeypatch.setenv("ARA_API_KEY", "second")
    client.http.list_apps()
    assert [r.headers["authorization"] for r in server.requests] == ["Bearer first", "Bearer second"]


def test_async_client_awaits_real_requests(tmp_path):
    server = Server()
    seen_tasks = set()

    async def handler(request: httpx.Request) -> httpx.Response:
        seen_tasks.add(id(asyncio.current_task()))
        await asyncio.sleep(0)
        return server(request)

    async def main():
        async with AsyncAraClient(
            manifest=MANIFEST,
            api_key="owner-token",
            base_url="https://api.test",
            cwd=tmp_path,
            transport=httpx.MockTransport(handler),
        ) as client:
            deployed = await client.deploy()
            runs = await asyncio.gather(*(client.run(agent_id="a", input_payload={"i": i}) for i in range(3)))
            status = await client.run_status(run_id="r9")
            event = await client.events(agent_id="a", message="hi")
            rows = [row async for row in client.logs()]
            secrets = await client.http.list_secrets(deployed["app_id"])
            return deployed, runs, status, event, rows, secrets

    deployed, runs, status, event, rows, secrets = asyncio.run(main())
    assert deployed["runtime_key"] == "ara_rk_minted"
    assert [r["result"]["output_text"] for r in runs] == ["Bearer ara_rk_minted"] * 3
    assert status["run"]["status"] == "completed" and event["event_id"] == "ev1"
    assert [r["message"] for r in rows] == ["one", "two"] and secrets["secrets"][0]["name"] == "mail"
    assert server.count("GET", "/apps") == 1
    assert len(seen_tasks) >= 3  # the gathered runs were sent from concurrent tasks, not threads


#: The public methods of the original SDK's `client.http` (0.1.45 and 0.1.58, observed).
ORIGINAL_HTTP_METHODS = [
    "cli_auth_config",
    "cli_auth_device_start",
    "cli_auth_device_status",
    "cli_whoami",
    "connect_exchange",
    "connect_token",
    "create_app",
    "create_key",
    "create_x_key",
    "delete_secret",
    "get_async_run_status",
    "invite",
    "list_apps",
    "list_secrets",
    "list_x_keys",
    "revoke_x_key",
    "rotate_api_key",
    "run_app",
    "send_event",
    "setup",
    "stream_logs",
    "submit_async_run",
    "update_app",
    "upsert_secret",
]


def test_sync_and_async_http_have_every_method_of_the_original(tmp_path):
    import inspect

    sync = _client(Server(), tmp_path).http
    asynchronous = AsyncAraClient(
        manifest=MANIFEST, api_key="k", base_url="https://api.test", cwd=tmp_path
    ).http
    for name in ORIGINAL_HTTP_METHODS:
        assert callable(getattr(sync, name)), name
        method = getattr(asynchronous, name)
        assert inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method), name


def test_cli_auth_routes_send_no_authorization(tmp_path):
    server = Server()
    http = _client(server, tmp_path).http
    http.cli_auth_config()
    http.cli_auth_device_status(session_id="s 1", poll_token="p/2")
    assert all("authorization" not in r.headers for r in server.requests)
    assert server.requests[-1].url.raw_path == b"/auth/cli/device/status?session_id=s%201&poll_token=p%2F2"


def test_async_from_env_resolves_the_token_per_request(tmp_path, monkeypatch):
    monkeypatch.setenv("ARA_API_BASE_URL", "https://api.test")
    monkeypatch.setenv("ARA_API_KEY", "async-key")
    server = Server([{"id": "app_1", "slug": "demo", "role": "owner"}])

    async def main():
        client = AsyncAraClient.from_env(
            manifest=MANIFEST, cwd=tmp_path, transport=httpx.MockTransport(server)
        )
        try:
            return await client.app_id()
        finally:
            await client.aclose()

    assert asyncio.run(main()) == "app_1"
    assert server.requests[0].headers["authorization"] == "Bearer async-key"


@pytest.mark.parametrize(
    "listing",
    [
        {"apps": 3},
        {"apps": "demo"},
        {"apps": [1, None, "x", {"slug": "demo"}, {"slug": "demo", "id": ""}, {"slug": "demo", "id": [7]}]},
        ["not", "an", "object"],
        "plain text",
    ],
)
def test_malformed_app_listings_mean_not_deployed(tmp_path, listing):
    def handler(request):
        return httpx.Response(200, json=listing)

    client = AraClient(
        manifest=MANIFEST,
        api_key="k",
        base_url="https://api.test",
        cwd=tmp_path,
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(AppNotDeployedError):
        client.setup()


def test_deploy_answers_without_ids_or_keys_are_errors_not_crashes(tmp_path):
    from ara_sdk.errors import ClientError

    def no_id(request):
        if request.url.path == "/apps" and request.method == "GET":
            return httpx.Response(200, json={"apps": []})
        return httpx.Response(201, text="<html>ok</html>")

    client = AraClient(
        manifest=MANIFEST,
        api_key="k",
        base_url="https://api.test",
        cwd=tmp_path,
        transport=httpx.MockTransport(no_id),
    )
    with pytest.raises(ClientError, match="^deploy failed: missing app id$"):
        client.deploy()

    def no_key(request):
        if request.url.path == "/apps":
            return httpx.Response(
                200 if request.method == "GET" else 201, json={"apps": [], "app": {"id": "a1"}}
            )
        return httpx.Response(201, json={"key": None})

    client = AraClient(
        manifest=MANIFEST,
        api_key="k",
        base_url="https://api.test",
        cwd=tmp_path,
        transport=httpx.MockTransport(no_key),
    )
    with pytest.raises(ClientError, match="^deploy failed: runtime key missing$"):
        client.deploy()


def test_a_404_forgets_the_cached_app_id(tmp_path):
    server = Server([{"id": "old", "slug": "demo", "role": "owner"}])
    served = {"n": 0}

    def handler(request):
        if request.url.path == "/apps/old/setup":
            served["n"] += 1
            server.apps = [{"id": "new", "slug": "demo", "role": "owner"}]  # deleted and deployed again
            return httpx.Response(
                404, json={"error": {"code": "not_found", "message": "app 'old' not found"}}
            )
        return server(request)

    client = AraClient(
        manifest=MANIFEST,
        api_key="k",
        base_url="https://api.test",
        cwd=tmp_path,
        transport=httpx.MockTransport(handler),
    )
    from ara_sdk.errors import NotFoundError

    with pytest.raises(NotFoundError):
        client.setup()
    assert client.setup()["path"] == "/apps/new/setup"
    assert served["n"] == 1


def test_runtime_client_from_env_resolves_the_token_per_request(tmp_path, monkeypatch):
    from ara_sdk import AraRuntimeClient

    monkeypatch.setenv("ARA_API_BASE_URL", "https://api.test")
    monkeypatch.setenv("ARA_API_KEY", "one")
    seen: list[str] = []

    def handler(request):
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json={"ok": True})

    rt = AraRuntimeClient.from_env(cwd=tmp_path, transport=httpx.MockTransport(handler))
    rt.session_status()
    monkeypatch.setenv("ARA_API_KEY", "two")
    rt.session_status()
    rt.close()
    assert seen == ["Bearer one", "Bearer two"]
