"""Session files, terminal and heartbeat as the original client calls them (`/session/files*`,
`/session/terminal/exec`, `/session/heartbeat`).

Paths are given as the client shows them: under `/root/.ara/workspace` (`WORKSPACE_ROOT`) or
relative to it. Both map onto the caller's session workspace directory, reached through
`workspace_fs.Workspace` (the same no-follow walk as the session's builtin tools): another
absolute path, a `..` leaving the workspace or a symbolic link on the way is refused with 403
`path_outside_workspace`. Answers use the same `/root/.ara/workspace/...` form.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec

from ..engine import run_sandboxed
from ..errors import ApiProblem
from . import workspace_fs
from .sessions import SessionService, ToolRefused
from .workspace_fs import MAX_PATH, WORKSPACE_ROOT, Workspace, WorkspacePathError

__all__ = [
    "MAX_DOWNLOAD_BYTES",
    "MAX_READ_BYTES",
    "MAX_TERMINAL_OUTPUT_BYTES",
    "WORKSPACE_ROOT",
    "FileWrite",
    "FilesWrite",
    "SessionFiles",
    "TerminalExec",
]

#: Largest file `read` returns, in bytes (use download beyond).
MAX_READ_BYTES = 1024 * 1024
#: Output kept per stream of a terminal command, in bytes.
MAX_TERMINAL_OUTPUT_BYTES = 1024 * 1024
#: Largest file `download` returns, in bytes.
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024

PathText = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_PATH)]


class FileWrite(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One file to write: `path` and its UTF-8 text `content`."""

    path: PathText
    content: str


class FilesWrite(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`POST /session/files/write`: 1-100 `writes`, all or nothing; `restart` must be false."""

    writes: Annotated[list[FileWrite], msgspec.Meta(min_length=1, max_length=100)]
    restart: bool = False


class TerminalExec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`POST /session/terminal/exec`: a `/bin/sh` command and its timeout (1-600 s, default 90)."""

    command: Annotated[str, msgspec.Meta(min_length=1, max_length=65536)]
    timeout_seconds: Annotated[int, msgspec.Meta(ge=1, le=600)] = 90


class Heartbeat(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`POST /session/heartbeat`: an empty object."""


def _problem(exc: WorkspacePathError, where: str = "`path`") -> ApiProblem:
    """The HTTP answer for a workspace path error (`where` names the request field)."""
    return ApiProblem(exc.status, exc.code, f"at {where}: {exc.message}")


class SessionFiles:
    """Files and terminal of the caller's session workspace.

    Args:
        sessions: The session service (workspaces, the running session, the tools gate).
    """

    def __init__(self, sessions: SessionService) -> None:
        self.sessions = sessions

    async def _root(self, account: dict[str, Any]) -> Path:
        """The workspace of the account's running session (403 / 409 otherwise)."""
        await self.sessions.running(str(account["id"]), None)
        try:
            await self.sessions.check_tools_allowed(account)
        except ToolRefused as exc:
            raise ApiProblem(403, "forbidden", str(exc)) from None
        root = self.sessions.workspace(str(account["id"]))
        root.mkdir(parents=True, exist_ok=True)
        return root

    @staticmethod
    def parts(path: str) -> list[str]:
        """The workspace-relative components of a client path, checked lexically (403
        `path_outside_workspace` for another absolute path or a `..` that leaves the workspace;
        422 `invalid_path` for NUL or too long)."""
        try:
            return workspace_fs.parts(path)
        except WorkspacePathError as exc:
            raise _problem(exc) from None

    @staticmethod
    def shown(parts: list[str]) -> str:
        """The client form of a workspace path."""
        return workspace_fs.shown(parts)

    @staticmethod
    def _read_file(root: Path, path: str, limit: int) -> tuple[list[str], bytes]:
        try:
            parts, data, _ = Workspace(root).read(path, limit)
        except WorkspacePathError as exc:
            raise _problem(exc) from None
        except OSError as exc:
            raise ApiProblem(422, "read_failed", f"could not read: {exc.strerror or exc}") from None
        return parts, data

    @staticmethod
    def _write_file(root: Path, parts: list[str], path: str, data: bytes, where: str = "`path`") -> None:
        try:
            Workspace(root).write(parts, path, data)
        except WorkspacePathError as exc:
            raise _problem(exc, where) from None

    async def list_dir(self, account: dict[str, Any], path: str | None) -> dict[str, Any]:
        """`{ok, path, entries: [{name, path, type, size, modified_at}]}` sorted by name (404 / 422).
        A symbolic link is listed as a `file` entry and never followed."""
        root = await self._root(account)
        parts = self.parts(path or WORKSPACE_ROOT)

        def listing() -> list[dict[str, Any]]:
            try:
                _, entries = Workspace(root).list(path or WORKSPACE_ROOT)
            except WorkspacePathError as exc:
                raise _problem(exc) from None
            except OSError as exc:
                raise ApiProblem(422, "read_failed", f"could not list: {exc.strerror or exc}") from None
            return [
                {
                    "name": e.name,
                    "path": self.shown([*parts, e.name]),
                    "type": "dir" if e.kind == "dir" else "file",
                    "size": e.size,
                    "modified_at": datetime.fromtimestamp(e.mtime, UTC).isoformat(),
                }
                for e in entries
            ]

        entries = await asyncio.to_thread(listing)
        return {"ok": True, "path": self.shown(parts), "entries": entries}

    async def read(self, account: dict[str, Any], path: str) -> dict[str, Any]:
        """`{ok, path, content, size}` (404; 413 above `MAX_READ_BYTES`; 422 not UTF-8)."""
        root = await self._root(account)
        parts, data = await asyncio.to_thread(self._read_file, root, path, MAX_READ_BYTES)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiProblem(
                422, "not_text", "at `path`: the file is not UTF-8 text (use download)"
            ) from None
        return {"ok": True, "path": self.shown(parts), "content": text, "size": len(data)}

    async def download(self, account: dict[str, Any], path: str) -> tuple[bytes, str]:
        """The bytes of a file (at most `MAX_DOWNLOAD_BYTES`) and its name (404 / 413 / 422)."""
        root = await self._root(account)
        parts, data = await asyncio.to_thread(self._read_file, root, path, MAX_DOWNLOAD_BYTES)
        return data, parts[-1]

    async def write(self, account: dict[str, Any], body: FilesWrite) -> dict[str, Any]:
        """Write every file (parents created): `{ok, written: [{path, bytes}]}`. Every path is
        checked before the first write; a write that fails stops the rest."""
        if body.restart:
            raise ApiProblem(
                422, "invalid_body", "at `$.restart`: ara-server sessions have no process to restart"
            )
        root = await self._root(account)
        targets: list[tuple[list[str], str, bytes]] = []
        for i, item in enumerate(body.writes):
            try:
                parts = self.parts(item.path)
            except ApiProblem as exc:
                raise ApiProblem(
                    exc.status, exc.code, exc.message.replace("at `path`", f"at `$.writes[{i}].path`")
                ) from None
            if not parts:
                raise ApiProblem(422, "not_a_file", f"at `$.writes[{i}].path`: is the workspace directory")
            targets.append((parts, item.path, item.content.encode("utf-8")))

        def write_all() -> None:
            for i, (parts, given, data) in enumerate(targets):
                self._write_file(root, parts, given, data, f"`$.writes[{i}].path`")

        try:
            await asyncio.to_thread(write_all)
        except OSError as exc:
            raise ApiProblem(422, "write_failed", f"could not write: {exc.strerror or exc}") from None
        return {"ok": True, "written": [{"path": self.shown(p), "bytes": len(d)} for p, _, d in targets]}

    async def upload(self, account: dict[str, Any], path: str, filename: str, data: bytes) -> dict[str, Any]:
        """Store an uploaded file: an empty `path` → workspace root + `filename`; a `path` ending in
        `/` (or naming a directory) → that directory + `filename`. Returns `{ok, path, bytes}`."""
        root = await self._root(account)
        name = filename.replace("\\", "/").rsplit("/", 1)[-1]
        parts = self.parts(path or WORKSPACE_ROOT)

        def is_dir() -> bool:
            if not path or path.endswith("/") or not parts:
                return True
            try:
                fd = Workspace(root).open_dir(parts, path)
            except (WorkspacePathError, OSError):
                return False
            os.close(fd)
            return True

        if await asyncio.to_thread(is_dir):
            if not name or name in (".", ".."):
                raise ApiProblem(422, "invalid_body", "at `file`: the upload needs a file name")
            parts = [*parts, name]
        try:
            await asyncio.to_thread(self._write_file, root, parts, path, data)
        except OSError as exc:
            raise ApiProblem(422, "write_failed", f"could not write: {exc.strerror or exc}") from None
        return {"ok": True, "path": self.shown(parts), "bytes": len(data)}

    async def run(self, account: dict[str, Any], body: TerminalExec) -> dict[str, Any]:
        """Run a `/bin/sh -c` command in the workspace under the sandbox:
        `{ok, exit_code, stdout, stderr, timed_out, duration_seconds, truncated}`."""
        root = await self._root(account)
        started = time.monotonic()
        done = await run_sandboxed(
            ["/bin/sh", "-c", body.command],
            workdir=root,
            timeout_seconds=float(body.timeout_seconds),
            hidden_paths=(self.sessions.data_dir,),
        )
        if done.error is not None:
            raise ApiProblem(503, "sandbox_unavailable", f"the command could not start: {done.error}")
        out, err = done.stdout, done.stderr
        truncated = (
            done.truncated or len(out) > MAX_TERMINAL_OUTPUT_BYTES or len(err) > MAX_TERMINAL_OUTPUT_BYTES
        )
        exit_code = None if done.timed_out else done.exit_code
        return {
            "ok": exit_code == 0 and not done.timed_out,
            "exit_code": exit_code,
            "stdout": out[:MAX_TERMINAL_OUTPUT_BYTES].decode("utf-8", "replace"),
            "stderr": err[:MAX_TERMINAL_OUTPUT_BYTES].decode("utf-8", "replace"),
            "timed_out": done.timed_out,
            "duration_seconds": round(time.monotonic() - started, 3),
            "truncated": truncated,
        }

    async def heartbeat(self, account: dict[str, Any]) -> dict[str, Any]:
        """`{ok, session_id, last_seen_at, expires_at}` for the running session (409 otherwise).
        ara-server sessions do not expire while idle, so `expires_at` is null."""
        row = await self.sessions.running(str(account["id"]), None)
        return {
            "ok": True,
            "session_id": row["id"],
            "last_seen_at": datetime.now(UTC).isoformat(),
            "expires_at": None,
        }
