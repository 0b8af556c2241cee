"""Shared fixtures of the ara-server tests.

* `database_url`: `None` (SQLite in the test's data dir) or a fresh PostgreSQL database; the
  PostgreSQL variant runs only when `ARA_TEST_POSTGRES_URL` is set (`eval "$(scripts/start-postgres.sh)"`),
  else it skips.
* `settings`: server settings on a temporary data dir and that database.
* `store`: an opened `Store` (migrations applied).
* `server`: an `InProcessServer` — the ASGI app with its lifespan entered, an `httpx.AsyncClient`
  over `httpx.ASGITransport`, the owner's API key, and helpers to deploy an app and mint keys.
* `world`: two apps and every kind of caller (roles, runtime and app header keys, revoked and
  rotated keys) for the authorization matrix and the hostile-input tests.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from ara_server import Settings, create_app
from ara_server.engine import OfflineProvider
from ara_server.store import Store
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette

POSTGRES_ENV = "ARA_TEST_POSTGRES_URL"

#: A small app: one agent whose tool upper-cases `text`, an event hook command, a pipeline.
SHOUT_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "shout",
        "description": "Upper-case a text.",
        "parameters": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    },
    "function_name": "shout",
    "source": "def shout(text: str) -> dict:\n    return {'reply': text.upper()}\n",
}


def small_manifest(slug: str = "shouter") -> dict[str, Any]:
    """The manifest of a small app named `slug` (a fresh dict each call)."""
    return {
        "name": slug,
        "slug": slug,
        "agent": {
            "agents": [{"id": "shouter", "task": "Shout.", "instructions": "Shout the text."}],
            "default_agent_id": "shouter",
            "tools": [SHOUT_TOOL],
        },
        "workflows": [
            {
                "id": "shouter",
                "mode": "task",
                "agent_id": "shouter",
                "task": "Shout.",
                "trigger": {"type": "api"},
            },
            {
                "id": "on-ping",
                "mode": "run",
                "run": {"command": "echo pong"},
                "trigger": {"type": "api", "event": "ping"},
            },
        ],
    }


def _backends() -> list[Any]:
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=pytest.mark.skipif(
                not os.environ.get(POSTGRES_ENV), reason=f"set {POSTGRES_ENV} (scripts/start-postgres.sh)"
            ),
        ),
    ]


@pytest.fixture(params=_backends())
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    """`None` for SQLite, or the URL of a throwaway PostgreSQL database (dropped afterwards)."""
    if request.param == "sqlite":
        yield None
        return
    base = os.environ[POSTGRES_ENV]
    dbname = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'CREATE DATABASE "{dbname}"'))
    yield base.rsplit("/", 1)[0] + f"/{dbname}"
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'DROP DATABASE "{dbname}" WITH (FORCE)'))
    await admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    """Settings on a temporary data dir; one worker, no scheduler, short tool timeout."""
    return Settings(
        data_dir=tmp_path / "server-data",
        database_url=database_url,
        workers=1,
        scheduler_interval_seconds=0,
        tool_timeout_seconds=10.0,
    )


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A world-readable temporary directory outside `/tmp` (sandboxed code, package installs and
    artifact fetches get a private `/tmp`, so a local git repo or tarball they must read lives here)."""
    base = Path("/var/tmp") if os.access("/var/tmp", os.W_OK) else None
    path = Path(tempfile.mkdtemp(prefix="ara-test-", dir=base))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    """An opened store (migrations applied)."""
    s = Store(settings)
    await s.open()
    yield s
    await s.close()


@dataclass
class InProcessServer:
    """The ASGI app in this process, with helpers for the common setup steps."""

    app: Starlette
    client: httpx.AsyncClient
    owner_key: str

    @staticmethod
    def manifest(slug: str = "shouter") -> dict[str, Any]:
        """The manifest of the small test app, named `slug` (a fresh dict each call)."""
        return small_manifest(slug)

    def owner(self) -> dict[str, str]:
        """Headers authenticating as the owner."""
        return {"Authorization": f"Bearer {self.owner_key}"}

    async def api_key_for(self, email: str, app_id: str, role: str) -> str:
        """Invite `email` to the app with `role` and return the invitee's API key."""
        invite = await self.client.post(
            f"/apps/{app_id}/invites", json={"email": email, "role": role}, headers=self.owner()
        )
        assert invite.status_code == 201, invite.text
        token = invite.json()["invite"]["invite_token"]
        accepted = await self.client.post("/auth/cli/invites/accept", json={"token": token})
        assert accepted.status_code == 200, accepted.text
        return str(accepted.json()["api_key"])

    async def deploy(self, manifest: dict[str, Any] | None = None) -> str:
        """Create an app (default: `small_manifest()`) and return its id."""
        resp = await self.client.post("/apps", json=manifest or small_manifest(), headers=self.owner())
        assert resp.status_code == 201, resp.text
        return str(resp.json()["app"]["id"])

    async def runtime_key(self, app_id: str, *, header: bool = False, rpm: int = 60) -> str:
        """Mint a runtime key (or an app header key when `header`) for the app."""
        path = "x-keys" if header else "keys"
        resp = await self.client.post(
            f"/apps/{app_id}/{path}", json={"requests_per_minute": rpm}, headers=self.owner()
        )
        assert resp.status_code == 201, resp.text
        return str(resp.json()["key"])


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[InProcessServer]:
    """The server in-process (lifespan entered: store open, workers running) with the offline model."""
    app = create_app(settings, provider=OfflineProvider())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield InProcessServer(app=app, client=client, owner_key=str(app.state.owner_api_key))


@pytest.fixture
async def app_client(server: InProcessServer) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` over the in-process server (see `server` for the helpers)."""
    return server.client


@dataclass
class World:
    """Two apps and every kind of caller, for authorization tests.

    `app_a` is owned by the server's owner; `app_b` by another account (`other`), which has no role
    on `app_a`. `keys` maps a principal name to its request headers:

    * `none`, `wrong` (an unknown API key);
    * `owner`, `member`, `viewer` (API keys of accounts with that role on `app_a`), `other`;
    * `runtime_a`, `runtime_b` (runtime keys of each app), `header_a` (an app header key of `app_a`);
    * `revoked_runtime` (a revoked runtime key of `app_a`), `rotated` (the member's API key from
      before a rotation).

    `run_a` is a finished async run of `app_a`; `run_b` one of `app_b`.
    """

    server: InProcessServer
    app_a: str
    app_b: str
    headers: dict[str, dict[str, str]]
    run_a: str
    run_b: str

    PRINCIPALS = (
        "none",
        "wrong",
        "owner",
        "member",
        "viewer",
        "other",
        "runtime_a",
        "runtime_b",
        "header_a",
        "revoked_runtime",
        "rotated",
    )


def bearer_headers(key: str) -> dict[str, str]:
    """`Authorization: Bearer <key>`."""
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def world(server: InProcessServer) -> World:
    """Two apps, their keys, accounts with each role and revoked/rotated keys (see `World`)."""
    c = server.client
    app_a = await server.deploy(small_manifest("app-a"))
    member = await server.api_key_for("member@example.com", app_a, "member")
    viewer = await server.api_key_for("viewer@example.com", app_a, "viewer")
    lobby = await server.deploy(small_manifest("lobby"))
    other = await server.api_key_for("other@example.com", lobby, "viewer")
    created = await c.post("/apps", json=small_manifest("app-b"), headers=bearer_headers(other))
    assert created.status_code == 201, created.text
    app_b = str(created.json()["app"]["id"])
    minted_b = await c.post(f"/apps/{app_b}/keys", json={}, headers=bearer_headers(other))
    assert minted_b.status_code == 201, minted_b.text
    runtime_b = str(minted_b.json()["key"])
    runtime_a = await server.runtime_key(app_a, rpm=1_000_000)
    header_a = await server.runtime_key(app_a, header=True, rpm=1_000_000)
    doomed = await c.post(f"/apps/{app_a}/keys", json={}, headers=server.owner())
    revoked = await c.delete(f"/apps/{app_a}/keys/{doomed.json()['id']}", headers=server.owner())
    assert revoked.status_code == 200, revoked.text
    rotated_old = await server.api_key_for("rotating@example.com", app_a, "member")
    rotated = await c.post("/apps/api-key/rotate", headers=bearer_headers(rotated_old))
    assert rotated.status_code == 200, rotated.text

    async def finished_run(app_id: str, key: str) -> str:
        resp = await c.post(
            f"/v1/apps/{app_id}/runs", json={"input": {"text": "x"}}, headers=bearer_headers(key)
        )
        assert resp.status_code == 202, resp.text
        run_id = str(resp.json()["run_id"])
        for _ in range(400):
            got = await c.get(f"/v1/apps/{app_id}/runs/{run_id}", headers=bearer_headers(key))
            if got.json()["run"]["status"] in ("completed", "failed", "cancelled"):
                return run_id
            await asyncio.sleep(0.05)
        raise AssertionError(f"run {run_id} did not finish")

    run_a = await finished_run(app_a, runtime_a)
    run_b = await finished_run(app_b, runtime_b)
    headers = {
        "none": {},
        "wrong": bearer_headers("ara_sk_" + "x" * 43),
        "owner": server.owner(),
        "member": bearer_headers(member),
        "viewer": bearer_headers(viewer),
        "other": bearer_headers(other),
        "runtime_a": bearer_headers(runtime_a),
        "runtime_b": bearer_headers(runtime_b),
        "header_a": {"X-Ara-App-Key": header_a},
        "revoked_runtime": bearer_headers(str(doomed.json()["key"])),
        "rotated": bearer_headers(rotated_old),
    }
    return World(server=server, app_a=app_a, app_b=app_b, headers=headers, run_a=run_a, run_b=run_b)
