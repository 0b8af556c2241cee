"""Runs you can see: `GET /v1/apps/{app_id}/runs` (filters, cursor pagination, newest first) and
`GET /v1/apps/{app_id}/runs/{run_id}/events` (Server-Sent Events, resumable with `Last-Event-ID`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..errors import ApiProblem
from ..services import Services
from ..services.run_views import RunQuery, RunViews
from .auth import Auth
from .body import decode_query
from .schemas import RunEventsQuery

__all__ = ["decode_query", "routes"]


def routes(services: Services, auth: Auth, views: RunViews) -> list[Route]:
    """The run list and run event routes."""
    heartbeat = services.settings.log_heartbeat_seconds

    async def list_runs(request: Request) -> Response:
        app = await auth.runtime_app(request)
        query = decode_query(request, RunQuery)
        rows, cursor = await views.list(str(app["id"]), query)
        return JSONResponse({"ok": True, "runs": rows, "next_cursor": cursor})

    async def run_events(request: Request) -> Response:
        app = await auth.runtime_app(request)
        run_id = request.path_params["run_id"]
        await views.exists(str(app["id"]), run_id)
        last = request.headers.get("last-event-id") or decode_query(request, RunEventsQuery).last_event_id
        if last is not None and last != "end" and not (last.isdigit() and len(last) <= 18):
            raise ApiProblem(
                422, "invalid_header", "at `Last-Event-ID`: must be the id of an event of this stream"
            )

        async def stream() -> AsyncIterator[bytes]:
            quiet = 0
            async for event in views.events(str(app["id"]), run_id, last, request.is_disconnected):
                if event is None:
                    quiet += 1
                    if quiet >= max(1, int(heartbeat)):
                        quiet = 0
                        yield b": keep-alive\n\n"
                    continue
                quiet = 0
                data = json.dumps(event.data, default=str)
                yield f"id: {event.id}\nevent: {event.event}\ndata: {data}\n\n".encode()

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return [
        Route("/v1/apps/{app_id}/runs", list_runs, methods=["GET"]),
        Route("/v1/apps/{app_id}/runs/{run_id}/events", run_events, methods=["GET"]),
    ]
