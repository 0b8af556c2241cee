"""Health routes: `/healthz` (the process answers) and `/readyz` (the database answers)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..services import Services

__all__ = ["routes"]


def routes(services: Services) -> list[Route]:
    """The health routes."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def readyz(request: Request) -> Response:
        try:
            await services.access.ready()
        except Exception as exc:  # database unreachable
            return JSONResponse({"ok": False, "error": {"code": "not_ready", "message": str(exc)}}, 503)
        return JSONResponse({"ok": True})

    return [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
