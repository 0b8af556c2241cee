"""Public endpoint routes: `/v1/apps/{app_id}/endpoints/{label}` with the endpoint's declared
method and auth. `Prefer: respond-async` answers `202` with the run id instead of waiting."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..services import Services
from ..services.endpoints import EndpointCall, EndpointService
from .body import read_body

__all__ = ["ENDPOINT_METHODS", "routes"]

#: Methods an endpoint may declare.
ENDPOINT_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _wants_async(request: Request) -> bool:
    prefer = request.headers.get("prefer", "")
    return any(part.strip().lower() == "respond-async" for part in prefer.replace(";", ",").split(","))


def routes(services: Services, endpoints: EndpointService) -> list[Route]:
    """The endpoint route."""
    settings = services.settings

    async def endpoint(request: Request) -> Response:
        raw = await read_body(request, limit=settings.max_run_bytes)
        call = EndpointCall(
            method=request.method.upper(),
            body=raw,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            respond_async=_wants_async(request),
        )
        status, body = await endpoints.call(request.path_params["app_id"], request.path_params["label"], call)
        headers = {"Preference-Applied": "respond-async"} if status == 202 else None
        return JSONResponse(body, status_code=status, headers=headers)

    return [Route("/v1/apps/{app_id}/endpoints/{label}", endpoint, methods=ENDPOINT_METHODS)]
