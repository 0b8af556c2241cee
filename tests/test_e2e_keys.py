"""`ara keys list|revoke` against a real ara-server: keys are listed without their secret part, and
a revoked runtime key stops working at once while the other keys keep working."""

from __future__ import annotations

import json

from e2e_support import APPS


def test_keys_are_listed_and_a_revoked_key_stops_working(cli):
    app = str(APPS / "calc_app.py")
    assert cli("deploy", app).returncode == 0
    auth = json.loads(cli("setup-auth", app).stdout)
    listed = cli("keys", "list", app)
    assert listed.returncode == 0, listed.stderr
    keys = json.loads(listed.stdout)
    assert keys["runtime_keys"] and keys["app_header_keys"]
    assert all("key" not in k for k in keys["runtime_keys"] + keys["app_header_keys"])
    assert auth["app_header_key"] not in listed.stdout
    header_id = auth["app_header_key_id"]
    ok = cli(
        "run",
        app,
        "--agent",
        "calculator",
        "--input",
        "a=1",
        "--input",
        "b=2",
        "--app-header-key",
        auth["app_header_key"],
    )
    assert ok.returncode == 0, ok.stderr
    revoked = cli("keys", "revoke", app, "--key-id", header_id)
    assert revoked.returncode == 0, revoked.stderr
    refused = cli(
        "run",
        app,
        "--agent",
        "calculator",
        "--input",
        "a=1",
        "--input",
        "b=2",
        "--app-header-key",
        auth["app_header_key"],
    )
    assert refused.returncode != 0 and "revoked" in (refused.stderr + refused.stdout).lower()
    still = cli("run", app, "--agent", "calculator", "--input", "a=1", "--input", "b=2")
    assert still.returncode == 0, still.stderr  # the runtime key of the deploy still works
    after = json.loads(cli("keys", "list", app).stdout)
    assert [k["is_active"] for k in after["app_header_keys"] if k["id"] == header_id] == [False]
    missing = cli("keys", "revoke", app, "--key-id", "rk_unknown")
    assert missing.returncode != 0
    empty = cli("keys", "revoke", app)
    assert empty.returncode != 0 and "--key-id" in empty.stderr


def test_a_redeploy_reuses_the_runtime_key_until_rotation_is_asked_for(cli):
    app = str(APPS / "calc_app.py")
    first = json.loads(cli("deploy", app).stdout)
    assert first["runtime_key_created"] is True
    for _ in range(3):
        again = json.loads(cli("deploy", app).stdout)
        assert again["runtime_key_created"] is False and again["runtime_key"] == first["runtime_key"]
    keys = json.loads(cli("keys", "list", app).stdout)["runtime_keys"]
    assert [k["is_active"] for k in keys] == [True]
    rotated = json.loads(cli("deploy", app, "--rotate-key").stdout)
    assert rotated["runtime_key_created"] is True and rotated["runtime_key"] != first["runtime_key"]
    old_id = keys[0]["id"]
    assert cli("keys", "revoke", app, "--key-id", old_id).returncode == 0
    after = json.loads(cli("deploy", app).stdout)
    assert after["runtime_key"] == rotated["runtime_key"] and after["runtime_key_created"] is False
    ran = cli("run", app, "--agent", "calculator", "--input", "a=1", "--input", "b=2")
    assert ran.returncode == 0, ran.stderr


def test_setup_auth_reuses_the_stored_runtime_key(cli):
    app = str(APPS / "calc_app.py")
    deployed = json.loads(cli("deploy", app).stdout)
    auth = json.loads(cli("setup-auth", app).stdout)
    assert auth["runtime_key_created"] is False and auth["runtime_key"] == deployed["runtime_key"]
    keys = json.loads(cli("keys", "list", app).stdout)["runtime_keys"]
    assert len(keys) == 1
