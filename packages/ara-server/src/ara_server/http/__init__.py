"""The HTTP layer of ara-server: Starlette routers per resource (decode the request, call a
service, encode the response) and the one error mapping."""

from __future__ import annotations

from starlette.routing import Route

from ..services import Services
from . import control, health, runtime, sessions
from .auth import Auth
from .errors import EXCEPTION_HANDLERS

__all__ = ["EXCEPTION_HANDLERS", "all_routes"]


def all_routes(services: Services) -> list[Route]:
    """Every route of the server: health, control plane, runtime plane, sessions."""
    auth = Auth(services.access)
    return [
        *health.routes(services),
        *control.routes(services, auth),
        *runtime.routes(services, auth),
        *sessions.routes(services, auth),
    ]
