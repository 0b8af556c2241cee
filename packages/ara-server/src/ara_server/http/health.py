"""Health routes: `/healthz` (the process answers) and `/readyz` (the database answers, which
sandbox protections are on, and the warm sandboxes with their memory)."""

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
        isolation = (await services.sessions.isolation()).to_dict()
        try:
            await services.access.ready()
        except Exception as exc:  # database unreachable
            return JSONResponse(
                {
                    "ok": False,
                    "error": {"code": "not_ready", "message": f"database unreachable: {type(exc).__name__}"},
                    "isolation": isolation,
                },
                503,
            )
        warm = services.runs.execution.warm_sandboxes()
        return JSONResponse({"ok": True, "isolation": isolation, "warm_sandboxes": warm})

    return [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
