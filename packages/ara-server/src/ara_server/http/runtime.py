"""Runtime-plane routes: sync and async runs, run status, events, and the log stream (SSE)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from ara_core import new_run_id
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..errors import ApiProblem
from ..services import Services
from ..services.callbacks import check_callback_url
from ..services.dispatch import resolve_request
from ..services.runs import public_run
from .auth import Auth
from .body import decode, decode_query, header, json_body
from .responses import json_response
from .schemas import MAX_IDEMPOTENCY_KEY, EventRequest, LogsQuery, RunRequest

#: A client-chosen run id: 1-128 characters of letters, digits, `.`, `_`, `:` and `-`.
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
__all__ = ["EVENTS_PATH", "MAX_IDEMPOTENCY_KEY", "routes"]

#: The event ingest route.
EVENTS_PATH = "/v1/apps/{app_id}/events"


#: Refusals of a run body's `input` carry their own code.
_RUN_CODES = {"$.input": "invalid_input"}


def _requested_agent(body: RunRequest) -> str:
    return body.agent_id or body.workflow_id or ""


def _idempotency_key(body: RunRequest, header: str) -> str | None:
    value = body.idempotency_key or header.strip() or None
    if value is not None and len(value) > MAX_IDEMPOTENCY_KEY:
        raise ApiProblem(
            422,
            "invalid_body",
            f"at `$.idempotency_key`: must be a string of at most {MAX_IDEMPOTENCY_KEY} characters",
        )
    return value


def _client_run_id(body: RunRequest) -> str | None:
    value = body.run_id
    if not value:
        return None
    if not RUN_ID.match(value):
        raise ApiProblem(
            422,
            "invalid_body",
            "at `$.run_id`: must be 1-128 letters, digits, '.', '_', ':' or '-', "
            "starting with a letter or digit",
        )
    return value


def routes(services: Services, auth: Auth) -> list[Route]:
    """The runtime-plane routes."""
    runs, settings = services.runs, services.settings

    async def raw_body(request: Request) -> dict[str, Any]:
        return await json_body(request, limit=settings.max_run_bytes, max_depth=settings.max_json_depth)

    async def run_body(request: Request) -> tuple[RunRequest, dict[str, Any]]:
        raw = await raw_body(request)
        return decode(raw, RunRequest, codes=_RUN_CODES), raw

    async def run(request: Request) -> Response:
        app = await auth.runtime_app(request)
        body, _ = await run_body(request)
        run_input = body.input or {}
        if body.warmup:
            return JSONResponse(
                {
                    "ok": True,
                    "run_id": new_run_id(),
                    "app_id": app["id"],
                    "warmup": True,
                    "status": "completed",
                }
            )
        target = resolve_request(app, _requested_agent(body))
        agent_id = target.agent_id
        done = await runs.run_sync(app, agent_id, run_input, target=target)
        result = done.get("result") or {"output_text": "", "tool_calls": []}
        return JSONResponse(
            {
                "ok": done["status"] == "completed",
                "run_id": done["run_id"],
                "app_id": app["id"],
                "agent_id": agent_id,
                "workflow_id": target.workflow_id,
                "status": done["status"],
                "warmup": False,
                "result": result,
                "trace": done.get("trace") or [],
                "error": done.get("error"),
            }
        )

    async def submit_run(request: Request) -> Response:
        app = await auth.runtime_app(request)
        body, raw = await run_body(request)
        run_input = body.input or {}
        target = resolve_request(app, _requested_agent(body))
        agent_id = target.agent_id
        mode = body.response_mode or "poll"
        # stored as sent: a newer client's extra callback keys are kept
        callback: dict[str, Any] | None = raw.get("callback") if body.callback is not None else None
        if mode == "webhook":
            if body.callback is None:
                raise ApiProblem(
                    422, "invalid_body", "at `$.callback`: webhook mode needs a callback object with a url"
                )
            await check_callback_url(body.callback.url, allow_private=settings.allow_private_callbacks)
        key = _idempotency_key(body, request.headers.get("x-idempotency-key", ""))
        run_id = _client_run_id(body)
        row, created = await runs.submit(
            app,
            agent_id,
            run_input,
            run_id=run_id,
            idempotency_key=key,
            callback=callback if mode == "webhook" else None,
            target=target,
        )
        if row["app_id"] != app["id"] or (
            not created and run_id is not None and key is not None and row.get("idempotency_key") != key
        ):
            # Run ids are unique per server: another run (of this or another app) has this id.
            raise ApiProblem(
                409, "run_id_taken", f"run id {run_id!r} is already used; choose another or omit run_id"
            )
        return JSONResponse(
            {"ok": True, "run": public_run(row), "run_id": row["run_id"], "created": created},
            202 if created else 200,
        )

    async def run_status(request: Request) -> Response:
        app = await auth.runtime_app(request)
        row = await runs.get(app["id"], request.path_params["run_id"])
        if row is None:
            raise ApiProblem(404, "not_found", f"run {request.path_params['run_id']!r} not found")
        return JSONResponse({"ok": True, "run": public_run(row)})

    async def cancel_run(request: Request) -> Response:
        app = await auth.runtime_app(request)
        run_id = request.path_params["run_id"]
        state, row = await runs.cancel(app["id"], run_id)
        if row is None:
            raise ApiProblem(404, "not_found", f"run {run_id!r} not found")
        if state == "finished" and row["status"] != "cancelled":
            raise ApiProblem(
                409, "run_finished", f"run {run_id!r} already ended ({row['status']}); nothing to cancel"
            )
        ended = row["status"] == "cancelled"
        return JSONResponse({"ok": True, "run": public_run(row), "cancelled": ended}, 200 if ended else 202)

    async def events(request: Request) -> Response:
        app = await auth.runtime_app(request)
        raw = await raw_body(request)
        decode(raw, EventRequest, code="invalid_event")  # the raw body is recorded as sent
        key = (header(request, "x-idempotency-key") or "").strip() or None
        if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
            raise ApiProblem(
                422,
                "invalid_body",
                f"X-Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY} characters",
            )
        response, new = await services.dispatch.event(app, raw, key)
        return json_response(response, 202 if new else 200)

    async def logs_stream(request: Request) -> Response:
        app = await auth.runtime_app(request)
        follow = decode_query(request, LogsQuery).follow.lower() != "false"
        heartbeat = settings.log_heartbeat_seconds

        async def stream() -> AsyncIterator[bytes]:
            last = 0
            quiet = 0.0
            while not await request.is_disconnected():
                rows = await services.logbus.after(app["id"], last)
                for row in rows:
                    last = row["id"]
                    data = {
                        "id": row["id"],
                        "timestamp": row["created_at"].isoformat(),
                        "level": row["level"],
                        "run_id": row["run_id"],
                        "event_type": row["event_type"],
                        "message": row["message"],
                    }
                    yield f"data: {json.dumps(data)}\n\n".encode()
                if rows:
                    quiet = 0.0
                    continue
                if not follow:
                    return
                if quiet >= heartbeat:
                    quiet = 0.0
                    yield b": heartbeat\n\n"
                started = asyncio.get_running_loop().time()
                await services.logbus.wait(min(1.0, heartbeat))
                quiet += asyncio.get_running_loop().time() - started

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return [
        Route("/v1/apps/{app_id}/run", run, methods=["POST"]),
        Route("/v1/apps/{app_id}/runs", submit_run, methods=["POST"]),
        Route("/v1/apps/{app_id}/runs/{run_id}", run_status, methods=["GET"]),
        Route("/v1/apps/{app_id}/runs/{run_id}/cancel", cancel_run, methods=["POST"]),
        Route(EVENTS_PATH, events, methods=["POST"]),
        Route("/v1/apps/{app_id}/logs/stream", logs_stream, methods=["GET"]),
    ]
