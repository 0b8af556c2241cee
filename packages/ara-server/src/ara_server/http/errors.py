"""The one mapping of errors to JSON responses: `{"error": {"code", "message", "details"?}}`."""

from __future__ import annotations

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from ..errors import ApiProblem

__all__ = ["CLIENT_CLOSED_REQUEST", "EXCEPTION_HANDLERS", "problem_response"]

log = structlog.get_logger("ara_server.api")

#: Status of a request whose client disconnected before it was read (never seen by that client).
CLIENT_CLOSED_REQUEST = 499


def problem_response(problem: ApiProblem) -> JSONResponse:
    """The JSON response of an `ApiProblem` (its status, body and headers)."""
    return JSONResponse(problem.body(), status_code=problem.status, headers=problem.headers or None)


async def _api_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiProblem)
    return problem_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return problem_response(ApiProblem(404, "not_found", f"no route {request.method} {request.url.path}"))
    if status == 405:
        return problem_response(
            ApiProblem(405, "method_not_allowed", f"{request.method} not allowed on {request.url.path}")
        )
    detail = exc.detail if isinstance(exc, HTTPException) else "error"
    return problem_response(ApiProblem(status, "http_error", str(detail)))


async def _client_disconnect(request: Request, exc: Exception) -> Response:
    """The client closed its connection before its request body was read: a client event, not a
    server error. The handler stopped at that read; nobody reads an answer (a debug line, and 499,
    the status proxies log for a request the client abandoned)."""
    log.debug("client disconnected before its request was read", method=request.method, path=request.url.path)
    return Response(status_code=CLIENT_CLOSED_REQUEST)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", path=request.url.path)
    return problem_response(ApiProblem(500, "internal", "internal server error"))


#: Starlette `exception_handlers` of the app.
EXCEPTION_HANDLERS = {
    ApiProblem: _api_problem,
    HTTPException: _http_error,
    ClientDisconnect: _client_disconnect,
    500: _server_error,
}
