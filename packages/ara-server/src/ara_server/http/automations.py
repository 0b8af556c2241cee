"""Automation routes (`/automations/*`), scoped to the caller's account (user API key)."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..services import Services
from ..services.automations import AutomationService, JobCreate, JobUpdate, ReplayRequest
from .auth import Auth
from .body import decode, decode_query, json_body
from .schemas import StateQuery

__all__ = ["routes"]


def routes(services: Services, auth: Auth, automations: AutomationService) -> list[Route]:
    """The automation routes."""
    settings = services.settings

    async def body_of(request: Request) -> dict[str, object]:
        return await json_body(request, limit=settings.max_body_bytes, max_depth=settings.max_json_depth)

    async def list_jobs(request: Request) -> Response:
        account = await auth.account(request)
        jobs = await automations.list_jobs(str(account["id"]))
        return JSONResponse({"jobs": msgspec.to_builtins(jobs)})

    async def create_job(request: Request) -> Response:
        account = await auth.account(request)
        body = decode(await body_of(request), JobCreate)
        job = await automations.create(str(account["id"]), body)
        return JSONResponse({"job": msgspec.to_builtins(job)}, status_code=201)

    async def update_job(request: Request) -> Response:
        account = await auth.account(request)
        body = decode(await body_of(request), JobUpdate)
        job = await automations.update(str(account["id"]), request.path_params["job_id"], body)
        return JSONResponse({"job": msgspec.to_builtins(job)})

    async def delete_job(request: Request) -> Response:
        account = await auth.account(request)
        job_id = request.path_params["job_id"]
        await automations.delete(str(account["id"]), job_id)
        return JSONResponse({"ok": True, "id": job_id, "deleted": True})

    async def list_runs(request: Request) -> Response:
        account = await auth.account(request)
        query = decode_query(request, StateQuery)
        found = await automations.runs(str(account["id"]), query.state or None)
        return JSONResponse({"runs": msgspec.to_builtins(found)})

    async def replay(request: Request) -> Response:
        account = await auth.account(request)
        decode(await body_of(request), ReplayRequest)
        run = await automations.replay(str(account["id"]), request.path_params["run_id"])
        return JSONResponse({"ok": True, "run": msgspec.to_builtins(run)}, status_code=202)

    return [
        Route("/automations/jobs", list_jobs, methods=["GET"]),
        Route("/automations/jobs", create_job, methods=["POST"]),
        Route("/automations/jobs/{job_id}", update_job, methods=["PATCH"]),
        Route("/automations/jobs/{job_id}", delete_job, methods=["DELETE"]),
        Route("/automations/runs", list_runs, methods=["GET"]),
        Route("/automations/runs/{run_id}/replay", replay, methods=["POST"]),
    ]
