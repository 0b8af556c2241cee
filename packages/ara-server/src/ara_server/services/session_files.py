"""Session files, terminal and heartbeat as the original client calls them (`/session/files*`,
`/session/terminal/exec`, `/session/heartbeat`).

Paths are given as the client shows them: under `/root/.ara/workspace` (`WORKSPACE_ROOT`) or
relative to it. Both map onto the caller's session workspace directory; anything resolving
outside it (another absolute path, `..`, a symbolic link leading out) is refused with 403
`path_outside_workspace`. Answers use the same `/root/.ara/workspace/...` form.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec

from ..engine import run_sandboxed
from ..errors import ApiProblem
from .sessions import SessionService, ToolRefused

__all__ = [
    "MAX_READ_BYTES",
    "MAX_TERMINAL_OUTPUT_BYTES",
    "WORKSPACE_ROOT",
    "FileWrite",
    "FilesWrite",
    "SessionFiles",
    "TerminalExec",
]

#: The workspace root as clients name it.
WORKSPACE_ROOT = "/root/.ara/workspace"
#: Largest file `read` returns, in bytes (use download beyond).
MAX_READ_BYTES = 1024 * 1024
#: Output kept per stream of a terminal command, in bytes.
MAX_TERMINAL_OUTPUT_BYTES = 1024 * 1024
#: Longest path accepted, in characters.
MAX_PATH = 4096

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


def _outside(path: str) -> ApiProblem:
    return ApiProblem(
        403,
        "path_outside_workspace",
        f"at `path`: {path!r} is outside the session workspace ({WORKSPACE_ROOT})",
    )


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
    def resolve(root: Path, path: str) -> Path:
        """Map a client path onto `root` (403 `path_outside_workspace` when it leads out)."""
        if "\0" in path or len(path) > MAX_PATH:
            raise ApiProblem(422, "invalid_path", "at `path`: must be at most 4096 characters, without NUL")
        if path == WORKSPACE_ROOT or path.startswith(WORKSPACE_ROOT + "/"):
            relative = path[len(WORKSPACE_ROOT) :].lstrip("/")
        elif path.startswith("/"):
            raise _outside(path)
        else:
            relative = path
        target = (root / relative).resolve()
        if target != root and root not in target.parents:
            raise _outside(path)
        return target

    @staticmethod
    def shown(root: Path, target: Path) -> str:
        """The client form of a workspace path."""
        relative = target.relative_to(root).as_posix()
        return WORKSPACE_ROOT if relative == "." else f"{WORKSPACE_ROOT}/{relative}"

    async def list_dir(self, account: dict[str, Any], path: str | None) -> dict[str, Any]:
        """`{ok, path, entries: [{name, path, type, size, modified_at}]}` sorted by name (404 / 422)."""
        root = await self._root(account)
        target = self.resolve(root, path or WORKSPACE_ROOT)

        def listing() -> list[dict[str, Any]]:
            if not target.exists():
                raise ApiProblem(404, "not_found", f"no directory {self.shown(root, target)!r}")
            if not target.is_dir():
                raise ApiProblem(422, "not_a_directory", f"at `path`: {self.shown(root, target)!r} is a file")
            out: list[dict[str, Any]] = []
            for child in sorted(target.iterdir(), key=lambda p: p.name):
                stat = child.lstat()
                out.append(
                    {
                        "name": child.name,
                        "path": f"{self.shown(root, target).rstrip('/')}/{child.name}",
                        "type": "dir" if child.is_dir() and not child.is_symlink() else "file",
                        "size": stat.st_size,
                        "modified_at": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
                    }
                )
            return out

        entries = await asyncio.to_thread(listing)
        return {"ok": True, "path": self.shown(root, target), "entries": entries}

    async def _file(self, account: dict[str, Any], path: str) -> tuple[Path, Path]:
        root = await self._root(account)
        target = self.resolve(root, path)
        if not target.exists():
            raise ApiProblem(404, "not_found", f"no file {self.shown(root, target)!r}")
        if not target.is_file():
            raise ApiProblem(422, "not_a_file", f"at `path`: {self.shown(root, target)!r} is a directory")
        return root, target

    async def read(self, account: dict[str, Any], path: str) -> dict[str, Any]:
        """`{ok, path, content, size}` (404; 413 above `MAX_READ_BYTES`; 422 not UTF-8)."""
        root, target = await self._file(account, path)
        size = target.stat().st_size
        if size > MAX_READ_BYTES:
            raise ApiProblem(
                413,
                "file_too_large",
                f"file is {size} bytes; read returns at most {MAX_READ_BYTES} (use download)",
            )
        data = await asyncio.to_thread(target.read_bytes)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiProblem(
                422, "not_text", "at `path`: the file is not UTF-8 text (use download)"
            ) from None
        return {"ok": True, "path": self.shown(root, target), "content": text, "size": len(data)}

    async def download(self, account: dict[str, Any], path: str) -> tuple[Path, str]:
        """The file to send and its name (404 / 422)."""
        _, target = await self._file(account, path)
        return target, target.name

    @staticmethod
    def _write_atomic(target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".ara-upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def write(self, account: dict[str, Any], body: FilesWrite) -> dict[str, Any]:
        """Write every file (parents created), all or nothing: `{ok, written: [{path, bytes}]}`."""
        if body.restart:
            raise ApiProblem(
                422, "invalid_body", "at `$.restart`: ara-server sessions have no process to restart"
            )
        root = await self._root(account)
        targets: list[tuple[Path, bytes]] = []
        for i, item in enumerate(body.writes):
            try:
                target = self.resolve(root, item.path)
            except ApiProblem as exc:
                raise ApiProblem(
                    exc.status, exc.code, exc.message.replace("at `path`", f"at `$.writes[{i}].path`")
                ) from None
            if target == root or target.is_dir():
                raise ApiProblem(422, "not_a_file", f"at `$.writes[{i}].path`: is a directory")
            targets.append((target, item.content.encode("utf-8")))

        def write_all() -> None:
            for target, data in targets:
                self._write_atomic(target, data)

        try:
            await asyncio.to_thread(write_all)
        except OSError as exc:
            raise ApiProblem(422, "write_failed", f"could not write: {exc.strerror or exc}") from None
        return {"ok": True, "written": [{"path": self.shown(root, t), "bytes": len(d)} for t, d in targets]}

    async def upload(self, account: dict[str, Any], path: str, filename: str, data: bytes) -> dict[str, Any]:
        """Store an uploaded file: an empty `path` → workspace root + `filename`; a `path` ending in
        `/` (or naming a directory) → that directory + `filename`. Returns `{ok, path, bytes}`."""
        root = await self._root(account)
        name = Path(filename.replace("\\", "/")).name
        if not path or path.endswith("/") or self.resolve(root, path).is_dir():
            if not name or name in (".", ".."):
                raise ApiProblem(422, "invalid_body", "at `file`: the upload needs a file name")
            target = self.resolve(root, f"{path.rstrip('/') or WORKSPACE_ROOT}/{name}")
        else:
            target = self.resolve(root, path)
        try:
            await asyncio.to_thread(self._write_atomic, target, data)
        except OSError as exc:
            raise ApiProblem(422, "write_failed", f"could not write: {exc.strerror or exc}") from None
        return {"ok": True, "path": self.shown(root, target), "bytes": len(data)}

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
