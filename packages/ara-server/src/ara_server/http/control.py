"""Control-plane routes: the account, apps (create, update, setup), runtime and app header keys,
secrets, and invites."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..services import Services
from .auth import Auth
from .body import bearer, json_body

__all__ = ["routes"]


def routes(services: Services, auth: Auth) -> list[Route]:
    """The control-plane routes."""
    deploy = services.deploy

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
        app = await deploy.create_app(account["id"], await json_body(request))
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
        status = await deploy.update_app(app, await json_body(request))
        return JSONResponse(
            {
                "ok": True,
                "app": {"id": app["id"], "slug": app["slug"], "status": status},
                "warnings": await deploy.app_warnings(app["id"]),
            }
        )

    async def create_key(request: Request) -> Response:
        _, app = await auth.member_app(request, write=True)
        kind = "app_header" if request.url.path.endswith("/x-keys") else "runtime"
        material, key_id, name, rpm = await deploy.create_key(app, kind, await json_body(request))
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

    async def list_x_keys(request: Request) -> Response:
        _, app = await auth.member_app(request)
        return JSONResponse({"keys": await deploy.list_keys(app["id"], "app_header")})

    async def revoke_x_key(request: Request) -> Response:
        _, app = await auth.member_app(request, write=True)
        await deploy.revoke_key(app["id"], request.path_params["key_id"], "app_header")
        return JSONResponse({"ok": True})

    async def list_secrets(request: Request) -> Response:
        _, app = await auth.member_app(request)
        return JSONResponse({"secrets": await deploy.list_secrets(app["id"])})

    async def put_secret(request: Request) -> Response:
        _, app = await auth.member_app(request, write=True)
        name, keys = await deploy.put_secret(app["id"], await json_body(request))
        return JSONResponse({"ok": True, "name": name, "keys": keys})

    async def delete_secret(request: Request) -> Response:
        _, app = await auth.member_app(request, write=True)
        await deploy.delete_secret(app["id"], request.path_params["name"])
        return JSONResponse({"ok": True})

    async def setup(request: Request) -> Response:
        _, app = await auth.member_app(request)
        manifest = app["manifest"]
        base = str(request.base_url).rstrip("/")
        agents = [a.get("id") for a in (manifest.get("agent") or {}).get("agents") or []]
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
                "default_agent_id": (manifest.get("agent") or {}).get("default_agent_id"),
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
        row = await deploy.invite(app["id"], await json_body(request))
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
        body = await json_body(request)
        invite, key = await deploy.accept_invite(str(body.get("token") or "").strip())
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
        Route("/apps/{app_id}/keys", create_key, methods=["POST"]),
        Route("/apps/{app_id}/x-keys", list_x_keys, methods=["GET"]),
        Route("/apps/{app_id}/x-keys", create_key, methods=["POST"]),
        Route("/apps/{app_id}/x-keys/{key_id}", revoke_x_key, methods=["DELETE"]),
        Route("/apps/{app_id}/secrets", list_secrets, methods=["GET"]),
        Route("/apps/{app_id}/secrets", put_secret, methods=["POST"]),
        Route("/apps/{app_id}/secrets/{name}", delete_secret, methods=["DELETE"]),
        Route("/apps/{app_id}/setup", setup, methods=["GET"]),
        Route("/apps/{app_id}/invites", invite, methods=["POST"]),
    ]
