"""`AraRuntimeClient`: the user-session runtime API (session, tools, skills, control, chat)."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlencode

from ara_http import (
    ApiError,
    BearerAuth,
    ControlPlaneAuth,
    HttpClient,
    load_dotenv,
    resolve_base_url,
    resolve_control_token,
)

from .errors import ChatError

__all__ = ["AraRuntimeClient"]


class AraRuntimeClient:
    """Programmatic access to a running Ara session: chat, tools, skills, control.

    Args:
        api_key: The user's API key or JWT.
        base_url: API base URL (default: resolved like `AraClient`'s).
        auth: An `httpx.Auth` for every call (default: `Authorization: Bearer <api_key>`).
        transport: httpx transport for tests.
    """

    def __init__(
        self, *, api_key: str, base_url: str | None = None, auth: Any = None, transport: Any = None
    ) -> None:
        self.api_key = api_key
        self.base_url = (base_url or resolve_base_url()).rstrip("/")
        self._http = HttpClient(self.base_url, auth=auth or BearerAuth(api_key), transport=transport)

    @classmethod
    def from_env(cls, *, cwd: str | os.PathLike[str] | None = None, **kwargs: Any) -> AraRuntimeClient:
        """Build from the environment (`.env`, `ARA_API_KEY`, a running `ara dev`, the stored login).

        Raises:
            MissingCredentialsError: No credentials; the message names the server and says to start
                `ara dev` or run `ara auth login` (a `RuntimeError`).
        """
        load_dotenv(cwd)
        base = resolve_base_url()
        token = resolve_control_token(base_url=base)
        # The token is resolved again per request, so a stored JWT is refreshed when it nears expiry.
        return cls(**{"api_key": token, "base_url": base, "auth": ControlPlaneAuth(base), **kwargs})

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> AraRuntimeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
        return self._http.request("GET", f"{path}?{query}" if query else path)

    def session_start(self) -> Any:
        """`POST /session/start`."""
        return self._http.request("POST", "/session/start", json={}, timeout=120)

    def session_status(self) -> Any:
        """`GET /session/status`."""
        return self._http.request("GET", "/session/status")

    def session_stop(self) -> dict[str, Any]:
        """`POST /session/stop`; 204/None -> `{"ok": true}`, a non-dict -> `{"ok": true, "result": x}`."""
        result = self._http.request("POST", "/session/stop", json={})
        if result is None:
            return {"ok": True}
        return result if isinstance(result, dict) else {"ok": True, "result": result}

    def capabilities(self, *, session_id: str = "", agent_id: str = "") -> Any:
        """`GET /session/runtime/capabilities`."""
        return self._get("/session/runtime/capabilities", {"session_id": session_id, "agent_id": agent_id})

    def skills(self, *, session_id: str = "") -> Any:
        """`GET /session/runtime/skills`."""
        return self._get("/session/runtime/skills", {"session_id": session_id})

    def tools(self, *, session_id: str = "", kind: str = "all", agent_id: str = "") -> Any:
        """`GET /session/runtime/tools` (`kind`: all, builtin, app, connector)."""
        return self._get(
            "/session/runtime/tools", {"session_id": session_id, "kind": kind, "agent_id": agent_id}
        )

    def execute_tool(
        self,
        *,
        session_id: str,
        tool_name: str,
        args: dict[str, Any] | None = None,
        agent_id: str | None = None,
    ) -> Any:
        """`POST /session/runtime/tools/execute`: run a sandbox tool directly."""
        return self._http.request(
            "POST",
            "/session/runtime/tools/execute",
            json={
                "session_id": session_id,
                "tool_name": tool_name,
                "args": dict(args or {}),
                "agent_id": agent_id or None,
            },
        )

    def control_actions(self, *, session_id: str = "") -> Any:
        """`GET /session/runtime/control/actions`."""
        return self._get("/session/runtime/control/actions", {"session_id": session_id})

    def control_call(
        self, *, session_id: str, action: str, args: dict[str, Any] | None = None, timeout_ms: int = 8000
    ) -> Any:
        """`POST /session/runtime/control/call` (needs the app UI connected)."""
        return self._http.request(
            "POST",
            "/session/runtime/control/call",
            json={
                "session_id": session_id,
                "action": action,
                "args": dict(args or {}),
                "timeout_ms": timeout_ms,
            },
        )

    def chat(
        self, *, message: str, model: str = "", conversation_id: str = "", timeout: int = 120
    ) -> dict[str, Any]:
        """Send a message through the agent loop (`POST /chat`, server-sent events).

        Returns:
            `{"text", "tool_calls": [{"name", "args", "result"}], "reasoning"?}`.

        Raises:
            ChatError: `chat() failed (<code>): <body>` (body not hidden), or the stream's `error`
                event text (a `RuntimeError`).
        """
        body: dict[str, Any] = {"messages": [{"role": "user", "content": message}]}
        if model:
            body["model"] = model
        if conversation_id:
            body["chatId"] = conversation_id
        text, reasoning = [], []
        calls: dict[str, dict[str, Any]] = {}
        try:
            for event in self._http.stream_events("POST", "/chat", json=body, timeout=timeout):
                if not isinstance(event, dict):
                    continue
                kind = event.get("type")
                if kind == "text-delta":
                    text.append(str(event.get("delta") or ""))
                elif kind == "reasoning-delta":
                    reasoning.append(str(event.get("delta") or ""))
                elif kind == "tool-input-available":
                    calls[str(event.get("toolCallId"))] = {
                        "name": event.get("toolName"),
                        "args": event.get("input"),
                        "result": "",
                    }
                elif kind == "tool-output-available":
                    entry = calls.get(str(event.get("toolCallId")))
                    if entry is not None:
                        entry["result"] = event.get("output")
                elif kind == "error":
                    raise ChatError(str(event.get("errorText") or "Agent error"))
        except ApiError as exc:
            code = exc.status if exc.status is not None else "network"
            raise ChatError(f"chat() failed ({code}): {exc.body or exc}", status=exc.status) from None
        out: dict[str, Any] = {"text": "".join(text), "tool_calls": list(calls.values())}
        if reasoning:
            out["reasoning"] = "".join(reasoning)
        return out
