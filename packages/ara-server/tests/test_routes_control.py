"""Control-plane routes in-process (httpx ASGITransport): success paths and the 400/401/403/404/
409/422 answers, each with the JSON error shape."""

from __future__ import annotations


def _code(resp) -> str:
    return resp.json()["error"]["code"]


async def test_whoami_needs_a_valid_api_key(server):
    c = server.client
    assert (await c.get("/auth/cli/whoami")).status_code == 401
    bad = await c.get("/auth/cli/whoami", headers={"Authorization": "Bearer ara_sk_nope"})
    assert (bad.status_code, _code(bad)) == (401, "unauthorized")
    ok = await c.get("/auth/cli/whoami", headers=server.owner())
    assert ok.status_code == 200 and ok.json()["user"]["email"] == "owner@localhost"


async def test_create_list_update_app(server):
    c = server.client
    app_id = await server.deploy()
    listed = (await c.get("/apps", headers=server.owner())).json()["apps"]
    assert [(a["id"], a["role"], a["status"]) for a in listed] == [(app_id, "owner", "inactive")]
    taken = await c.post("/apps", json=server.manifest(), headers=server.owner())
    assert (taken.status_code, _code(taken)) == (409, "slug_taken")
    active = await c.patch(f"/apps/{app_id}", json={"status": "active"}, headers=server.owner())
    assert active.status_code == 200 and active.json()["app"]["status"] == "active"
    bad_status = await c.patch(f"/apps/{app_id}", json={"status": "paused"}, headers=server.owner())
    assert (bad_status.status_code, _code(bad_status)) == (422, "invalid_status")
    missing = await c.patch("/apps/app_nope", json={"status": "active"}, headers=server.owner())
    assert (missing.status_code, _code(missing)) == (404, "not_found")


async def test_bad_bodies_are_4xx_naming_the_json_path(server):
    c = server.client
    not_json = await c.post(
        "/apps", content=b"{nope", headers={**server.owner(), "Content-Type": "application/json"}
    )
    assert (not_json.status_code, _code(not_json)) == (400, "invalid_json")
    not_object = await c.post("/apps", json=[1, 2], headers=server.owner())
    assert (not_object.status_code, _code(not_object)) == (400, "invalid_body")
    no_slug = await c.post("/apps", json={"name": "x"}, headers=server.owner())
    assert (no_slug.status_code, _code(no_slug)) == (422, "invalid_manifest")
    assert "$.slug" in no_slug.json()["error"]["message"]
    bad = server.manifest("bad-files")
    bad["runtime_profile"] = {"files": [{"path": "../escape.txt", "content": "x"}]}
    escaped = await c.post("/apps", json=bad, headers=server.owner())
    assert (escaped.status_code, _code(escaped)) == (422, "invalid_manifest")


async def test_keys_secrets_and_setup(server):
    c = server.client
    app_id = await server.deploy()
    await server.runtime_key(app_id)
    await server.runtime_key(app_id, header=True)
    bad_rpm = await c.post(f"/apps/{app_id}/keys", json={"requests_per_minute": 0}, headers=server.owner())
    assert (bad_rpm.status_code, _code(bad_rpm)) == (422, "invalid_body")
    x_keys = (await c.get(f"/apps/{app_id}/x-keys", headers=server.owner())).json()["keys"]
    assert len(x_keys) == 1 and x_keys[0]["is_active"]
    put = await c.post(
        f"/apps/{app_id}/secrets",
        json={"name": "mail", "values": {"TOKEN": "s3cret"}},
        headers=server.owner(),
    )
    assert put.status_code == 200 and put.json()["keys"] == ["TOKEN"]
    bad_name = await c.post(
        f"/apps/{app_id}/secrets", json={"name": "Bad Name!", "values": {"A": "b"}}, headers=server.owner()
    )
    assert (bad_name.status_code, _code(bad_name)) == (422, "invalid_secret")
    listed = (await c.get(f"/apps/{app_id}/secrets", headers=server.owner())).json()["secrets"]
    assert [s["name"] for s in listed] == ["mail"] and "s3cret" not in str(listed)
    setup = (await c.get(f"/apps/{app_id}/setup", headers=server.owner())).json()
    assert (setup["runtime_keys"], setup["secrets"], setup["agents"]) == (1, ["mail"], ["shouter"])
    assert (await c.delete(f"/apps/{app_id}/secrets/mail", headers=server.owner())).status_code == 200
    gone = await c.delete(f"/apps/{app_id}/secrets/mail", headers=server.owner())
    assert (gone.status_code, _code(gone)) == (404, "not_found")
    revoked = await c.delete(f"/apps/{app_id}/x-keys/{x_keys[0]['id']}", headers=server.owner())
    assert revoked.status_code == 200
    again = await c.delete(f"/apps/{app_id}/x-keys/{x_keys[0]['id']}", headers=server.owner())
    assert again.status_code == 200  # revoking twice is still that key
    unknown = await c.delete(f"/apps/{app_id}/x-keys/xk_nope", headers=server.owner())
    assert (unknown.status_code, _code(unknown)) == (404, "not_found")


async def test_roles_viewer_reads_member_writes_owner_invites(server):
    c = server.client
    app_id = await server.deploy()
    viewer = {"Authorization": f"Bearer {await server.api_key_for('v@example.com', app_id, 'viewer')}"}
    member = {"Authorization": f"Bearer {await server.api_key_for('m@example.com', app_id, 'member')}"}
    assert (await c.get(f"/apps/{app_id}/setup", headers=viewer)).status_code == 200
    denied = await c.post(f"/apps/{app_id}/keys", json={}, headers=viewer)
    assert (denied.status_code, _code(denied)) == (403, "forbidden")
    assert (await c.post(f"/apps/{app_id}/keys", json={}, headers=member)).status_code == 201
    not_owner = await c.post(f"/apps/{app_id}/invites", json={"email": "x@example.com"}, headers=member)
    assert (not_owner.status_code, _code(not_owner)) == (403, "forbidden")
    bad_role = await c.post(
        f"/apps/{app_id}/invites", json={"email": "x@example.com", "role": "admin"}, headers=server.owner()
    )
    assert (bad_role.status_code, _code(bad_role)) == (422, "invalid_invite")


async def test_invite_tokens_are_single_use(server):
    c = server.client
    app_id = await server.deploy()
    invite = await c.post(f"/apps/{app_id}/invites", json={"email": "a@example.com"}, headers=server.owner())
    token = invite.json()["invite"]["invite_token"]
    first = await c.post("/auth/cli/invites/accept", json={"token": token})
    assert first.status_code == 200 and first.json()["role"] == "viewer"
    second = await c.post("/auth/cli/invites/accept", json={"token": token})
    assert (second.status_code, _code(second)) == (404, "invite_not_found")
    empty = await c.post("/auth/cli/invites/accept", json={})
    assert (empty.status_code, _code(empty)) == (422, "invalid_body")


async def test_rotate_revokes_the_calling_key(server):
    c = server.client
    rotated = await c.post("/apps/api-key/rotate", headers=server.owner())
    assert rotated.status_code == 200
    assert (await c.get("/auth/cli/whoami", headers=server.owner())).status_code == 401
    new = {"Authorization": f"Bearer {rotated.json()['api_key']}"}
    assert (await c.get("/auth/cli/whoami", headers=new)).status_code == 200


async def test_health_unknown_routes_and_methods(server):
    c = server.client
    assert (await c.get("/healthz")).json() == {"ok": True}
    ready = (await c.get("/readyz")).json()
    assert ready["ok"] is True and set(ready["isolation"]) >= {"mechanism", "isolated", "off", "reason"}
    missing = await c.get("/nope")
    assert (missing.status_code, _code(missing)) == (404, "not_found")
    wrong = await c.delete("/apps")
    assert (wrong.status_code, _code(wrong)) == (405, "method_not_allowed")
