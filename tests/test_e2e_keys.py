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
