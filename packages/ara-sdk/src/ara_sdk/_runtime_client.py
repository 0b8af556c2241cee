"""`AraRuntimeClient`: the user-session runtime API (session, tools, skills, control, chat)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from ara_http import (
    ApiError,
    BearerAuth,
    ControlPlaneAuth,
    HttpClient,
    load_dotenv,
    resolve_base_url,
    resolve_control_token,
)

from .errors import ChatError, InvalidOptionError

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

    # ---------------------------------------------------------------------------- automations
    def automation_list(self) -> Any:
        """`GET /automations/jobs`: `{"jobs": [job, ...]}` (oldest first)."""
        return self._http.request("GET", "/automations/jobs")

    def automation_add(
        self,
        *,
        name: str,
        payload: dict[str, Any],
        every_seconds: int | None = None,
        cron: str | None = None,
        timezone: str = "UTC",
        deliver: bool = False,
        execution_mode: str = "sandbox_required",
        misfire_policy: str = "fire_latest_only",
        max_retries: int = 3,
        retry_backoff_seconds: int = 30,
    ) -> Any:
        """`POST /automations/jobs`: a job that runs `payload` every `every_seconds` or on the
        `cron` expression (exactly one). `agent_turn` and `app_agent_call` payloads get
        `deliver: true` and `channel: "linq"` unless set, as the original client does; `deliver`
        sets `deliver: true` on any payload. Returns `{"job": job}`.

        Raises:
            InvalidOptionError (a `ValueError`): Not exactly one of `every_seconds` and `cron`, or an
                empty payload.
            ara_http.UnprocessableEntityError: A value the server refuses (the message names it).
        """
        if (every_seconds is None) == (cron is None):
            raise InvalidOptionError("give exactly one of every_seconds and cron")
        if not payload:
            raise InvalidOptionError("payload must be a non-empty object")
        body = {
            "name": name,
            "schedule_kind": "every" if every_seconds is not None else "cron",
            "every_seconds": every_seconds,
            "schedule_expr": cron,
            "timezone": timezone,
            "payload": _payload_defaults(payload, deliver),
            "execution_mode": execution_mode,
            "misfire_policy": misfire_policy,
            "max_retries": max_retries,
            "retry_backoff_seconds": retry_backoff_seconds,
        }
        return self._http.request("POST", "/automations/jobs", json=body)

    def automation_update(
        self,
        *,
        job_id: str,
        name: str | None = None,
        payload: dict[str, Any] | None = None,
        deliver: bool = False,
        enabled: bool | None = None,
        max_retries: int | None = None,
        retry_backoff_seconds: int | None = None,
    ) -> Any:
        """`PATCH /automations/jobs/{id}` with the given fields only. Returns `{"job": job}`.

        Raises:
            InvalidOptionError (a `ValueError`): No field given.
        """
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if payload is not None:
            body["payload"] = _payload_defaults(payload, deliver)
        if enabled is not None:
            body["enabled"] = enabled
        if max_retries is not None:
            body["max_retries"] = max_retries
        if retry_backoff_seconds is not None:
            body["retry_backoff_seconds"] = retry_backoff_seconds
        if not body:
            raise InvalidOptionError("give at least one field to update")
        return self._http.request("PATCH", f"/automations/jobs/{quote(job_id, safe='')}", json=body)

    def automation_enable(self, *, job_id: str) -> Any:
        """Enable a job (`PATCH` with `{"enabled": true}`)."""
        return self.automation_update(job_id=job_id, enabled=True)

    def automation_disable(self, *, job_id: str) -> Any:
        """Disable a job (`PATCH` with `{"enabled": false}`)."""
        return self.automation_update(job_id=job_id, enabled=False)

    def automation_remove(self, *, job_id: str, disable_fallback: bool = True) -> dict[str, Any]:
        """Delete a job (`DELETE /automations/jobs/{id}`); when that fails and `disable_fallback`,
        disable it instead. Returns `{"ok", "action", "job_id", "result"?, "delete_error"?,
        "disable_error"?}` with `action` `deleted`, `disabled_after_delete_failure`,
        `delete_failed` or `delete_failed_disable_failed` (`ok` false for the last two)."""
        try:
            result = self._http.request("DELETE", f"/automations/jobs/{quote(job_id, safe='')}")
            return {"ok": True, "action": "deleted", "job_id": job_id, "result": result}
        except ApiError as exc:
            failed: dict[str, Any] = {
                "ok": False,
                "action": "delete_failed",
                "job_id": job_id,
                "delete_error": str(exc),
            }
        if not disable_fallback:
            return failed
        try:
            result = self.automation_disable(job_id=job_id)
        except ApiError as exc:
            return {**failed, "action": "delete_failed_disable_failed", "disable_error": str(exc)}
        return {**failed, "ok": True, "action": "disabled_after_delete_failure", "result": result}

    def automation_runs(self, *, state: str = "") -> Any:
        """`GET /automations/runs[?state=]`: `{"runs": [run, ...]}`, newest first."""
        return self._get("/automations/runs", {"state": state})

    def automation_replay(self, *, run_id: str) -> Any:
        """`POST /automations/runs/{run_id}/replay`: `{"ok", "run"}` (a new, queued run)."""
        return self._http.request("POST", f"/automations/runs/{quote(run_id, safe='')}/replay", json={})

    # ---------------------------------------------------------------------------- files, terminal
    def files_list(self, *, path: str = "") -> Any:
        """`GET /session/files`: one directory's entries.

        Returns `{"ok", "path", "entries": [{"name", "path", "type", "size", "modified_at"}]}`.
        """
        return self._get("/session/files", {"path": _remote(path)})

    def files_read(self, *, path: str) -> Any:
        """`GET /session/files/read`: `{"ok", "path", "content", "size"}` (UTF-8 text up to 1 MiB)."""
        return self._get("/session/files/read", {"path": _remote(path)})

    def files_write(self, *, path: str, content: str) -> Any:
        """`POST /session/files/write`: `{"ok", "written": [{"path", "bytes"}]}`."""
        body = {"writes": [{"path": _remote(path), "content": content}], "restart": False}
        return self._http.request("POST", "/session/files/write", json=body)

    def files_upload(self, *, local: str | os.PathLike[str], path: str = "") -> Any:
        """`POST /session/files/upload` (multipart `path` and `file`): `{"ok", "path", "bytes"}`.
        An empty `path` stores the file at the workspace root under its own name."""
        source = Path(local)
        boundary = f"ara-{uuid.uuid4().hex}"
        name = source.name.replace('"', "_")
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="path"\r\n\r\n'.encode(),
            f"{_remote(path) if path else ''}\r\n".encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode(),
            source.read_bytes(),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        return self._http.request("POST", "/session/files/upload", content=b"".join(parts), headers=headers)

    def files_download(self, *, path: str) -> bytes:
        """`GET /session/files/download`: the file's bytes, as stored.

        Raises:
            NotFoundError: No such file (404); `UnprocessableEntityError` for a directory (422).
        """
        return self._http.request_bytes(
            "GET", f"/session/files/download?{urlencode({'path': _remote(path)})}"
        )

    def session_exec(self, *, command: str, timeout_seconds: int = 90) -> Any:
        """`POST /session/terminal/exec`: `{"ok", "exit_code", "stdout", "stderr", "timed_out",
        "duration_seconds", "truncated"}`; the timeout is clamped to 5-600 seconds."""
        timeout = max(5, min(600, int(timeout_seconds)))
        body = {"command": command, "timeout_seconds": timeout}
        return self._http.request("POST", "/session/terminal/exec", json=body, timeout=timeout + 30)

    def session_heartbeat(self) -> Any:
        """`POST /session/heartbeat`: `{"ok", "session_id", "last_seen_at", "expires_at"}`."""
        return self._http.request("POST", "/session/heartbeat", json={})

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


#: The workspace root as the session file routes name it.
WORKSPACE_ROOT = "/root/.ara/workspace"


def _remote(path: str) -> str:
    """A session path as the routes take it: relative paths are joined to `WORKSPACE_ROOT`."""
    if not path:
        return WORKSPACE_ROOT
    return path if path.startswith("/") else f"{WORKSPACE_ROOT}/{path}"


def _payload_defaults(payload: dict[str, Any], deliver: bool) -> dict[str, Any]:
    out = dict(payload)
    if out.get("kind") in ("agent_turn", "app_agent_call"):
        out.setdefault("deliver", True)
        out.setdefault("channel", "linq")
    if deliver:
        out["deliver"] = True
    return out
