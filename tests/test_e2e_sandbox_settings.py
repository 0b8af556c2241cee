"""A tool deployed to a real server cannot read the server's data dir (database, secrets key) nor
its environment, and runs under the limits and network setting the server was started with."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

SERVER_ONLY = "ARA_E2E_SERVER_ONLY_VALUE"

APP = '''
import ara_sdk as ara


@ara.tool
def probe(data_dir: str, server_port: str) -> dict:
    """Try to reach what belongs to the server."""
    import os
    import resource
    import socket

    seen = {}
    for name in ("ara.db", "secrets.key", "keys.pepper"):
        try:
            with open(os.path.join(data_dir, name), "rb") as f:
                seen[name] = "read %d bytes" % len(f.read())
        except OSError as exc:
            seen[name] = "refused: " + type(exc).__name__
    try:
        seen["listing"] = sorted(os.listdir(data_dir))
    except OSError as exc:
        seen["listing"] = "refused: " + type(exc).__name__
    seen["server_env"] = [k for k, v in os.environ.items() if "SERVER_ONLY" in k or "SERVER_ONLY" in v]
    seen["secrets_key_env"] = "ARA_SECRETS_KEY" in os.environ
    seen["nofile"] = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    seen["cpu"] = resource.getrlimit(resource.RLIMIT_CPU)[0]
    try:
        socket.create_connection(("127.0.0.1", int(server_port)), timeout=2).close()
        seen["server_port"] = "connected"
    except OSError as exc:
        seen["server_port"] = "refused: " + type(exc).__name__
    return {"seen": seen}


ara.Job("sandbox-probe", system_instructions="Probe with the probe tool.")
'''


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from ara_server import ServerThread, Settings

    # the server process's own environment: a marker and a secrets key the tool must not see
    monkeypatch.setenv("ARA_SECRETS_KEY_MARKER_SERVER_ONLY", SERVER_ONLY)
    settings = Settings(
        data_dir=tmp_path / "server-data",
        port=0,
        sandbox_open_files=77,
        sandbox_cpu_seconds=33,
        sandbox_network=False,
    )
    with ServerThread(settings) as srv:
        yield srv


def test_a_tool_cannot_read_the_data_dir_or_server_env_and_runs_under_the_settings(
    cli: Any, server: Any, tmp_path: Path
):
    from ara_server.engine import isolation_status

    if not isolation_status().isolated:
        pytest.skip(f"sandbox isolation unavailable here: {isolation_status().off}")
    data_dir: Path = server.settings.data_dir
    assert (data_dir / "ara.db").exists() and (data_dir / "secrets.key").exists()
    app = tmp_path / "probe_app.py"
    app.write_text(APP)
    proc = cli("deploy", str(app))
    assert proc.returncode == 0, proc.stderr
    port = server.base_url.rsplit(":", 1)[1]
    proc = cli("run", str(app), "--input", f"data_dir={data_dir}", "--input", f"server_port={port}")
    assert proc.returncode == 0, proc.stderr
    response = json.loads(proc.stdout)
    assert response["status"] == "completed", response
    calls = [e for e in response["trace"] if e["type"] == "tool_call"]
    seen = calls[0]["result"]["seen"]
    for name in ("ara.db", "secrets.key", "keys.pepper"):
        assert seen[name].startswith("refused"), seen
    # only the path down to the app's own workspace shows through the empty cover
    assert isinstance(seen["listing"], list) and set(seen["listing"]) <= {"apps"}, seen
    assert seen["server_env"] == [] and seen["secrets_key_env"] is False, seen
    assert os.environ.get("ARA_SECRETS_KEY_MARKER_SERVER_ONLY") == SERVER_ONLY  # the server did have it
    assert seen["nofile"] == 77 and seen["cpu"] == 33, seen
    assert seen["server_port"].startswith("refused"), seen  # network off: only the sandbox's own loopback


def test_bad_sandbox_settings_are_named(tmp_path: Path):
    from ara_server import Settings, SettingsError, sandbox_settings_from_env

    with pytest.raises(SettingsError) as caught:
        Settings(data_dir=tmp_path, sandbox_processes=0)
    assert caught.value.name == "sandbox_processes"
    with pytest.raises(SettingsError) as caught:
        sandbox_settings_from_env({"ARA_SANDBOX_MEMORY_BYTES": "lots"})
    assert caught.value.name == "ARA_SANDBOX_MEMORY_BYTES"
    assert sandbox_settings_from_env({"ARA_SANDBOX_MEMORY_BYTES": "512m", "ARA_SANDBOX_NETWORK": "off"}) == {
        "sandbox_memory_bytes": 512 * 1024 * 1024,
        "sandbox_network": False,
    }


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--sandbox-processes", "0"], {}, "--sandbox-processes"),
        ([], {"ARA_SANDBOX_NETWORK": "maybe"}, "ARA_SANDBOX_NETWORK"),
        ([], {"ARA_SANDBOX_MEMORY_BYTES": "-5"}, "ARA_SANDBOX_MEMORY_BYTES"),
    ],
)
def test_ara_server_names_a_bad_sandbox_setting(
    tmp_path: Path, args: list[str], env: dict[str, str], named: str
):
    import subprocess
    import sys

    from e2e_support import base_env

    proc = subprocess.run(
        [sys.executable, "-m", "ara_cli", "server", "--port", "0", "--data-dir", str(tmp_path / "d"), *args],
        env={**base_env(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and named in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
