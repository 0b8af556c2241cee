"""Invites end to end: an invitee accepts with the token and gets the role's rights, enforced."""

from __future__ import annotations

import json

import httpx
import pytest
from e2e_support import APPS

pytestmark = pytest.mark.e2e


def _accept(server, token: str) -> str:
    response = httpx.post(f"{server.base_url}/auth/cli/invites/accept", json={"token": token})
    assert response.status_code == 200, response.text
    return response.json()["api_key"]


def test_viewer_reads_member_runs_and_tokens_are_single_use(cli, server):
    deployed = json.loads(cli("deploy", str(APPS / "calc_app.py")).stdout)
    app = str(APPS / "calc_app.py")
    viewer_invite = json.loads(cli("invite", app, "--email", "viewer@example.com").stdout)["invite"]
    member_invite = json.loads(
        cli("invite", app, "--email", "member@example.com", "--role", "member").stdout
    )["invite"]
    viewer_key = _accept(server, viewer_invite["invite_token"])
    member_key = _accept(server, member_invite["invite_token"])
    again = httpx.post(
        f"{server.base_url}/auth/cli/invites/accept", json={"token": viewer_invite["invite_token"]}
    )
    assert again.status_code == 404

    base = server.base_url
    app_id = deployed["app_id"]
    as_viewer = {"Authorization": f"Bearer {viewer_key}"}
    as_member = {"Authorization": f"Bearer {member_key}"}
    listing = httpx.get(f"{base}/apps", headers=as_viewer).json()["apps"]
    assert [(a["slug"], a["role"]) for a in listing] == [("calc-e2e", "viewer")]
    assert httpx.get(f"{base}/apps/{app_id}/setup", headers=as_viewer).status_code == 200
    assert (
        httpx.patch(f"{base}/apps/{app_id}", headers=as_viewer, json={"status": "inactive"}).status_code
        == 403
    )
    assert httpx.post(f"{base}/apps/{app_id}/keys", headers=as_viewer, json={}).status_code == 403
    assert (
        httpx.post(
            f"{base}/apps/{app_id}/invites", headers=as_member, json={"email": "x@example.com"}
        ).status_code
        == 403
    )
    run = {"agent_id": "calculator", "input": {"a": 1, "b": 2}}
    assert httpx.post(f"{base}/v1/apps/{app_id}/run", headers=as_viewer, json=run).status_code == 403
    ok = httpx.post(f"{base}/v1/apps/{app_id}/run", headers=as_member, json=run, timeout=60)
    assert ok.status_code == 200 and ok.json()["result"]["output_text"] == "The sum is 3."
    assert (
        httpx.patch(f"{base}/apps/{app_id}", headers=as_member, json={"status": "active"}).status_code == 200
    )


def test_accept_invite_from_the_cli(cli, server):
    app = str(APPS / "calc_app.py")
    assert cli("deploy", app).returncode == 0
    invite = json.loads(cli("invite", app, "--email", "friend@example.com", "--role", "member").stdout)[
        "invite"
    ]
    env = {"ARA_API_KEY": "", "ARA_API_BASE_URL": server.base_url}
    proc = cli("auth", "accept-invite", invite["invite_token"], env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["role"] == "member"
    who = json.loads(cli("auth", "whoami", env=env).stdout)
    assert who["user"]["email"] == "friend@example.com" and who["auth_source"] == "cli_api_key"
    again = cli("auth", "accept-invite", invite["invite_token"], env=env)
    assert again.returncode == 1 and "already used" in again.stderr
