"""User sessions: one per account with a workspace directory, the builtin tools, and chat through
the model with those tools."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ..engine import ModelProvider, chat_events, provider_from_env
from ..errors import ApiProblem
from ..store import Store, apps
from ..store import sessions as sessions_store
from .automations import AutomationService

__all__ = ["BUILTIN_TOOLS", "SessionService", "ToolFailure", "run_builtin"]

EXEC_TIMEOUT_SECONDS = 60.0
MAX_OUTPUT_BYTES = 256 * 1024

#: Builtin tools: name -> (description, parameters schema).
BUILTIN_TOOLS: dict[str, tuple[str, dict[str, Any]]] = {
    "read_file": (
        "Read a text file of the workspace.",
        {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    ),
    "write_file": (
        "Write a text file in the workspace.",
        {
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"],
        },
    ),
    "edit_file": (
        "Replace text in a workspace file.",
        {
            "type": "object",
            "properties": {"path": {"type": "string"}, "old": {"type": "string"}, "new": {"type": "string"}},
            "required": ["path", "old", "new"],
        },
    ),
    "list_dir": (
        "List a workspace directory.",
        {"type": "object", "properties": {"path": {"type": "string", "default": "."}}, "required": []},
    ),
    "exec": (
        "Run a shell command in the workspace.",
        {
            "type": "object",
            "properties": {
                "command": {"type": "string"},
                "timeout_seconds": {"type": "number", "default": 60},
            },
            "required": ["command"],
        },
    ),
    "search_files": (
        "Find lines containing a text in workspace files.",
        {
            "type": "object",
            "properties": {"query": {"type": "string"}, "path": {"type": "string", "default": "."}},
            "required": ["query"],
        },
    ),
    "glob": (
        "List workspace files matching a glob pattern.",
        {"type": "object", "properties": {"pattern": {"type": "string"}}, "required": ["pattern"]},
    ),
    "delete_file": (
        "Delete a workspace file.",
        {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    ),
    "web_search": (
        "Search the web (not available on ara-server).",
        {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    ),
    "web_fetch": (
        "Fetch a URL (not available on ara-server).",
        {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]},
    ),
}
UNAVAILABLE = {
    "web_search",
    "web_fetch",
    "automation_create",
    "automation_list",
    "automation_update",
    "automation_delete",
}


#: Session tools served by the automation service (`/automations/*` as tools).
AUTOMATION_TOOLS = frozenset({"automation_create", "automation_list", "automation_update", "automation_delete"})


class ToolFailure(Exception):
    """A builtin tool could not do what was asked; the message says why."""


def _inside(root: Path, path: str) -> Path:
    target = (root / str(path or ".")).resolve()
    if target != root and root not in target.parents:
        raise ToolFailure(f"path {path!r} is outside the session workspace")
    return target


def _cap(text: str) -> str:
    return text if len(text) <= MAX_OUTPUT_BYTES else text[:MAX_OUTPUT_BYTES] + "\n[truncated]"


async def run_builtin(root: Path, name: str, args: dict[str, Any]) -> Any:
    """Execute one builtin tool in the workspace `root`.

    Raises:
        ToolFailure: Unknown or unavailable tool, bad arguments, path outside the workspace, I/O error.
    """
    root.mkdir(parents=True, exist_ok=True)
    if name in UNAVAILABLE:
        raise ToolFailure(
            f"{name} is not available on ara-server (no network tools or automations in local sessions)"
        )
    try:
        if name == "read_file":
            return await asyncio.to_thread(
                lambda: _cap(_inside(root, args["path"]).read_text(encoding="utf-8", errors="replace"))
            )
        if name == "write_file":

            def write() -> str:
                target = _inside(root, args["path"])
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(str(args.get("content", "")), encoding="utf-8")
                return "File written."

            return await asyncio.to_thread(write)
        if name == "edit_file":

            def edit() -> str:
                target = _inside(root, args["path"])
                text = target.read_text(encoding="utf-8")
                if str(args["old"]) not in text:
                    raise ToolFailure(f"text to replace not found in {args['path']}")
                target.write_text(text.replace(str(args["old"]), str(args["new"]), 1), encoding="utf-8")
                return "File edited."

            return await asyncio.to_thread(edit)
        if name == "list_dir":

            def listing() -> list[dict[str, Any]]:
                target = _inside(root, args.get("path", "."))
                return [
                    {"name": p.name, "type": "dir" if p.is_dir() else "file", "size": p.stat().st_size}
                    for p in sorted(target.iterdir())
                ]

            return await asyncio.to_thread(listing)
        if name == "glob":
            pattern = str(args["pattern"])
            return await asyncio.to_thread(
                lambda: sorted(
                    str(p.relative_to(root)) for p in root.glob(pattern) if root in p.resolve().parents
                )
            )
        if name == "search_files":

            def search() -> list[dict[str, Any]]:
                base, hits = _inside(root, args.get("path", ".")), []
                for p in sorted(base.rglob("*")):
                    if p.is_file() and len(hits) < 200:
                        for n, line in enumerate(
                            p.read_text(encoding="utf-8", errors="replace").splitlines(), 1
                        ):
                            if str(args["query"]) in line:
                                hits.append({"path": str(p.relative_to(root)), "line": n, "text": line[:500]})
                return hits

            return await asyncio.to_thread(search)
        if name == "delete_file":

            def delete() -> str:
                target = _inside(root, args["path"])
                if not target.is_file():
                    raise ToolFailure(f"no file {args['path']!r}")
                target.unlink()
                return "File deleted."

            return await asyncio.to_thread(delete)
        if name == "exec":
            timeout = float(args.get("timeout_seconds") or EXEC_TIMEOUT_SECONDS)
            proc = await asyncio.create_subprocess_exec(
                "bash",
                "-c",
                str(args["command"]),
                cwd=str(root),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root), "LANG": "C.UTF-8"},
            )
            try:
                out, err = await asyncio.wait_for(proc.communicate(), timeout)
            except TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
                raise ToolFailure(f"command timed out after {timeout:g} s") from None
            return {
                "exit_code": proc.returncode,
                "stdout": _cap(out.decode("utf-8", "replace")),
                "stderr": _cap(err.decode("utf-8", "replace")),
            }
    except KeyError as exc:
        raise ToolFailure(f"{name} needs the argument {exc.args[0]!r}") from None
    except OSError as exc:
        raise ToolFailure(f"{name}: {exc.strerror or exc}") from None
    raise ToolFailure(f"unknown tool {name!r}; builtin tools: {', '.join(sorted(BUILTIN_TOOLS))}")


class SessionService:
    """Session state and the tools and chat of a session.

    Args:
        store: The store.
        data_dir: The server's data directory (workspaces live under `sessions/<account id>/`).
        provider: Model provider for chat (default: from the environment, per chat).
    """

    def __init__(self, store: Store, data_dir: Path, provider: ModelProvider | None = None) -> None:
        self.store, self.data_dir, self.provider = store, data_dir, provider
        #: Serves the `automation_*` tools (set by the composition root).
        self.automations: AutomationService | None = None

    def workspace(self, account_id: str) -> Path:
        """The account's session workspace directory."""
        return (self.data_dir / "sessions" / account_id / "workspace").resolve()

    async def start(self, account_id: str) -> tuple[dict[str, Any], bool]:
        """The running session, or a new one (its workspace created). Returns `(row, created)`."""
        row, created = await self.store.run(sessions_store.start_session, account_id)
        self.workspace(account_id).mkdir(parents=True, exist_ok=True)
        return row, created

    async def latest(self, account_id: str) -> dict[str, Any] | None:
        """The account's latest session, if any."""
        return await self.store.run(sessions_store.latest_session, account_id)

    async def stop(self, account_id: str) -> dict[str, Any] | None:
        """Stop the running session; returns it, or `None` when none runs."""
        return await self.store.run(sessions_store.stop_session, account_id)

    async def running(self, account_id: str, session_id: str | None) -> dict[str, Any]:
        """The account's running session (which must be `session_id` when given).

        Raises:
            ApiProblem: 404 `session_not_found`; 409 `session_not_running`.
        """
        row = await self.latest(account_id)
        if session_id and (row is None or row["id"] != session_id):
            raise ApiProblem(
                404, "session_not_found", f"session {session_id!r} not found; start one with `ara start`"
            )
        if row is None or row["status"] != "running":
            raise ApiProblem(409, "session_not_running", "no running session; start one with `ara start`")
        return row

    async def apps(self, account_id: str) -> list[dict[str, Any]]:
        """The apps the account can see."""
        return await self.store.run(apps.list_apps, account_id)

    async def app_tools(self, account_id: str) -> list[dict[str, Any]]:
        """The tools of the account's apps: `name`, `kind` (`app`), `app` (slug), `description`."""
        out: list[dict[str, Any]] = []
        for app in await self.apps(account_id):
            for tool in (app["manifest"].get("agent") or {}).get("tools") or []:
                fn = tool.get("function") or {}
                out.append(
                    {
                        "name": fn.get("name"),
                        "kind": "app",
                        "app": app["slug"],
                        "description": fn.get("description", ""),
                    }
                )
        return out

    @staticmethod
    def builtins() -> list[dict[str, Any]]:
        """The builtin tools: `name`, `kind` (`builtin`), `description`, `parameters`, `available`."""
        return [
            {
                "name": n,
                "kind": "builtin",
                "description": d,
                "parameters": p,
                "available": n not in UNAVAILABLE,
            }
            for n, (d, p) in BUILTIN_TOOLS.items()
        ]

    async def agents_and_skills(self, account_id: str) -> tuple[list[dict[str, Any]], list[str]]:
        """The agents (`id`, `app`) of the account's apps and their skills (deduplicated, in order)."""
        agents: list[dict[str, Any]] = []
        skills: list[str] = []
        for app in await self.apps(account_id):
            for agent in (app["manifest"].get("agent") or {}).get("agents") or []:
                agents.append({"id": agent.get("id"), "app": app["slug"]})
                skills += [s for s in agent.get("skills") or [] if s not in skills]
        return agents, skills

    async def execute(self, account_id: str, name: str, args: dict[str, Any]) -> Any:
        """Run a builtin tool in the account's workspace.

        Raises:
            ApiProblem: 422 `tool_failed`.
        """
        if name in AUTOMATION_TOOLS and self.automations is not None:
            return await self.automations.tool(account_id, name, args)
        try:
            return await run_builtin(self.workspace(account_id), name, args)
        except ToolFailure as exc:
            raise ApiProblem(422, "tool_failed", str(exc)) from None

    async def chat(self, account_id: str, text: str) -> AsyncIterator[dict[str, Any]]:
        """Answer `text` with the model and the builtin tools; yields UI stream events
        (`text-delta`, `tool-input-available`, `tool-output-available`, `error`)."""
        root = self.workspace(account_id)
        provider = self.provider or provider_from_env()
        tools = [
            {"type": "function", "function": {"name": n, "description": d, "parameters": p}}
            for n, (d, p) in BUILTIN_TOOLS.items()
            if n not in UNAVAILABLE
        ]
        async def call(name: str, arguments: dict[str, Any]) -> Any:
            try:
                return await run_builtin(root, name, arguments)
            except ToolFailure as exc:
                return f"error: {exc}"

        async for event in chat_events(
            provider, instructions="You are the user's Ara agent.", text=text, tools=tools, call_tool=call
        ):
            yield event
