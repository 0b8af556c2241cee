"""The HTTP API of ara-server (Starlette): control plane, runtime plane, health (spec §3.3)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog
from ara_core import ManifestError, new_run_id, validate_manifest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ._keys import new_id
from ._ratelimit import RateLimiter
from ._requests import bearer, json_body
from ._runs import RunService, materialize_files, public_run
from ._sessions import SessionApi
from ._settings import Settings
from ._store import Store, now
from .engine import ModelProvider
from .errors import ApiProblem

__all__ = ["create_app"]

log = structlog.get_logger("ara_server.api")
_SECRET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}[a-z0-9]$")
_ROLES_WRITE = ("owner", "member")

Handler = Callable[[Request], Awaitable[Response]]


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


class Api:
    """Route handlers bound to one store and run service."""

    def __init__(self, settings: Settings, store: Store, runs: RunService) -> None:
        self.settings, self.store, self.runs = settings, store, runs
        self.limiter = RateLimiter()

    # ------------------------------------------------------------------------------ auth helpers
    async def account(self, request: Request) -> dict[str, Any]:
        token = bearer(request)
        if not token:
            raise ApiProblem(401, "unauthorized", "missing API key: send Authorization: Bearer <ARA_API_KEY>")
        account = await self.store.account_for_api_key(token)
        if account is None:
            raise ApiProblem(401, "unauthorized", "invalid or revoked API key")
        return account

    async def owned_app(
        self, request: Request, *, write: bool = False, owner_only: bool = False
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        account = await self.account(request)
        app = await self.store.app_for(request.path_params["app_id"], account["id"])
        if app is None:
            raise ApiProblem(404, "not_found", f"app {request.path_params['app_id']!r} not found")
        if owner_only and app["role"] != "owner":
            raise ApiProblem(403, "forbidden", f"only the app's owner can do this (your role: {app['role']})")
        if write and app["role"] not in _ROLES_WRITE:
            raise ApiProblem(
                403, "forbidden", f"your role on this app is {app['role']!r}; members and owners only"
            )
        return account, app

    async def runtime_app(self, request: Request) -> dict[str, Any]:
        """The app of a runtime-plane call, authorized by runtime key, app header key or a member's API key."""
        app = await self.store.app(request.path_params["app_id"])
        header_key = request.headers.get("x-ara-app-key", "").strip()
        token = bearer(request)
        if app is not None:
            key_row = None
            if header_key:
                key_row = await self.store.app_for_key(app["id"], header_key, ("app_header",))
            if key_row is None and token:
                key_row = await self.store.app_for_key(app["id"], token, ("runtime",))
            if key_row is not None:
                wait = self.limiter.check(key_row["id"], int(key_row["requests_per_minute"]))
                if wait is not None:
                    raise ApiProblem(
                        429,
                        "rate_limited",
                        f"this key allows {key_row['requests_per_minute']} requests per minute; retry in {wait:g} s",
                        headers={"Retry-After": str(int(wait))},
                    )
                return app
            if token:
                account = await self.store.account_for_api_key(token)
                role = (
                    (await self.store.app_for(app["id"], account["id"]) or {}).get("role")
                    if account
                    else None
                )
                if role in _ROLES_WRITE:
                    return app
                if role == "viewer":
                    raise ApiProblem(
                        403, "forbidden", "viewers cannot run this app; ask the owner for the member role"
                    )
        if not header_key and not token:
            raise ApiProblem(
                401,
                "unauthorized",
                "missing runtime key: send Authorization: Bearer <runtime key> or X-Ara-App-Key",
            )
        if app is None:
            raise ApiProblem(404, "not_found", f"app {request.path_params['app_id']!r} not found")
        raise ApiProblem(401, "unauthorized", "invalid or revoked runtime key or app header key")

    # ------------------------------------------------------------------------------------ health
    async def healthz(self, request: Request) -> Response:
        return _json({"ok": True})

    async def readyz(self, request: Request) -> Response:
        try:
            await self.store.account_by_email("readiness-probe@localhost")
        except Exception as exc:  # database unreachable
            return _json({"ok": False, "error": {"code": "not_ready", "message": str(exc)}}, 503)
        return _json({"ok": True})

    # ----------------------------------------------------------------------------- control plane
    async def whoami(self, request: Request) -> Response:
        account = await self.account(request)
        return _json({"ok": True, "user": {"id": account["id"], "email": account["email"]}})

    async def rotate(self, request: Request) -> Response:
        account = await self.account(request)
        material, key_id = await self.store.rotate_api_key(account["id"], bearer(request))
        return _json(
            {"ok": True, "api_key": material.key, "key_prefix": material.prefix, "key_identifier": key_id}
        )

    async def list_apps(self, request: Request) -> Response:
        account = await self.account(request)
        rows = await self.store.list_apps(account["id"])
        return _json(
            {
                "apps": [
                    {
                        "id": r["id"],
                        "slug": r["slug"],
                        "name": r["name"],
                        "role": r["role"],
                        "status": r["status"],
                        "created_at": r["created_at"].isoformat(),
                        "updated_at": r["updated_at"].isoformat(),
                    }
                    for r in rows
                ]
            }
        )

    def _manifest(self, body: dict[str, Any], *, slug: str) -> dict[str, Any]:
        manifest = {k: v for k, v in body.items() if k != "status"}
        manifest["slug"] = slug
        try:
            manifest = validate_manifest(manifest)
        except ManifestError as exc:
            raise ApiProblem(
                422, "invalid_manifest", str(exc), [{"path": p, "message": m} for p, m in exc.errors]
            ) from None
        for i, item in enumerate((manifest.get("runtime_profile") or {}).get("files") or []):
            path = str(item.get("path", "")) if isinstance(item, dict) else ""
            parts = path.replace("\\", "/").split("/")
            if not path or ".." in parts:
                raise ApiProblem(
                    422,
                    "invalid_manifest",
                    f"at `$.runtime_profile.files[{i}].path`: {path!r} must be a "
                    "relative path inside the app's working directory",
                )
        return manifest

    async def create_app(self, request: Request) -> Response:
        account = await self.account(request)
        body = await json_body(request)
        slug = str(body.get("slug") or "").strip()
        if not slug:
            raise ApiProblem(422, "invalid_manifest", "at `$.slug`: must be a non-empty string")
        manifest = self._manifest(body, slug=slug)
        app = await self.store.create_app(account["id"], slug, manifest)
        if app is None:
            raise ApiProblem(409, "slug_taken", f"project name {slug!r} is already taken")
        await asyncio.to_thread(materialize_files, self.settings.app_dir(app["id"]), manifest)
        await self.runs.log(app["id"], None, "info", "app.created", f"app {slug} created")
        return _json(
            {
                "ok": True,
                "app": {"id": app["id"], "slug": slug, "name": app["name"], "status": app["status"]},
            },
            201,
        )

    async def update_app(self, request: Request) -> Response:
        _, app = await self.owned_app(request, write=True)
        body = await json_body(request)
        status = body.get("status")
        if status is not None and status not in ("active", "inactive"):
            raise ApiProblem(422, "invalid_status", "at `$.status`: must be 'active' or 'inactive'")
        manifest = None
        if set(body) - {"status"}:
            manifest = self._manifest({**app["manifest"], **body}, slug=app["slug"])
        await self.store.update_app(app["id"], manifest=manifest, status=status)
        if manifest is not None:
            await asyncio.to_thread(materialize_files, self.settings.app_dir(app["id"]), manifest)
            await self.runs.log(app["id"], None, "info", "app.updated", f"app {app['slug']} updated")
        return _json(
            {"ok": True, "app": {"id": app["id"], "slug": app["slug"], "status": status or app["status"]}}
        )

    async def create_key(self, request: Request) -> Response:
        _, app = await self.owned_app(request, write=True)
        body = await json_body(request)
        kind = "app_header" if request.url.path.endswith("/x-keys") else "runtime"
        name = str(body.get("name") or f"{app['slug']}-{'x-header' if kind == 'app_header' else 'key'}")
        rpm = body.get("requests_per_minute", 60)
        if isinstance(rpm, bool) or not isinstance(rpm, int) or rpm < 1:
            raise ApiProblem(422, "invalid_body", "at `$.requests_per_minute`: must be a positive integer")
        material, key_id = await self.store.create_app_key(app["id"], kind, name, rpm)
        return _json(
            {
                "ok": True,
                "id": key_id,
                "key": material.key,
                "key_prefix": material.prefix,
                "name": name,
                "requests_per_minute": rpm,
            },
            201,
        )

    async def list_x_keys(self, request: Request) -> Response:
        _, app = await self.owned_app(request)
        return _json({"keys": await self.store.list_app_keys(app["id"], "app_header")})

    async def revoke_x_key(self, request: Request) -> Response:
        _, app = await self.owned_app(request, write=True)
        if not await self.store.revoke_app_key(app["id"], request.path_params["key_id"], "app_header"):
            raise ApiProblem(404, "not_found", f"app header key {request.path_params['key_id']!r} not found")
        return _json({"ok": True})

    async def list_secrets(self, request: Request) -> Response:
        _, app = await self.owned_app(request)
        return _json({"secrets": await self.store.list_secrets(app["id"])})

    async def put_secret(self, request: Request) -> Response:
        _, app = await self.owned_app(request, write=True)
        body = await json_body(request)
        name = str(body.get("name") or "").strip().lower()
        if not _SECRET_NAME.match(name):
            raise ApiProblem(
                422, "invalid_secret", "at `$.name`: must match [a-z0-9][a-z0-9_-]{0,62}[a-z0-9]"
            )
        values = body.get("values")
        if not isinstance(values, dict) or not values or not all(isinstance(k, str) for k in values):
            raise ApiProblem(422, "invalid_secret", "at `$.values`: must be a non-empty object of strings")
        await self.store.put_secret(
            app["id"], name, {k: "" if v is None else str(v) for k, v in values.items()}
        )
        return _json({"ok": True, "name": name, "keys": sorted(values)})

    async def delete_secret(self, request: Request) -> Response:
        _, app = await self.owned_app(request, write=True)
        if not await self.store.delete_secret(app["id"], request.path_params["name"].lower()):
            raise ApiProblem(404, "not_found", f"secret {request.path_params['name']!r} not found")
        return _json({"ok": True})

    async def setup(self, request: Request) -> Response:
        _, app = await self.owned_app(request)
        manifest = app["manifest"]
        base = str(request.base_url).rstrip("/")
        agents = [a.get("id") for a in (manifest.get("agent") or {}).get("agents") or []]
        return _json(
            {
                "ok": True,
                "app": {
                    "id": app["id"],
                    "slug": app["slug"],
                    "name": app["name"],
                    "status": app["status"],
                    "role": app["role"],
                },
                "agents": agents,
                "default_agent_id": (manifest.get("agent") or {}).get("default_agent_id"),
                "endpoints": {
                    "run": f"{base}/v1/apps/{app['id']}/run",
                    "runs": f"{base}/v1/apps/{app['id']}/runs",
                    "events": f"{base}/v1/apps/{app['id']}/events",
                    "logs": f"{base}/v1/apps/{app['id']}/logs/stream",
                },
                "runtime_keys": len(await self.store.list_app_keys(app["id"], "runtime")),
                "app_header_keys": await self.store.list_app_keys(app["id"], "app_header"),
                "secrets": [s["name"] for s in await self.store.list_secrets(app["id"])],
            }
        )

    async def invite(self, request: Request) -> Response:
        _, app = await self.owned_app(request, owner_only=True)
        body = await json_body(request)
        email = str(body.get("email") or "").strip()
        role = str(body.get("role") or "viewer")
        hours = body.get("expires_in_hours", 168)
        if "@" not in email:
            raise ApiProblem(422, "invalid_invite", "at `$.email`: must be an email address")
        if role not in ("viewer", "member"):
            raise ApiProblem(422, "invalid_invite", "at `$.role`: must be 'viewer' or 'member'")
        if isinstance(hours, bool) or not isinstance(hours, int) or hours < 1:
            raise ApiProblem(422, "invalid_invite", "at `$.expires_in_hours`: must be a positive integer")
        row = await self.store.invite(app["id"], email, role, hours)
        accept = str(request.base_url).rstrip("/") + "/auth/cli/invites/accept"
        return _json(
            {
                "ok": True,
                "invite": {
                    "id": row["id"],
                    "email": email,
                    "role": role,
                    "expires_at": row["expires_at"].isoformat(),
                    "invite_token": row["token"],
                    "accept_url": accept,
                },
            },
            201,
        )

    async def accept_invite(self, request: Request) -> Response:
        body = await json_body(request)
        token = str(body.get("token") or "").strip()
        if not token:
            raise ApiProblem(422, "invalid_body", "at `$.token`: the invite token is required")
        accepted = await self.store.accept_invite(token)
        if accepted is None:
            raise ApiProblem(
                404, "invite_not_found", "invite token unknown, already used or expired; ask for a new invite"
            )
        invite, key = accepted
        return _json(
            {
                "ok": True,
                "app_id": invite["app_id"],
                "email": invite["email"],
                "role": invite["role"],
                "api_key": key.key,
                "key_prefix": key.prefix,
            }
        )

    # ----------------------------------------------------------------------------- runtime plane
    def _agent_id(self, app: dict[str, Any], body: dict[str, Any]) -> str:
        agent_block = app["manifest"].get("agent") or {}
        agents = [a.get("id") for a in agent_block.get("agents") or []]
        agent_id = str(
            body.get("agent_id") or body.get("workflow_id") or agent_block.get("default_agent_id") or ""
        )
        if agent_id not in agents:
            workflows = {w.get("id"): w.get("agent_id") for w in app["manifest"].get("workflows") or []}
            if workflows.get(agent_id) in agents:
                return str(workflows[agent_id])
            raise ApiProblem(
                404,
                "agent_not_found",
                f"agent {agent_id!r} not found in app {app['slug']!r}; agents: {', '.join(map(str, agents)) or 'none'}",
            )
        return agent_id

    def _input(self, body: dict[str, Any]) -> dict[str, Any]:
        value = body.get("input", {})
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ApiProblem(422, "invalid_input", "at `$.input`: must be a JSON object")
        return value

    async def run(self, request: Request) -> Response:
        app = await self.runtime_app(request)
        body = await json_body(request)
        run_input = self._input(body)
        if body.get("warmup"):
            return _json(
                {
                    "ok": True,
                    "run_id": new_run_id(),
                    "app_id": app["id"],
                    "warmup": True,
                    "status": "completed",
                }
            )
        agent_id = self._agent_id(app, body)
        run_id = str(run_input.get("run_id") or new_run_id())
        row, created = await self.store.insert_run(
            {
                "run_id": run_id,
                "app_id": app["id"],
                "agent_id": agent_id,
                "mode": "sync",
                "status": "running",
                "input": run_input,
            }
        )
        if not created:
            raise ApiProblem(409, "run_exists", f"run {run_id!r} already exists; use a new run_id")
        done = await self.runs.execute(app, row)
        result = done.get("result") or {"output_text": "", "tool_calls": []}
        return _json(
            {
                "ok": done["status"] == "completed",
                "run_id": run_id,
                "app_id": app["id"],
                "agent_id": agent_id,
                "workflow_id": agent_id,
                "status": done["status"],
                "warmup": False,
                "result": result,
                "trace": done.get("trace") or [],
                "error": done.get("error"),
            }
        )

    async def submit_run(self, request: Request) -> Response:
        app = await self.runtime_app(request)
        body = await json_body(request)
        run_input = self._input(body)
        agent_id = self._agent_id(app, body)
        mode = str(body.get("response_mode") or "poll")
        callback = body.get("callback")
        if mode not in ("poll", "webhook"):
            raise ApiProblem(422, "invalid_body", "at `$.response_mode`: must be 'poll' or 'webhook'")
        if mode == "webhook" and not (
            isinstance(callback, dict) and str(callback.get("url") or "").startswith(("http://", "https://"))
        ):
            raise ApiProblem(
                422, "invalid_body", "at `$.callback.url`: webhook mode needs an http(s) callback URL"
            )
        key = str(body.get("idempotency_key") or request.headers.get("x-idempotency-key") or "") or None
        run_id = str(body.get("run_id") or new_run_id())
        row, created = await self.store.insert_run(
            {
                "run_id": run_id,
                "app_id": app["id"],
                "agent_id": agent_id,
                "mode": "async",
                "status": "queued",
                "input": run_input,
                "idempotency_key": key,
                "callback": callback if mode == "webhook" else None,
            }
        )
        if created:
            await self.runs.log(app["id"], run_id, "info", "run.queued", f"agent {agent_id} queued")
            self.runs.notify()
        return _json(
            {"ok": True, "run": public_run(row), "run_id": row["run_id"], "created": created},
            202 if created else 200,
        )

    async def run_status(self, request: Request) -> Response:
        app = await self.runtime_app(request)
        row = await self.store.get_run(app["id"], request.path_params["run_id"])
        if row is None:
            raise ApiProblem(404, "not_found", f"run {request.path_params['run_id']!r} not found")
        return _json({"ok": True, "run": public_run(row)})

    async def events(self, request: Request) -> Response:
        app = await self.runtime_app(request)
        body = await json_body(request)
        event_type = str(body.get("event_type") or "").strip()
        if not event_type:
            raise ApiProblem(422, "invalid_event", "at `$.event_type`: must be a non-empty string")
        key = request.headers.get("x-idempotency-key", "").strip() or None
        event_id = new_id("evt")
        manifest = app["manifest"]
        hooks = [
            w
            for w in manifest.get("workflows") or []
            if (w.get("trigger") or {}).get("event") == event_type and w.get("mode") in ("task", "run")
        ]
        default_agent = (manifest.get("agent") or {}).get("default_agent_id") or ""
        planned = [(w, new_run_id()) for w in hooks]
        response = {
            "ok": True,
            "event_id": event_id,
            "event_type": event_type,
            "accepted_at": now().isoformat(),
            "matched_workflows": [w.get("id") for w in hooks],
            "runs": [rid for _, rid in planned],
        }
        stored, outcome = await self.store.record_event(app["id"], key, body, response)
        if outcome == "conflict":
            raise ApiProblem(
                409, "idempotency_conflict", f"idempotency key {key!r} was already used with a different body"
            )
        if outcome == "new":
            await self.runs.log(
                app["id"],
                None,
                "info",
                "event.received",
                f"{event_type}: {str(body.get('message') or '')[:200]}",
            )
            event_input = {
                "event_type": event_type,
                "message": body.get("message") or "",
                "channel": body.get("channel"),
                "source": body.get("source"),
                "payload": body.get("payload") or {},
                "metadata": body.get("metadata") or {},
                "event_id": event_id,
            }
            for workflow, run_id in planned:
                command = workflow.get("mode") == "run"
                agent_id = str(workflow.get("agent_id") or default_agent)
                await self.store.insert_run(
                    {
                        "run_id": run_id,
                        "app_id": app["id"],
                        "agent_id": "" if command else agent_id,
                        "workflow_id": workflow.get("id"),
                        "kind": "command" if command else "agent",
                        "mode": "async",
                        "status": "queued",
                        "idempotency_key": f"{key or event_id}:{workflow.get('id')}",
                        "input": event_input
                        if command
                        else {**event_input, "task": workflow.get("task") or ""},
                    }
                )
            if planned:
                self.runs.notify()
        return _json(stored, 202 if outcome == "new" else 200)

    async def logs_stream(self, request: Request) -> Response:
        app = await self.runtime_app(request)
        follow = request.query_params.get("follow", "true").lower() != "false"

        async def stream() -> AsyncIterator[bytes]:
            last = 0
            quiet = 0.0
            while not await request.is_disconnected():
                rows = await self.store.logs_after(app["id"], last)
                for row in rows:
                    last = row["id"]
                    data = {
                        "id": row["id"],
                        "timestamp": row["created_at"].isoformat(),
                        "level": row["level"],
                        "run_id": row["run_id"],
                        "event_type": row["event_type"],
                        "message": row["message"],
                    }
                    yield f"data: {json.dumps(data)}\n\n".encode()
                if rows:
                    quiet = 0.0
                    continue
                if not follow:
                    return
                if quiet >= self.settings.log_heartbeat_seconds:
                    quiet = 0.0
                    yield b": heartbeat\n\n"
                started = asyncio.get_running_loop().time()
                await self.runs.wait_for_logs(min(1.0, self.settings.log_heartbeat_seconds))
                quiet += asyncio.get_running_loop().time() - started

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


def _wrap(handler: Handler) -> Handler:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiProblem as problem:
            return JSONResponse(problem.body(), status_code=problem.status, headers=problem.headers or None)

    return endpoint


def create_app(settings: Settings, *, provider: ModelProvider | None = None) -> Starlette:
    """Build the ASGI application.

    Args:
        settings: Server settings.
        provider: Model provider for runs (default: from the environment).

    Returns:
        A Starlette app; its lifespan opens the store, applies migrations, ensures the owner and
        starts the run workers. `app.state.owner_api_key` holds a key generated on first start.
    """
    store = Store(settings)
    runs = RunService(settings, store, provider)
    api = Api(settings, store, runs)
    sessions = SessionApi(store, settings.data_dir, api.account, provider)
    r = lambda path, fn, methods: Route(path, _wrap(fn), methods=methods)  # noqa: E731
    routes = [
        r("/healthz", api.healthz, ["GET"]),
        r("/readyz", api.readyz, ["GET"]),
        r("/auth/cli/whoami", api.whoami, ["GET"]),
        r("/auth/cli/invites/accept", api.accept_invite, ["POST"]),
        r("/apps", api.list_apps, ["GET"]),
        r("/apps", api.create_app, ["POST"]),
        r("/apps/api-key/rotate", api.rotate, ["POST"]),
        r("/apps/{app_id}", api.update_app, ["PATCH"]),
        r("/apps/{app_id}/keys", api.create_key, ["POST"]),
        r("/apps/{app_id}/x-keys", api.list_x_keys, ["GET"]),
        r("/apps/{app_id}/x-keys", api.create_key, ["POST"]),
        r("/apps/{app_id}/x-keys/{key_id}", api.revoke_x_key, ["DELETE"]),
        r("/apps/{app_id}/secrets", api.list_secrets, ["GET"]),
        r("/apps/{app_id}/secrets", api.put_secret, ["POST"]),
        r("/apps/{app_id}/secrets/{name}", api.delete_secret, ["DELETE"]),
        r("/apps/{app_id}/setup", api.setup, ["GET"]),
        r("/apps/{app_id}/invites", api.invite, ["POST"]),
        r("/v1/apps/{app_id}/run", api.run, ["POST"]),
        r("/v1/apps/{app_id}/runs", api.submit_run, ["POST"]),
        r("/v1/apps/{app_id}/runs/{run_id}", api.run_status, ["GET"]),
        r("/v1/apps/{app_id}/events", api.events, ["POST"]),
        r("/v1/apps/{app_id}/logs/stream", api.logs_stream, ["GET"]),
        r("/session/start", sessions.start, ["POST"]),
        r("/session/status", sessions.status, ["GET"]),
        r("/session/stop", sessions.stop, ["POST"]),
        r("/session/runtime/capabilities", sessions.capabilities, ["GET"]),
        r("/session/runtime/skills", sessions.skills, ["GET"]),
        r("/session/runtime/tools", sessions.tools, ["GET"]),
        r("/session/runtime/tools/execute", sessions.execute, ["POST"]),
        r("/session/runtime/control/actions", sessions.control_actions, ["GET"]),
        r("/session/runtime/control/call", sessions.control_call, ["POST"]),
        r("/chat", sessions.chat, ["POST"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        app.state.owner_api_key = await store.ensure_owner(settings.owner_api_key)
        await runs.start()
        try:
            yield
        finally:
            await runs.stop()
            await store.close()

    async def not_found(request: Request, exc: Exception) -> Response:
        return _json(
            {"error": {"code": "not_found", "message": f"no route {request.method} {request.url.path}"}}, 404
        )

    async def method_not_allowed(request: Request, exc: Exception) -> Response:
        return _json(
            {
                "error": {
                    "code": "method_not_allowed",
                    "message": f"{request.method} not allowed on {request.url.path}",
                }
            },
            405,
        )

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", path=request.url.path)
        return _json({"error": {"code": "internal", "message": "internal server error"}}, 500)

    application = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: method_not_allowed, 500: server_error},
    )
    application.state.store = store
    application.state.runs = runs
    application.state.settings = settings
    return application
