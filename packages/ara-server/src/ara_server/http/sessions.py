"""Session routes: `/session/*` (start, status, stop, runtime tools, control) and `/chat` (SSE)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..errors import ApiProblem
from ..services import Services
from .auth import Auth
from .body import decode, decode_query, json_body
from .schemas import ChatRequest, ControlCall, SessionQuery, ToolExecute, ToolsQuery

__all__ = ["routes"]


def routes(services: Services, auth: Auth) -> list[Route]:
    """The session routes."""
    sessions = services.sessions
    settings = services.settings

    async def small_body(request: Request) -> dict[str, Any]:
        return await json_body(request, limit=settings.max_body_bytes, max_depth=settings.max_json_depth)

    def public(row: dict[str, Any] | None) -> dict[str, Any]:
        if row is None:
            return {"ok": True, "status": "none", "session_id": None}
        return {
            "ok": True,
            "session_id": row["id"],
            "status": row["status"],
            "created_at": row["created_at"].isoformat(),
            "workspace": str(sessions.workspace(row["account_id"])),
        }

    async def start(request: Request) -> Response:
        account = await auth.account(request)
        row, created = await sessions.start(account["id"])
        return JSONResponse({**public(row), "created": created})

    async def status(request: Request) -> Response:
        account = await auth.account(request)
        return JSONResponse(public(await sessions.latest(account["id"])))

    async def stop(request: Request) -> Response:
        account = await auth.account(request)
        row = await sessions.stop(account["id"])
        return JSONResponse(
            {
                "ok": True,
                "status": "stopped",
                "session_id": row["id"] if row else None,
                "was_running": row is not None,
            }
        )

    async def capabilities(request: Request) -> Response:
        account = await auth.account(request)
        row = await sessions.running(account["id"], decode_query(request, SessionQuery).session_id)
        agents, skills = await sessions.agents_and_skills(account["id"])
        tools = [t["name"] for t in sessions.builtins() + await sessions.app_tools(account["id"])]
        return JSONResponse(
            {
                "session_id": row["id"],
                "session_type": "ara-server",
                "sandbox_url_present": False,
                "tools": tools,
                "skills": skills,
                "agents": agents,
                "control": {"connected": False, "actions": []},
            }
        )

    async def skills(request: Request) -> Response:
        account = await auth.account(request)
        row = await sessions.running(account["id"], decode_query(request, SessionQuery).session_id)
        _, names = await sessions.agents_and_skills(account["id"])
        return JSONResponse({"session_id": row["id"], "skills": [{"name": s} for s in names]})

    async def tools(request: Request) -> Response:
        account = await auth.account(request)
        query = decode_query(request, ToolsQuery, code="invalid_kind")
        await sessions.running(account["id"], query.session_id)
        kind = query.kind
        listed = (sessions.builtins() if kind in ("all", "builtin") else []) + (
            await sessions.app_tools(account["id"]) if kind in ("all", "app") else []
        )
        return JSONResponse({"tools": listed})

    async def execute(request: Request) -> Response:
        account = await auth.account(request)
        body = decode(await small_body(request), ToolExecute)
        row = await sessions.running(account["id"], body.session_id or None)
        result = await sessions.execute(account, body.tool_name, body.args)
        return JSONResponse(
            {"ok": True, "session_id": row["id"], "tool_name": body.tool_name, "result": result}
        )

    async def control_actions(request: Request) -> Response:
        account = await auth.account(request)
        await sessions.running(account["id"], decode_query(request, SessionQuery).session_id)
        return JSONResponse({"actions": []})

    async def control_call(request: Request) -> Response:
        account = await auth.account(request)
        body = decode(await small_body(request), ControlCall)
        await sessions.running(account["id"], body.session_id or None)
        raise ApiProblem(
            409, "no_ui", "no app UI is connected to this session; control actions need the Ara app open"
        )

    async def chat(request: Request) -> Response:
        account = await auth.account(request)
        body = decode(await small_body(request), ChatRequest)
        content = body.messages[-1].content
        text = "" if content is None else content if isinstance(content, str) else str(content)

        async def stream() -> AsyncIterator[bytes]:
            async for event in sessions.chat(account, text):
                yield f"data: {json.dumps(event)}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    return [
        Route("/session/start", start, methods=["POST"]),
        Route("/session/status", status, methods=["GET"]),
        Route("/session/stop", stop, methods=["POST"]),
        Route("/session/runtime/capabilities", capabilities, methods=["GET"]),
        Route("/session/runtime/skills", skills, methods=["GET"]),
        Route("/session/runtime/tools", tools, methods=["GET"]),
        Route("/session/runtime/tools/execute", execute, methods=["POST"]),
        Route("/session/runtime/control/actions", control_actions, methods=["GET"]),
        Route("/session/runtime/control/call", control_call, methods=["POST"]),
        Route("/chat", chat, methods=["POST"]),
    ]
