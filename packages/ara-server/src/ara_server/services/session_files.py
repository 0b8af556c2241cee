"""Session files, terminal and heartbeat as the original client calls them (`/session/files*`,
`/session/terminal/exec`, `/session/heartbeat`).

Paths are given as the client shows them: under `/root/.ara/workspace` (`WORKSPACE_ROOT`) or
relative to it. Both map onto the caller's session workspace directory; anything resolving
outside it (another absolute path, `..`, a symbolic link leading out) is refused with 403
`path_outside_workspace`. Answers use the same `/root/.ara/workspace/...` form.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec

from ..engine import run_sandboxed
from ..errors import ApiProblem
from .sessions import SessionService, ToolRefused

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

#: The workspace root as clients name it.
WORKSPACE_ROOT = "/root/.ara/workspace"
#: Largest file `read` returns, in bytes (use download beyond).
MAX_READ_BYTES = 1024 * 1024
#: Output kept per stream of a terminal command, in bytes.
MAX_TERMINAL_OUTPUT_BYTES = 1024 * 1024
#: Largest file `download` returns, in bytes.
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
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


def _link(path: str) -> ApiProblem:
    return ApiProblem(
        403,
        "path_outside_workspace",
        f"at `path`: {path!r} goes through a symbolic link (links are not followed)",
    )


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
    def parts(path: str) -> list[str]:
        """The workspace-relative components of a client path, checked lexically (403
        `path_outside_workspace` for another absolute path or a `..` that leaves the workspace)."""
        if "\0" in path or len(path) > MAX_PATH:
            raise ApiProblem(422, "invalid_path", "at `path`: must be at most 4096 characters, without NUL")
        if path == WORKSPACE_ROOT or path.startswith(WORKSPACE_ROOT + "/"):
            relative = path[len(WORKSPACE_ROOT) :]
        elif path.startswith("/"):
            raise _outside(path)
        else:
            relative = path
        out: list[str] = []
        for part in relative.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not out:
                    raise _outside(path)
                out.pop()
            else:
                out.append(part)
        return out

    @staticmethod
    def shown(parts: list[str]) -> str:
        """The client form of a workspace path."""
        return "/".join([WORKSPACE_ROOT, *parts])

    @staticmethod
    def _open_dir(root: Path, parts: list[str], path: str, *, create: bool = False) -> int:
        """A descriptor of the directory `parts` under `root`, walked one component at a time with
        `O_NOFOLLOW`: a symbolic link anywhere on the way is refused (403), so nothing the
        session's own commands create can redirect the server outside the workspace."""
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(root, flags)
        try:
            for part in parts:
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o755, dir_fd=fd)
                try:
                    child = os.open(part, flags, dir_fd=fd)
                except FileNotFoundError:
                    raise ApiProblem(404, "not_found", f"no directory {path!r}") from None
                except NotADirectoryError:
                    if stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode):
                        raise _link(path) from None
                    raise ApiProblem(
                        422, "not_a_directory", f"at `path`: {path!r} has a file where a directory is needed"
                    ) from None
                except OSError as exc:
                    if exc.errno == errno.ELOOP:
                        raise _link(path) from None
                    raise
                os.close(fd)
                fd = child
            return fd
        except BaseException:
            os.close(fd)
            raise

    def _read_file(self, root: Path, path: str, limit: int) -> tuple[list[str], bytes]:
        parts = self.parts(path)
        if not parts:
            raise ApiProblem(422, "not_a_file", f"at `path`: {path!r} is a directory")
        dir_fd = self._open_dir(root, parts[:-1], path)
        try:
            try:
                fd = os.open(
                    parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dir_fd
                )
            except FileNotFoundError:
                raise ApiProblem(404, "not_found", f"no file {self.shown(parts)!r}") from None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise _link(path) from None
                raise
        finally:
            os.close(dir_fd)
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISDIR(info.st_mode):
                raise ApiProblem(422, "not_a_file", f"at `path`: {self.shown(parts)!r} is a directory")
            if not stat.S_ISREG(info.st_mode):
                raise ApiProblem(422, "not_a_file", f"at `path`: {self.shown(parts)!r} is not a regular file")
            if info.st_size > limit:
                raise ApiProblem(413, "file_too_large", f"file is {info.st_size} bytes; at most {limit} here")
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise ApiProblem(413, "file_too_large", f"file is larger than {limit} bytes")
        return parts, data

    def _write_file(self, root: Path, parts: list[str], path: str, data: bytes) -> None:
        """Write `data` at `parts` (parents created): a temporary file then a rename, all through
        directory descriptors (a symbolic link in the way is replaced, never followed)."""
        if not parts:
            raise ApiProblem(422, "not_a_file", f"at `path`: {path!r} is a directory")
        dir_fd = self._open_dir(root, parts[:-1], path, create=True)
        try:
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISDIR(os.stat(parts[-1], dir_fd=dir_fd, follow_symlinks=False).st_mode):
                    raise ApiProblem(422, "not_a_file", f"at `path`: {self.shown(parts)!r} is a directory")
            tmp = f".ara-write-{uuid.uuid4().hex}"
            fd = os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd
            )
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, parts[-1], src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=dir_fd)
                raise
        finally:
            os.close(dir_fd)

    async def list_dir(self, account: dict[str, Any], path: str | None) -> dict[str, Any]:
        """`{ok, path, entries: [{name, path, type, size, modified_at}]}` sorted by name (404 / 422).
        A symbolic link is listed as a `file` entry and never followed."""
        root = await self._root(account)
        parts = self.parts(path or WORKSPACE_ROOT)

        def listing() -> list[dict[str, Any]]:
            fd = self._open_dir(root, parts, path or WORKSPACE_ROOT)
            try:
                out: list[dict[str, Any]] = []
                for entry in sorted(os.scandir(fd), key=lambda e: e.name):
                    info = entry.stat(follow_symlinks=False)
                    out.append(
                        {
                            "name": entry.name,
                            "path": self.shown([*parts, entry.name]),
                            "type": "dir" if stat.S_ISDIR(info.st_mode) else "file",
                            "size": info.st_size,
                            "modified_at": datetime.fromtimestamp(info.st_mtime, UTC).isoformat(),
                        }
                    )
                return out
            finally:
                os.close(fd)

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
            for parts, given, data in targets:
                self._write_file(root, parts, given, data)

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
                fd = self._open_dir(root, parts, path)
            except ApiProblem:
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
