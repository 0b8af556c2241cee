"""Shared fixtures of the ara-server tests.

* `database_url`: `None` (SQLite in the test's data dir) or a fresh PostgreSQL database; the
  PostgreSQL variant runs only when `ARA_TEST_POSTGRES_URL` is set (`eval "$(scripts/start-postgres.sh)"`),
  else it skips.
* `settings`: server settings on a temporary data dir and that database.
* `store`: an opened `Store` (migrations applied).
* `server`: an `InProcessServer` — the ASGI app with its lifespan entered, an `httpx.AsyncClient`
  over `httpx.ASGITransport`, the owner's API key, and helpers to deploy an app and mint keys.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
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
