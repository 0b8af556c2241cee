"""User sessions: one per account with a workspace directory, the builtin tools, and chat through
the model with those tools."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import msgspec
from msgspec import UnsetType

from ..engine import (
    IsolationStatus,
    ModelProvider,
    chat_events,
    isolation_status,
    provider_from_env,
    run_sandboxed,
)
from ..errors import ApiProblem
from ..store import Store, apps
from ..store import sessions as sessions_store
from . import workspace_fs
from .automations import AutomationService
from .workspace_fs import Workspace, WorkspacePathError

__all__ = ["BUILTIN_TOOLS", "TOOL_ARGS", "SessionService", "ToolFailure", "ToolRefused", "run_builtin"]

#: Default and largest `timeout_seconds` of the session `exec` tool, in seconds.
EXEC_TIMEOUT_SECONDS = 60.0
MAX_EXEC_TIMEOUT_SECONDS = 600.0
MAX_OUTPUT_BYTES = 256 * 1024
MAX_GLOB_RESULTS = 10_000
#: Most lines `search_files` returns, and the bytes it reads of each file.
MAX_SEARCH_HITS = 200
MAX_SEARCH_FILE_BYTES = 8 * 1024 * 1024
#: Largest file `edit_file` changes, in bytes.
MAX_EDIT_BYTES = 8 * 1024 * 1024

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
        "List a workspace directory: name, type (dir, file, link or other) and size in bytes of each entry.",
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
    "automation_create": (
        "Create a scheduled automation job of your account (every N seconds or a cron expression).",
        {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "schedule_kind": {"type": "string", "enum": ["every", "cron"]},
                "every_seconds": {"type": "integer", "minimum": 1},
                "schedule_expr": {"type": "string"},
                "timezone": {"type": "string", "default": "UTC"},
                "payload": {"type": "object"},
            },
            "required": ["name", "schedule_kind", "payload"],
        },
    ),
    "automation_list": ("List your automation jobs.", {"type": "object", "properties": {}, "required": []}),
    "automation_update": (
        "Change an automation job (name, enabled, payload, max_retries, retry_backoff_seconds).",
        {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "enabled": {"type": "boolean"},
                "name": {"type": "string"},
            },
            "required": ["id"],
        },
    ),
    "automation_delete": (
        "Delete an automation job.",
        {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
    ),
}
UNAVAILABLE = {"web_search", "web_fetch"}


#: Session tools served by the automation service (`/automations/*` as tools).
AUTOMATION_TOOLS = frozenset(
    {"automation_create", "automation_list", "automation_update", "automation_delete"}
)


class ToolFailure(Exception):
    """A builtin tool could not do what was asked; the message says why."""


class ToolRefused(Exception):
    """The account may not use the session's workspace tools (the message says why)."""


Path_ = Annotated[str, msgspec.Meta(max_length=4096)]


class PathArgs(msgspec.Struct, kw_only=True):
    """`read_file`, `delete_file`: the workspace-relative `path`."""

    path: Path_


class WriteFileArgs(msgspec.Struct, kw_only=True):
    """`write_file`: `path` and `content`."""

    path: Path_
    content: str = ""


class EditFileArgs(msgspec.Struct, kw_only=True):
    """`edit_file`: `path`, the text `old` to replace (first occurrence) and the `new` text."""

    path: Path_
    old: Annotated[str, msgspec.Meta(min_length=1)]
    new: str


class ListDirArgs(msgspec.Struct, kw_only=True):
    """`list_dir`: `path` (default `.`)."""

    path: Path_ = "."


class ExecArgs(msgspec.Struct, kw_only=True):
    """`exec`: the bash `command` and `timeout_seconds` (more than 0, at most 600; default 60)."""

    command: Annotated[str, msgspec.Meta(min_length=1, max_length=65536)]
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=MAX_EXEC_TIMEOUT_SECONDS)] = EXEC_TIMEOUT_SECONDS


class SearchArgs(msgspec.Struct, kw_only=True):
    """`search_files`: the text `query` and the directory `path` (default `.`)."""

    query: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
    path: Path_ = "."


class GlobArgs(msgspec.Struct, kw_only=True):
    """`glob`: a glob `pattern` relative to the workspace (`*.py`, `src/**/*.md`); no `..`."""

    pattern: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


TOOL_ARGS: dict[str, type[msgspec.Struct]] = {
    "read_file": PathArgs,
    "write_file": WriteFileArgs,
    "edit_file": EditFileArgs,
    "list_dir": ListDirArgs,
    "exec": ExecArgs,
    "search_files": SearchArgs,
    "glob": GlobArgs,
    "delete_file": PathArgs,
}


def _typed(name: str, args: dict[str, Any]) -> Any:
    try:
        return msgspec.convert(args, TOOL_ARGS[name], strict=True)
    except msgspec.ValidationError as exc:
        text = str(exc)
        if " - at `$" in text:
            message, _, path = text.rpartition(" - at `$")
            text = f"at `$.args{path.rstrip('`')}`: {message}"
        raise ToolFailure(f"{name}: {text}") from None


def _cap(text: str) -> str:
    return text if len(text) <= MAX_OUTPUT_BYTES else text[:MAX_OUTPUT_BYTES] + "\n[truncated]"


async def run_builtin(root: Path, name: str, args: dict[str, Any], *, hidden: tuple[Path, ...] = ()) -> Any:
    """Execute one builtin tool in the workspace `root`.

    Arguments are typed (`TOOL_ARGS`); the file tools reach `root` only through
    `workspace_fs.Workspace` (paths relative to `root` or under `/root/.ara/workspace`, walked
    without following symbolic links: a link on the way is refused, a link read is refused, a
    link written over or deleted is replaced or removed itself, globs and searches never descend
    into one); `read_file` returns at most `MAX_OUTPUT_BYTES` bytes (then `[truncated]`). `exec`
    runs `bash -c` in a sandbox (`run_sandboxed`) with `root` as its only writable directory and
    the paths in `hidden` (the server's data directory) invisible.

    Raises:
        ToolFailure: Unknown or unavailable tool, bad arguments, path outside the workspace, I/O error.
    """
    root.mkdir(parents=True, exist_ok=True)
    if name in UNAVAILABLE:
        raise ToolFailure(
            f"{name} is not available on ara-server (no network tools or automations in local sessions)"
        )
    if name not in TOOL_ARGS:
        raise ToolFailure(f"unknown tool {name!r}; builtin tools: {', '.join(sorted(BUILTIN_TOOLS))}")
    typed = _typed(name, args)
    files = Workspace(root)
    try:
        if isinstance(typed, WriteFileArgs):
            await asyncio.to_thread(
                lambda: files.write(workspace_fs.parts(typed.path), typed.path, typed.content.encode("utf-8"))
            )
            return "File written."
        if isinstance(typed, EditFileArgs):

            def edit() -> str:
                components, data, _ = files.read(typed.path, MAX_EDIT_BYTES)
                text = data.decode("utf-8")  # not UTF-8: a ValueError, refused below
                if typed.old not in text:
                    raise ToolFailure(f"edit_file: text to replace not found in {typed.path}")
                files.write(components, typed.path, text.replace(typed.old, typed.new, 1).encode("utf-8"))
                return "File edited."

            return await asyncio.to_thread(edit)
        if isinstance(typed, ListDirArgs):
            _, entries = await asyncio.to_thread(files.list, typed.path)
            return [{"name": e.name, "type": e.kind, "size": e.size} for e in entries]
        if isinstance(typed, GlobArgs):
            return await asyncio.to_thread(files.glob, typed.pattern, MAX_GLOB_RESULTS)
        if isinstance(typed, SearchArgs):
            hits = await asyncio.to_thread(
                lambda: files.search(
                    typed.path, typed.query, max_hits=MAX_SEARCH_HITS, max_file_bytes=MAX_SEARCH_FILE_BYTES
                )
            )
            return [{"path": h.path, "line": h.line, "text": h.text} for h in hits]
        if isinstance(typed, ExecArgs):
            done = await run_sandboxed(
                ["bash", "-c", typed.command],
                workdir=root,
                timeout_seconds=typed.timeout_seconds,
                hidden_paths=hidden,
            )
            if done.error is not None:
                raise ToolFailure(f"exec: the command could not start ({done.error})")
            if done.timed_out:
                raise ToolFailure(f"command timed out after {typed.timeout_seconds:g} s")
            return {
                "exit_code": done.exit_code,
                "stdout": _cap(done.stdout.decode("utf-8", "replace")),
                "stderr": _cap(done.stderr.decode("utf-8", "replace")),
            }
        assert isinstance(typed, PathArgs)
        if name == "delete_file":
            await asyncio.to_thread(files.delete, typed.path)
            return "File deleted."
        _, data, truncated = await asyncio.to_thread(
            lambda: files.read(typed.path, MAX_OUTPUT_BYTES, truncate=True)
        )
        text = data.decode("utf-8", errors="replace")
        return text + "\n[truncated]" if truncated else text
    except WorkspacePathError as exc:
        raise ToolFailure(f"{name}: {exc.message}") from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ToolFailure(f"{name}: {reason}") from None


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
            for tool in apps.app_view(app).tools():
                fn = tool.function
                description = fn.description if not isinstance(fn, UnsetType) else tool.description
                out.append(
                    {
                        "name": tool.name,
                        "kind": "app",
                        "app": app["slug"],
                        "description": description if isinstance(description, str) else "",
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
            for agent in apps.app_view(app).agents():
                agents.append({"id": agent.id, "app": app["slug"]})
                declared = () if isinstance(agent.skills, UnsetType) else agent.skills
                skills += [s for s in declared if s not in skills]
        return agents, skills

    async def isolation(self) -> IsolationStatus:
        """The sandbox protections of this machine (`isolation_status`, probed once, off the loop)."""
        return await asyncio.to_thread(isolation_status)

    async def check_tools_allowed(self, account: dict[str, Any]) -> None:
        """Whether the account may use the workspace tools (`exec` and the file tools).

        The server's owner always may. Any other account needs the owner or member role on at
        least one app (viewers and accounts without an app role are refused), and the machine must
        give sandboxes every protection (`isolation_status().isolated`): without isolation a
        session command would run with the server's rights.

        Raises:
            ToolRefused: With the reason.
        """
        if account.get("is_owner"):
            return
        roles = {str(a["role"]) for a in await self.apps(str(account["id"]))}
        if not roles & {"owner", "member"}:
            raise ToolRefused(
                "session tools need the owner or member role on an app "
                f"(your roles: {', '.join(sorted(roles)) or 'none'})"
            )
        status = await self.isolation()
        if not status.isolated:
            raise ToolRefused(
                "sandbox isolation is incomplete on this server (off: "
                f"{', '.join(status.off)}); only the server's owner may use session tools until it is fixed"
            )

    async def execute(self, account: dict[str, Any], name: str, args: dict[str, Any]) -> Any:
        """Run a builtin tool in the account's workspace.

        Raises:
            ApiProblem: 403 `forbidden` (`check_tools_allowed`); 422 `tool_failed`.
        """
        if name in AUTOMATION_TOOLS and self.automations is not None:
            return await self.automations.tool(str(account["id"]), name, args)
        try:
            await self.check_tools_allowed(account)
        except ToolRefused as exc:
            raise ApiProblem(403, "forbidden", str(exc)) from None
        try:
            return await run_builtin(self.workspace(str(account["id"])), name, args, hidden=(self.data_dir,))
        except ToolFailure as exc:
            raise ApiProblem(422, "tool_failed", str(exc)) from None

    async def chat(self, account: dict[str, Any], text: str) -> AsyncIterator[dict[str, Any]]:
        """Answer `text` with the model and the builtin tools; yields UI stream events
        (`text-delta`, `tool-input-available`, `tool-output-available`, `error`). Tool calls of an
        account that may not use the tools (`check_tools_allowed`) answer with the refusal."""
        root = self.workspace(str(account["id"]))
        refusal: str | None = None
        try:
            await self.check_tools_allowed(account)
        except ToolRefused as exc:
            refusal = str(exc)
        provider = self.provider or provider_from_env()
        tools = [
            {"type": "function", "function": {"name": n, "description": d, "parameters": p}}
            for n, (d, p) in BUILTIN_TOOLS.items()
            if n not in UNAVAILABLE and n not in AUTOMATION_TOOLS  # automations: tools/execute only
        ]

        async def call(name: str, arguments: dict[str, Any]) -> Any:
            try:
                if refusal is not None:
                    raise ToolFailure(refusal)
                return await run_builtin(root, name, dict(arguments), hidden=(self.data_dir,))
            except ToolFailure as exc:
                return f"error: {exc}"

        async for event in chat_events(
            provider, instructions="You are the user's Ara agent.", text=text, tools=tools, call_tool=call
        ):
            yield event
