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
    """Every route of the server: runtime plane (runs, events, logs), health, run views, endpoints,
    control plane, sessions (tools, files, terminal), automations, and `/openapi.json` describing
    them all.

    Starlette tries routes in list order, so the ones called most (events first, then runs and
    `/healthz`) come first; no two routes match the same method and path (a test checks it), so
    the order changes only the cost of matching, never which route answers. `/openapi.json` lists
    them by resource.
    """
    auth = Auth(services.access)
    hot = runtime.routes(services, auth)
    health_routes = health.routes(services)
    run_views = runs.routes(services, auth, services.run_views)
    endpoint_routes = endpoints.routes(services, services.endpoints)
    control_routes = control.routes(services, auth)
    rest = [
        *sessions.routes(services, auth),
        *session_files.routes(services, auth, services.session_files),
        *automations.routes(services, auth, services.automations),
    ]
    documented = [*health_routes, *control_routes, *hot, *run_views, *endpoint_routes, *rest]
    # events lead: ingest is the call made most often
    hot = sorted(hot, key=lambda route: route.path != runtime.EVENTS_PATH)
    served = [*hot, *health_routes, *run_views, *endpoint_routes, *control_routes, *rest]
    return [*served, *openapi.routes(services, documented)]
