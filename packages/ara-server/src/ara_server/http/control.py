"""Control-plane routes: the account, apps (create, update, setup), runtime and app header keys,
secrets, and invites."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import ApiProblem
from ..services import Services
from ..services.deploy import validate_secret
from .auth import Auth
from .body import bearer, decode, json_body
from .schemas import AppUpdate, InviteAccept, InviteCreate, KeyCreate, SecretPut

__all__ = ["routes"]


def routes(services: Services, auth: Auth) -> list[Route]:
    """The control-plane routes."""
    deploy = services.deploy
    settings = services.settings

    async def manifest_body(request: Request) -> dict[str, Any]:
        return await json_body(request, limit=settings.max_manifest_bytes, max_depth=settings.max_json_depth)

    async def small_body(request: Request) -> dict[str, Any]:
        return await json_body(request, limit=settings.max_body_bytes, max_depth=settings.max_json_depth)

    async def whoami(request: Request) -> Response:
        account = await auth.account(request)
        return JSONResponse({"ok": True, "user": {"id": account["id"], "email": account["email"]}})

    async def rotate(request: Request) -> Response:
        account = await auth.account(request)
        material, key_id = await services.access.rotate(account, bearer(request))
        return JSONResponse(
            {"ok": True, "api_key": material.key, "key_prefix": material.prefix, "key_identifier": key_id}
        )

    async def list_apps(request: Request) -> Response:
        account = await auth.account(request)
        rows = await deploy.list_apps(account["id"])
        return JSONResponse(
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

    async def create_app(request: Request) -> Response:
        account = await auth.account(request)
        app = await deploy.create_app(account["id"], await manifest_body(request))
        return JSONResponse(
            {
                "ok": True,
                "app": {"id": app["id"], "slug": app["slug"], "name": app["name"], "status": app["status"]},
                "warnings": app.get("warnings", []),
            },
            201,
        )

    async def update_app(request: Request) -> Response:
        _, app = await auth.member_app(request, write=True)
        raw = await manifest_body(request)
        decode(raw, AppUpdate, code="invalid_manifest", codes={"$.status": "invalid_status"})
        status = await deploy.update_app(app, raw)  # merged and validated as a typed manifest
        return JSONResponse(
            {
                "ok": True,
                "app": {"id": app["id"], "slug": app["slug"], "status": status},
                "warnings": await deploy.app_warnings(app["id"]),
            }
        )

    def key_kind(request: Request) -> str:
        return "app_header" if "/x-keys" in request.url.path else "runtime"

    async def create_key(request: Request) -> Response:
        _, app = await auth.member_app(request, write=True)
        kind = key_kind(request)
        body = decode(await small_body(request), KeyCreate)
        fields: dict[str, Any] = {"requests_per_minute": body.requests_per_minute}
        if body.name is not None:
            fields["name"] = body.name
        material, key_id, name, rpm = await deploy.create_key(app, kind, fields)
        return JSONResponse(
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

    async def list_keys(request: Request) -> Response:
        _, app = await auth.member_app(request)
        return JSONResponse({"keys": await deploy.list_keys(app["id"], key_kind(request))})

    async def revoke_key(request: Request) -> Response:
        _, app = await auth.member_app(request, write=True)
        kind = key_kind(request)
        key_id = request.path_params["key_id"]
        try:
            await deploy.revoke_key(app["id"], key_id, kind)
        except ApiProblem as exc:
            if exc.status != 404:
                raise
            what = "app header key" if kind == "app_header" else "runtime key"
            raise ApiProblem(404, "not_found", f"no {what} {key_id!r} on this app") from None
        return JSONResponse({"ok": True, "id": key_id, "revoked": True})

    async def list_secrets(request: Request) -> Response:
        _, app = await auth.member_app(request)
        return JSONResponse({"secrets": await deploy.list_secrets(app["id"])})

    async def put_secret(request: Request) -> Response:
        _, app = await auth.member_app(request, write=True)
        raw = await small_body(request)
        if isinstance(raw.get("name"), str):
            raw["name"] = raw["name"].strip().lower()
        body = decode(raw, SecretPut, code="invalid_secret")
        problems = validate_secret(body.name, body.values)
        if problems:
            path, message = problems[0]
            raise ApiProblem(
                422,
                "invalid_secret",
                f"at `{path}`: {message}",
                [{"path": p, "message": m} for p, m in problems],
            )
        name, keys = await deploy.put_secret(app["id"], {"name": body.name, "values": body.values})
        return JSONResponse({"ok": True, "name": name, "keys": keys})

    async def delete_secret(request: Request) -> Response:
        _, app = await auth.member_app(request, write=True)
        await deploy.delete_secret(app["id"], request.path_params["name"])
        return JSONResponse({"ok": True})

    async def webhook_secret(request: Request) -> Response:
        _, app = await auth.member_app(request, owner_only=True)
        secret = await services.access.webhook_secret(str(app["id"]))
        return JSONResponse(
            {
                "ok": True,
                "app_id": app["id"],
                "secret": secret,
                "algorithm": "HMAC-SHA256 over '<X-Ara-Timestamp>.<X-Ara-Delivery-Id>.<raw body>'",
            }
        )

    async def setup(request: Request) -> Response:
        _, app = await auth.member_app(request)
        base = str(request.base_url).rstrip("/")
        view = deploy.view(app)
        agents = list(view.agent_ids())
        return JSONResponse(
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
                "default_agent_id": view.default_agent_id or None,
                "endpoints": {
                    "run": f"{base}/v1/apps/{app['id']}/run",
                    "runs": f"{base}/v1/apps/{app['id']}/runs",
                    "events": f"{base}/v1/apps/{app['id']}/events",
                    "logs": f"{base}/v1/apps/{app['id']}/logs/stream",
                },
                "runtime_keys": len(await deploy.list_keys(app["id"], "runtime")),
                "app_header_keys": await deploy.list_keys(app["id"], "app_header"),
                "secrets": [s["name"] for s in await deploy.list_secrets(app["id"])],
            }
        )

    async def invite(request: Request) -> Response:
        _, app = await auth.member_app(request, owner_only=True)
        body = decode(await small_body(request), InviteCreate, code="invalid_invite")
        row = await deploy.invite(
            app["id"],
            {"email": body.email.strip(), "role": body.role, "expires_in_hours": body.expires_in_hours},
        )
        accept = str(request.base_url).rstrip("/") + "/auth/cli/invites/accept"
        return JSONResponse(
            {
                "ok": True,
                "invite": {
                    "id": row["id"],
                    "email": row["email"],
                    "role": row["role"],
                    "expires_at": row["expires_at"].isoformat(),
                    "invite_token": row["token"],
                    "accept_url": accept,
                },
            },
            201,
        )

    async def accept_invite(request: Request) -> Response:
        body = decode(await small_body(request), InviteAccept)
        invite, key = await deploy.accept_invite(body.token.strip())
        return JSONResponse(
            {
                "ok": True,
                "app_id": invite["app_id"],
                "email": invite["email"],
                "role": invite["role"],
                "api_key": key.key,
                "key_prefix": key.prefix,
            }
        )

    return [
        Route("/auth/cli/whoami", whoami, methods=["GET"]),
        Route("/auth/cli/invites/accept", accept_invite, methods=["POST"]),
        Route("/apps", list_apps, methods=["GET"]),
        Route("/apps", create_app, methods=["POST"]),
        Route("/apps/api-key/rotate", rotate, methods=["POST"]),
        Route("/apps/{app_id}", update_app, methods=["PATCH"]),
        Route("/apps/{app_id}/keys", list_keys, methods=["GET"]),
        Route("/apps/{app_id}/keys", create_key, methods=["POST"]),
        Route("/apps/{app_id}/keys/{key_id}", revoke_key, methods=["DELETE"]),
        Route("/apps/{app_id}/x-keys", list_keys, methods=["GET"]),
        Route("/apps/{app_id}/x-keys", create_key, methods=["POST"]),
        Route("/apps/{app_id}/x-keys/{key_id}", revoke_key, methods=["DELETE"]),
        Route("/apps/{app_id}/secrets", list_secrets, methods=["GET"]),
        Route("/apps/{app_id}/secrets", put_secret, methods=["POST"]),
        Route("/apps/{app_id}/secrets/{name}", delete_secret, methods=["DELETE"]),
        Route("/apps/{app_id}/setup", setup, methods=["GET"]),
        Route("/apps/{app_id}/webhook-secret", webhook_secret, methods=["GET"]),
        Route("/apps/{app_id}/invites", invite, methods=["POST"]),
    ]
