"""The HTTP layer of ara-server: Starlette routers per resource (decode the request, call a
service, encode the response) and the one error mapping."""

from __future__ import annotations

from starlette.routing import Route

from ..services import Services
from . import automations, control, endpoints, health, openapi, runs, runtime, session_files, sessions
from .auth import Auth
from .errors import EXCEPTION_HANDLERS

__all__ = ["EXCEPTION_HANDLERS", "all_routes"]


def all_routes(services: Services) -> list[Route]:
    """Every route of the server: health, control plane, runtime plane (runs, endpoints), sessions
    (tools, files, terminal), automations, and `/openapi.json` describing them all."""
    auth = Auth(services.access)
    served = [
        *health.routes(services),
        *control.routes(services, auth),
        *runtime.routes(services, auth),
        *runs.routes(services, auth, services.run_views),
        *endpoints.routes(services, services.endpoints),
        *sessions.routes(services, auth),
        *session_files.routes(services, auth, services.session_files),
        *automations.routes(services, auth, services.automations),
    ]
    return [*served, *openapi.routes(services, served)]
