"""The typed HTTP boundary: every route that reads a JSON body decodes it into a named msgspec
Struct, /openapi.json lists that Struct (a `$ref` to a component with properties, never a generic
object) and a named response Struct; a body of the wrong shape is a 422 naming its JSON path; and
the real answers of the routes decode into the response Structs the document lists."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from ara_server.http import openapi
from openapi_spec_validator import validate
from starlette.routing import Route

#: Routes that take a POST but read no body.
NO_BODY = {
    ("POST", "/apps/api-key/rotate"),
    ("POST", "/session/start"),
    ("POST", "/session/stop"),
    ("POST", "/v1/apps/{app_id}/runs/{run_id}/cancel"),
}
#: Routes whose body is not JSON.
MULTIPART = {("POST", "/session/files/upload")}
#: The public endpoint route: its body is the agent's free-form input (any JSON object).
ENDPOINT = "/v1/apps/{app_id}/endpoints/{label}"


def _component(doc: dict[str, Any], schema: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ref = schema.get("$ref", "")
    assert ref.startswith("#/components/schemas/"), schema
    name = ref.rsplit("/", 1)[1]
    return name, doc["components"]["schemas"][name]


async def test_every_body_route_lists_a_named_request_struct_and_a_response_struct(server: Any):
    doc = (await server.client.get("/openapi.json")).json()
    validate(doc)
    checked = 0
    for route in server.app.routes:
        assert isinstance(route, Route)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            op = doc["paths"][route.path][method.lower()]
            assert (method, route.path) in openapi.OPERATIONS or route.path == ENDPOINT, (method, route.path)
            if method in ("POST", "PUT", "PATCH") and (method, route.path) not in NO_BODY | MULTIPART:
                schema = op["requestBody"]["content"]["application/json"]["schema"]
                name, component = _component(doc, schema)
                assert name != "Anything", (method, route.path)
                # a typed empty object (heartbeat, replay) lists no properties but refuses others
                assert route.path == ENDPOINT or "properties" in component, (method, route.path, name)
                checked += 1
            success = [v for k, v in op["responses"].items() if k.startswith("2")]
            assert len(success) == 1, (method, route.path)
            content = success[0].get("content", {})
            if "application/json" in content:
                name, _ = _component(doc, content["application/json"]["schema"])
                assert name != "Anything", (method, route.path)
            else:
                assert content, (method, route.path)  # a stream or a file, with its media type
    assert checked >= 20
    assert "Anything" not in doc["components"]["schemas"]
    for name in ("RunRequest", "EventRequest", "ChatRequest", "ControlCall", "AppUpdate", "Manifest"):
        assert doc["components"]["schemas"][name]["properties"], name


def _error(resp: Any) -> tuple[int, str, str]:
    body = resp.json()["error"]
    return resp.status_code, body["code"], body["message"]


@pytest.mark.parametrize(
    ("path", "body", "code", "where"),
    [
        ("/v1/apps/{app}/run", {"input": [1]}, "invalid_input", "$.input"),
        ("/v1/apps/{app}/run", {"warmup": "yes"}, "invalid_body", "$.warmup"),
        ("/v1/apps/{app}/run", {"agent_id": "a" * 257}, "invalid_body", "$.agent_id"),
        ("/v1/apps/{app}/runs", {"response_mode": "push"}, "invalid_body", "$.response_mode"),
        ("/v1/apps/{app}/runs", {"callback": "http://x"}, "invalid_body", "$.callback"),
        ("/v1/apps/{app}/runs", {"callback": {"url": 5}}, "invalid_body", "$.callback.url"),
        ("/v1/apps/{app}/runs", {"run_id": 5}, "invalid_body", "$.run_id"),
        ("/v1/apps/{app}/events", {"event_type": 5}, "invalid_event", "$.event_type"),
        ("/v1/apps/{app}/events", {"event_type": "x", "payload": [1]}, "invalid_event", "$.payload"),
        ("/v1/apps/{app}/events", {"event_type": "x", "source": [1]}, "invalid_event", "$.source"),
    ],
)
async def test_runtime_bodies_of_the_wrong_shape_are_422_naming_the_path(
    server: Any, path: str, body: dict[str, Any], code: str, where: str
):
    app_id = await server.deploy()
    key = await server.runtime_key(app_id)
    resp = await server.client.post(
        path.format(app=app_id), json=body, headers={"Authorization": f"Bearer {key}"}
    )
    status, got, message = _error(resp)
    assert (status, got) == (422, code), resp.text
    assert message.startswith(f"at `{where}`"), message


@pytest.mark.parametrize(
    ("method", "path", "body", "code", "where"),
    [
        ("POST", "/chat", {"messages": []}, "invalid_body", "$.messages"),
        ("POST", "/chat", {"messages": ["hi"]}, "invalid_body", "$.messages[0]"),
        ("POST", "/session/runtime/control/call", {"session_id": 5}, "invalid_body", "$.session_id"),
        ("PATCH", "/apps/{app}", {"status": "gone"}, "invalid_status", "$.status"),
        ("PATCH", "/apps/{app}", {"agent": 5}, "invalid_manifest", "$.agent"),
        ("PATCH", "/apps/{app}", {"workflows": {"id": "x"}}, "invalid_manifest", "$.workflows"),
    ],
)
async def test_account_bodies_of_the_wrong_shape_are_422_naming_the_path(
    server: Any, method: str, path: str, body: dict[str, Any], code: str, where: str
):
    app_id = await server.deploy()
    await server.client.post("/session/start", headers=server.owner())
    before = (await server.client.get(f"/apps/{app_id}/setup", headers=server.owner())).json()
    resp = await server.client.request(method, path.format(app=app_id), json=body, headers=server.owner())
    status, got, message = _error(resp)
    assert (status, got) == (422, code), resp.text
    assert message.startswith(f"at `{where}`"), message
    if method == "PATCH":  # nothing was deployed
        after = (await server.client.get(f"/apps/{app_id}/setup", headers=server.owner())).json()
        assert after == before


async def test_real_answers_decode_into_the_listed_response_structs(server: Any):
    c, owner = server.client, server.owner()
    app_id = await server.deploy()
    key = await server.runtime_key(app_id)
    await server.runtime_key(app_id, header=True)
    runtime = {"Authorization": f"Bearer {key}"}
    saved = await c.post(
        f"/apps/{app_id}/secrets", json={"name": "db", "values": {"URL": "x"}}, headers=owner
    )
    await c.post("/session/start", headers=owner)
    answers: list[tuple[str, str, Any]] = [
        ("GET", f"/apps/{app_id}/setup", None),
        ("GET", f"/apps/{app_id}/keys", None),
        ("GET", f"/apps/{app_id}/x-keys", None),
        ("GET", f"/apps/{app_id}/secrets", None),
        ("GET", f"/apps/{app_id}/webhook-secret", None),
        ("POST", f"/apps/{app_id}/invites", {"email": "v@example.com"}),
        ("POST", f"/apps/{app_id}/keys", {"name": "extra"}),
        ("PATCH", f"/apps/{app_id}", {"description": "typed"}),
        ("GET", "/session/runtime/capabilities", None),
        ("GET", "/session/runtime/skills", None),
        ("GET", "/session/runtime/tools", None),
        ("GET", "/session/runtime/control/actions", None),
        ("POST", "/session/runtime/tools/execute", {"tool_name": "list_dir", "args": {"path": "."}}),
    ]
    seen = [("POST", "/apps/{app_id}/secrets", saved)]
    for method, url, body in answers:
        resp = await c.request(method, url, json=body, headers=owner)
        seen.append((method, url, resp))
    for url, body in (
        (f"/v1/apps/{app_id}/run", {"input": {"text": "hi"}}),
        (f"/v1/apps/{app_id}/events", {"event_type": "ping"}),
    ):
        seen.append(("POST", url, await c.post(url, json=body, headers=runtime)))
    queued = await c.post(f"/v1/apps/{app_id}/runs", json={"input": {"text": "q"}}, headers=runtime)
    run_id = queued.json()["run_id"]
    seen.append(("POST", f"/v1/apps/{app_id}/runs", queued))
    for method, url in (
        ("GET", f"/v1/apps/{app_id}/runs/{run_id}"),
        ("GET", f"/v1/apps/{app_id}/runs"),
        ("POST", f"/v1/apps/{app_id}/runs/{run_id}/cancel"),
    ):
        seen.append((method, url, await c.request(method, url, headers=runtime)))
    invite = next(r for m, u, r in seen if u.endswith("/invites")).json()["invite"]
    extra = next(r for m, u, r in seen if u.endswith("/keys") and m == "POST").json()["id"]
    for method, url, body in (
        ("GET", "/auth/cli/whoami", None),
        ("GET", "/apps", None),
        ("GET", "/session/status", None),
        ("POST", "/session/start", None),
        ("DELETE", f"/apps/{app_id}/keys/{extra}", None),
        ("DELETE", f"/apps/{app_id}/secrets/db", None),
        ("POST", "/session/stop", None),
    ):
        seen.append((method, url, await c.request(method, url, json=body, headers=owner)))
    accept = await c.post("/auth/cli/invites/accept", json={"token": invite["invite_token"]})
    seen.append(("POST", "/auth/cli/invites/accept", accept))
    for method, url, resp in seen:
        assert resp.status_code < 300, (url, resp.text)
        template = url.replace(app_id, "{app_id}").replace(run_id, "{run_id}").replace(extra, "{key_id}")
        template = template.replace("/secrets/db", "/secrets/{name}")
        op = openapi.OPERATIONS[(method, template)]
        assert op.response is not None and op.response is not openapi.Anything, template
        msgspec.convert(resp.json(), op.response, strict=True)  # raises if the Struct misdescribes it


async def test_queries_are_listed_from_their_structs_and_decoded(server: Any):
    doc = (await server.client.get("/openapi.json")).json()
    tools = {p["name"]: p for p in doc["paths"]["/session/runtime/tools"]["get"]["parameters"]}
    assert set(tools["kind"]["schema"]["enum"]) == {"all", "builtin", "app", "connector"}
    assert "session_id" in tools
    logs = {p["name"] for p in doc["paths"]["/v1/apps/{app_id}/logs/stream"]["get"]["parameters"]}
    assert "follow" in logs
    for path, name in (
        ("/session/files", "path"),
        ("/session/files/read", "path"),
        ("/session/files/download", "path"),
        ("/v1/apps/{app_id}/runs/{run_id}/events", "last_event_id"),
        ("/automations/runs", "state"),
        ("/session/runtime/skills", "session_id"),
    ):
        assert name in {p["name"] for p in doc["paths"][path]["get"]["parameters"]}, path
    await server.client.post("/session/start", headers=server.owner())
    bad = await server.client.get("/session/runtime/tools?kind=all&kind=nope", headers=server.owner())
    status, code, message = _error(bad)
    assert (status, code) == (422, "invalid_kind") and message.startswith("at `kind`"), message
