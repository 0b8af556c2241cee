"""Fault tests of the run lifecycle with real `ara server` processes sharing one database: `kill -9`
of a node during 200 async and 10 sync runs, and a refused start with another secrets key."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from e2e_support import base_env

OWNER_KEY = "ara_owner_lifecycle_test_0123456789abcdef"
#: Lease of the test nodes, in seconds (short, so a dead node's runs come back quickly).
LEASE_SECONDS = 2.0


def _backends() -> list[Any]:
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=pytest.mark.skipif(
                not os.environ.get("ARA_TEST_POSTGRES_URL"),
                reason="set ARA_TEST_POSTGRES_URL (scripts/start-postgres.sh)",
            ),
        ),
    ]


def _admin(sql: str) -> None:
    import asyncio

    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    async def run() -> None:
        engine = create_async_engine(os.environ["ARA_TEST_POSTGRES_URL"], isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(sa.text(sql))
        await engine.dispose()

    asyncio.run(run())


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database both nodes share: a SQLite file or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    name = f"f_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    yield (
        os.environ["ARA_TEST_POSTGRES_URL"]
        .rsplit("/", 1)[0]
        .replace("postgresql+asyncpg://", "postgresql://")
        + f"/{name}"
    )
    _admin(f'DROP DATABASE "{name}" WITH (FORCE)')


class Node:
    """One `ara server` process."""

    def __init__(self, name: str, data_dir: Path, database_url: str, home: Path, secrets_key: str) -> None:
        env = {**base_env(home), "ARA_API_KEY": OWNER_KEY, "ARA_SECRETS_KEY": secrets_key}
        self.name = name
        self.stderr_path = data_dir.parent / f"{name}.stderr"
        self._err = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ara_cli",
                "server",
                "--database-url",
                database_url,
                "--port",
                "0",
                "--workers",
                "4",
                "--data-dir",
                str(data_dir),
                "--node-id",
                name,
                "--lease-seconds",
                str(LEASE_SECONDS),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self._err,
            start_new_session=True,
        )
        self.url = ""

    def wait_listening(self, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.stderr_path.read_text(errors="replace").splitlines():
                if line.startswith("{") and '"listening"' in line:
                    self.url = json.loads(line)["url"]
                    return self.url
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited: {self.stderr_path.read_text(errors='replace')[-3000:]}"
                )
            time.sleep(0.05)
        raise AssertionError(
            f"{self.name} did not start: {self.stderr_path.read_text(errors='replace')[-3000:]}"
        )

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()
        self._err.close()


def _manifest() -> dict[str, Any]:
    command = 'echo "$ARA_RUN_ID $ARA_ATTEMPT" >> executions.log; sleep 0.4; echo "attempt=$ARA_ATTEMPT"'
    return {
        "name": "fault",
        "slug": "fault",
        "agent": {
            "agents": [{"id": "echoer", "task": "Echo.", "instructions": "Echo."}],
            "default_agent_id": "echoer",
            "tools": [],
            "subagents": [
                {
                    "id": "job",
                    "workflow_id": "job",
                    "channels": [],
                    "runtime": {"max_retries": 0},
                    "sandbox": {"policy": "shared", "max_concurrency": 64},
                    "hooks": [],
                }
            ],
        },
        "workflows": [
            {
                "id": "echoer",
                "mode": "task",
                "agent_id": "echoer",
                "task": "Echo.",
                "trigger": {"type": "api"},
            },
            {"id": "job", "mode": "run", "run": {"command": command}, "trigger": {"type": "api"}},
        ],
    }


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_kill_9_of_one_of_two_nodes_loses_no_run_and_repeats_only_the_interrupted(
    tmp_path: Path, database_url: str
):
    data_dir = tmp_path / "data"  # shared: the app working dir (with the executions ledger) and key files
    data_dir.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    secrets_key = Fernet.generate_key().decode()
    a = Node("node-a", data_dir, database_url, home, secrets_key)
    a.wait_listening()
    b = Node("node-b", data_dir, database_url, home, secrets_key)
    try:
        b.wait_listening()
        ca, cb = httpx.Client(base_url=a.url, timeout=60), httpx.Client(base_url=b.url, timeout=120)
        created = ca.post("/apps", json=_manifest(), headers=_bearer(OWNER_KEY))
        assert created.status_code == 201, created.text
        app_id = created.json()["app"]["id"]
        key = ca.post(
            f"/apps/{app_id}/keys", json={"requests_per_minute": 100000}, headers=_bearer(OWNER_KEY)
        ).json()["key"]
        async_ids = []
        for n in range(200):
            client = ca if n % 2 else cb
            resp = client.post(
                f"/v1/apps/{app_id}/runs", json={"workflow_id": "job", "input": {}}, headers=_bearer(key)
            )
            assert resp.status_code == 202, resp.text
            async_ids.append(resp.json()["run_id"])

        sync_ids = [f"run_sync_{n}_{uuid.uuid4().hex[:6]}" for n in range(10)]
        sync_results: dict[str, dict[str, Any]] = {}

        def sync_call(run_id: str, first: str) -> None:
            body = {"workflow_id": "job", "input": {"run_id": run_id}}
            try:
                with httpx.Client(base_url=first, timeout=120) as client:
                    resp = client.post(f"/v1/apps/{app_id}/run", json=body, headers=_bearer(key))
            except httpx.HTTPError:  # its node died: ask again elsewhere with the same run id
                with httpx.Client(base_url=b.url, timeout=120) as other:
                    resp = other.post(f"/v1/apps/{app_id}/run", json=body, headers=_bearer(key))
            sync_results[run_id] = resp.json()

        threads = [
            threading.Thread(target=sync_call, args=(rid, a.url if n % 2 else b.url))
            for n, rid in enumerate(sync_ids)
        ]
        for t in threads:
            t.start()
        # kill node A while it is executing runs
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = [
                cb.get(f"/v1/apps/{app_id}/runs/{r}", headers=_bearer(key)).json()["run"]["status"]
                for r in async_ids[:40]
            ]
            if status.count("completed") >= 10:
                break
            time.sleep(0.1)
        a.kill9()
        for t in threads:
            t.join(timeout=180)
        runs: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + 180
        pending = list(async_ids + sync_ids)
        while pending and time.monotonic() < deadline:
            still = []
            for rid in pending:
                run = cb.get(f"/v1/apps/{app_id}/runs/{rid}", headers=_bearer(key)).json()["run"]
                if run["status"] in ("completed", "failed", "cancelled"):
                    runs[rid] = run
                else:
                    still.append(rid)
            pending = still
            if pending:
                time.sleep(0.3)
        assert not pending, f"runs never ended: {pending[:5]}"
        stream = cb.get(f"/v1/apps/{app_id}/logs/stream?follow=false", headers=_bearer(key)).text
        logs = [json.loads(line[6:]) for line in stream.splitlines() if line.startswith("data: ")]
        ca.close()
        cb.close()
    finally:
        a.stop()
        b.stop()
    assert len(runs) == 210
    assert all(
        r["status"] == "completed" or (r["status"] == "failed" and r.get("error")) for r in runs.values()
    )
    assert sorted(sync_results) == sorted(sync_ids)
    assert all(res.get("status") == "completed" for res in sync_results.values()), sync_results
    ledgers = list(data_dir.glob("apps/**/executions.log"))
    assert ledgers, "the app's working directory has no executions ledger"
    executed: dict[str, list[int]] = {}
    for ledger in ledgers:
        for line in ledger.read_text().splitlines():
            rid, attempt = line.split()
            executed.setdefault(rid, []).append(int(attempt))
    assert sorted(executed) == sorted(runs), "every run executed, none from nowhere"
    # a second attempt only for the runs node A held when it died (it may have died before their
    # command started: then the ledger has attempt 2 alone)
    held_by_a = {
        row["run_id"]
        for row in logs
        if row["event_type"] == "run.attempt" and row["message"].endswith("on node node-a")
    }
    finished_on_a = {row["run_id"] for row in logs if row["event_type"] == "run.completed"} - {
        row["run_id"] for row in logs if row["event_type"] == "run.attempt" and "attempt 2" in row["message"]
    }
    for rid, attempts in executed.items():
        assert attempts in ([1], [1, 2], [2]), (rid, attempts)
        assert runs[rid]["attempt"] == attempts[-1]
    interrupted = {rid for rid, run in runs.items() if run["attempt"] == 2}
    assert interrupted, "node A died while executing nothing: the test did not test a reclaim"
    # node A logs its claim right after making it: most interrupted runs show it (a kill between the
    # claim and the log line leaves none)
    assert interrupted & held_by_a
    assert len(interrupted) <= 4 + 5, interrupted  # node A's 4 workers, plus the sync runs it was running
    assert finished_on_a  # both nodes did work
    assert "Traceback" not in b.stderr_path.read_text(errors="replace")


def test_a_node_with_another_secrets_key_refuses_to_start(tmp_path: Path, database_url: str):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    first = Node("node-a", data_dir, database_url, home, Fernet.generate_key().decode())
    try:
        first.wait_listening()
    finally:
        first.stop()
    env = {**base_env(home), "ARA_API_KEY": OWNER_KEY, "ARA_SECRETS_KEY": Fernet.generate_key().decode()}
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "ara_cli",
            "server",
            "--database-url",
            database_url,
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode != 0
    assert "secrets key" in refused.stderr and "ARA_SECRETS_KEY" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr


def _sleepers(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline and "bash -c" not in cmdline:
                found.append(int(entry.name))
    return found


@pytest.mark.e2e
def test_ara_cancel_ends_a_running_hook_and_its_process_tree(cli: Any, server: Any):
    from e2e_support import APPS

    app = str(APPS / "slow_app.py")
    assert cli("deploy", app).returncode == 0
    sent = json.loads(cli("events", app, "--event-type", "slow.start", "--idempotency-key", "slow-1").stdout)
    (run_id,) = sent["runs"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _sleepers("sleep 987.75"):
        time.sleep(0.1)
    assert _sleepers("sleep 987.75"), "the hook's command never started"
    done = cli("cancel", app, "--run-id", run_id)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["run"]["status"] == "cancelled"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _sleepers("sleep 987.75"):
        time.sleep(0.1)
    assert not _sleepers("sleep 987.75"), "the sandbox process tree outlived the cancel"
    status = json.loads(cli("run-status", app, "--run-id", run_id).stdout)["run"]
    assert status["status"] == "cancelled" and status["error"] == "cancelled by request"
    missing = cli("cancel", app)
    assert missing.returncode != 0 and "--run-id" in missing.stderr


def test_ara_server_names_a_bad_database_url(tmp_path: Path):
    env = {**base_env(tmp_path), "ARA_API_KEY": OWNER_KEY}
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "ara_cli",
            "server",
            "--database-url",
            "mysql://x@y/z",
            "--data-dir",
            str(tmp_path / "d"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0
    assert "--database-url" in bad.stderr and "postgresql://" in bad.stderr and "Traceback" not in bad.stderr
    workers = subprocess.run(
        [sys.executable, "-m", "ara_cli", "server", "--workers", "0", "--data-dir", str(tmp_path / "d")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert workers.returncode != 0 and "--workers" in workers.stderr
    dev = subprocess.run(
        [
            sys.executable,
            "-m",
            "ara_cli",
            "dev",
            "--database-url",
            "oracle://x",
            "--data-dir",
            str(tmp_path / "d"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dev.returncode != 0 and "--database-url" in dev.stderr and "Traceback" not in dev.stderr


@pytest.mark.e2e
async def test_async_client_cancels_a_hook_run(server: Any, tmp_path: Path):
    import asyncio

    from ara_http import ApiError
    from ara_sdk import AsyncAraClient, load_app
    from e2e_support import APPS

    client = AsyncAraClient(
        manifest=load_app(APPS / "slow_app.py").manifest,
        api_key=server.owner_api_key,
        base_url=server.base_url,
        cwd=tmp_path,
    )
    key = (await client.deploy())["runtime_key"]
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        sent = await http.post(
            f"/v1/apps/{(await client.setup())['app']['id']}/events",
            json={"event_type": "slow.start"},
            headers=_bearer(key),
        )
    (run_id,) = sent.json()["runs"]
    for _ in range(300):
        if (await client.run_status(run_id=run_id, runtime_key=key))["run"]["status"] == "running":
            break
        await asyncio.sleep(0.05)
    cancelled = await client.cancel(run_id=run_id, runtime_key=key)
    assert cancelled["run"]["status"] == "cancelled"
    with pytest.raises(ApiError) as missing:
        await client.cancel(run_id="run-nope", runtime_key=key)
    assert missing.value.status == 404
    await client.aclose()
