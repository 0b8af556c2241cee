"""A bounded schemathesis run (stateless: examples and fuzzing, a few cases per operation) over the
server's own /openapi.json against a live ara-server on loopback: no request may get a 5xx.

Streams (SSE) and the terminal (a command per request) are left out: they answer after a run or a
command ends, not per request; so is the API key rotation, which would log the fuzzer out."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from shutil import which
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e]

EXCLUDED = r"(/events$|/logs/stream$|^/chat$|/session/terminal/exec$|^/apps/api-key/rotate$)"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    from ara_server import ServerThread, Settings
    from ara_server.engine import OfflineProvider

    settings = Settings(data_dir=tmp_path / "server-data", port=0)
    with ServerThread(settings, provider=OfflineProvider()) as srv:
        owner = {"Authorization": f"Bearer {srv.owner_api_key}"}
        with httpx.Client(base_url=srv.base_url, headers=owner, timeout=60) as api:
            manifest = {
                "name": "fuzzed",
                "slug": "fuzzed",
                "agent": {
                    "agents": [
                        {
                            "id": "a",
                            "task": "Echo.",
                            "fastapi_endpoint": {
                                "type": "fastapi_endpoint",
                                "method": "POST",
                                "label": "hook",
                                "docs": True,
                                "auth": {"mode": "none", "header_name": "", "secret_env": ""},
                            },
                        }
                    ],
                    "default_agent_id": "a",
                    "tools": [],
                },
            }
            created = api.post("/apps", json=manifest)
            assert created.status_code == 201, created.text
            app_id = str(created.json()["app"]["id"])
            assert api.post("/session/start").status_code == 200
        yield srv, app_id


def test_schemathesis_finds_no_server_error(live: tuple[Any, str], tmp_path: Path):
    server, app_id = live
    command = [which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")]
    # path parameters are those of the deployed app and its endpoint, so their routes are reached too
    config = tmp_path / "schemathesis.toml"
    config.write_text(f'[parameters]\n"path.app_id" = "{app_id}"\n"path.label" = "hook"\n')
    proc = subprocess.run(
        [
            *command,
            "--config-file",
            str(config),
            "run",
            f"{server.base_url}/openapi.json",
            "--url",
            server.base_url,
            "-H",
            f"Authorization: Bearer {server.owner_api_key}",
            "--checks",
            "not_a_server_error",
            "--phases",
            "examples,fuzzing",
            "--max-examples",
            "8",
            "--seed",
            "20261126",
            "--exclude-path-regex",
            EXCLUDED,
            "--request-timeout",
            "60",
            "--workers",
            "1",
            "--generation-with-security-parameters",
            "false",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
