"""Files of a session workspace, reached without following symbolic links.

Every file operation of a session (the `/session/files*` routes, the builtin tools of
`POST /session/runtime/tools/execute` and of chat) goes through `Workspace`: a path is checked
lexically (relative to the workspace, or under `WORKSPACE_ROOT`; no NUL; a `..` may not leave the
workspace), then walked one component at a time from a descriptor of the workspace directory with
`O_NOFOLLOW`. A symbolic link on the way is refused, never followed, so a link that the session's
own commands plant (or swap in while a request runs) cannot lead the server out of the workspace.
A link as the last component is never followed either: reads refuse it, writes replace the link
itself, deletes remove the link itself, listings, globs and searches show or skip it.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import os
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

__all__ = [
    "MAX_PATH",
    "WORKSPACE_ROOT",
    "Entry",
    "FileTooLarge",
    "InvalidPath",
    "NotAFile",
    "NotDirectory",
    "NotFound",
    "OutsideWorkspace",
    "SearchHit",
    "ThroughLink",
    "Workspace",
    "WorkspacePathError",
    "parts",
    "shown",
]

#: The workspace root as clients name it.
WORKSPACE_ROOT = "/root/.ara/workspace"
#: Longest path or pattern accepted, in characters.
MAX_PATH = 4096
#: Deepest directory level a glob or search descends to (below the directory it starts from).
MAX_WALK_DEPTH = 64
#: Most directory entries one glob or search looks at (it stops there).
MAX_WALK_ENTRIES = 200_000

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class WorkspacePathError(Exception):
    """A workspace path that cannot be used; `status` and `code` are the HTTP answer for it.

    Args:
        path: The path (or glob pattern) as given.
        message: What is wrong, naming the path.
    """

    status: ClassVar[int] = 422
    code: ClassVar[str] = "invalid_path"

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


class InvalidPath(WorkspacePathError):
    """Too long, a NUL byte, or a pattern naming nothing (422 `invalid_path`)."""


class OutsideWorkspace(WorkspacePathError):
    """Another absolute path, or a `..` leaving the workspace (403 `path_outside_workspace`)."""

    status = 403
    code = "path_outside_workspace"


class ThroughLink(OutsideWorkspace):
    """A symbolic link on the way (403 `path_outside_workspace`: links are not followed)."""


class NotFound(WorkspacePathError):
    """No such file or directory (404 `not_found`)."""

    status = 404
    code = "not_found"


class NotDirectory(WorkspacePathError):
    """A file where a directory is needed (422 `not_a_directory`)."""

    code = "not_a_directory"


class NotAFile(WorkspacePathError):
    """A directory or special file where a regular file is needed (422 `not_a_file`)."""

    code = "not_a_file"


class FileTooLarge(WorkspacePathError):
    """A file above the size limit of the operation (413 `file_too_large`)."""

    status = 413
    code = "file_too_large"


def parts(path: str) -> list[str]:
    """The workspace-relative components of `path` (absolute under `WORKSPACE_ROOT`, or relative),
    checked lexically: `.` and empty components dropped, `..` applied.

    Raises:
        InvalidPath: Longer than `MAX_PATH` characters, or a NUL byte.
        OutsideWorkspace: Another absolute path, or a `..` above the workspace.
    """
    if "\0" in path or len(path) > MAX_PATH:
        raise InvalidPath(path, f"{path[:80]!r} must be at most {MAX_PATH} characters, without NUL")
    if path == WORKSPACE_ROOT or path.startswith(WORKSPACE_ROOT + "/"):
        relative = path[len(WORKSPACE_ROOT) :]
    elif path.startswith("/"):
        raise OutsideWorkspace(path, f"{path!r} is outside the session workspace ({WORKSPACE_ROOT})")
    else:
        relative = path
    out: list[str] = []
    for part in relative.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not out:
                raise OutsideWorkspace(path, f"{path!r} is outside the session workspace ({WORKSPACE_ROOT})")
            out.pop()
        else:
            out.append(part)
    return out


def shown(components: list[str]) -> str:
    """The client form of a workspace path (`/root/.ara/workspace/a/b`)."""
    return "/".join([WORKSPACE_ROOT, *components])


def _link(path: str) -> ThroughLink:
    return ThroughLink(path, f"{path!r} goes through a symbolic link (links are not followed)")


@dataclass(frozen=True, slots=True)
class Entry:
    """One directory entry, as `lstat` sees it (a link is never followed).

    Attributes:
        name: The entry's name.
        kind: `dir`, `file` (regular), `link` (symbolic) or `other` (device, FIFO, socket).
        size: Size in bytes (of the link itself for a link).
        mtime: Modification time, seconds since the epoch.
    """

    name: str
    kind: Literal["dir", "file", "link", "other"]
    size: int
    mtime: float


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A line containing the searched text: workspace-relative `path`, 1-based `line`, its `text`."""

    path: str
    line: int
    text: str


def _kind(mode: int) -> Literal["dir", "file", "link", "other"]:
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "other"


class Workspace:
    """The files of one workspace directory, walked by descriptor with `O_NOFOLLOW` (blocking
    calls: run them in a thread).

    Args:
        root: The workspace directory (created by the caller; itself not a symbolic link).
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def open_dir(self, components: list[str], path: str, *, create: bool = False) -> int:
        """A descriptor of the directory `components` (each created first when `create`); the
        caller closes it.

        Raises:
            ThroughLink: A symbolic link on the way.
            NotFound: A missing directory (without `create`).
            NotDirectory: A file on the way.
        """
        fd = os.open(self.root, _DIR_FLAGS)
        try:
            for part in components:
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o755, dir_fd=fd)
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    raise NotFound(path, f"no directory {path!r}") from None
                except NotADirectoryError:
                    # a link or a file; renamed concurrently it may be gone (or a directory) by now
                    try:
                        mode = os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode
                    except FileNotFoundError:
                        raise NotFound(path, f"no directory {path!r}") from None
                    if stat.S_ISLNK(mode):
                        raise _link(path) from None
                    raise NotDirectory(path, f"{path!r} has a file where a directory is needed") from None
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

    def read(self, path: str, limit: int, *, truncate: bool = False) -> tuple[list[str], bytes, bool]:
        """The bytes of the regular file at `path`: `(components, data, truncated)`.

        Args:
            path: The file.
            limit: Most bytes read.
            truncate: Return the first `limit` bytes of a larger file (`truncated` true) instead of
                raising `FileTooLarge`.

        Raises:
            WorkspacePathError: Outside, through a link (the file itself a link included), missing,
                a directory or special file, or larger than `limit` without `truncate`.
        """
        components = parts(path)
        if not components:
            raise NotAFile(path, f"{path!r} is the workspace directory")
        dir_fd = self.open_dir(components[:-1], path)
        try:
            try:
                fd = os.open(components[-1], _READ_FLAGS, dir_fd=dir_fd)
            except FileNotFoundError:
                raise NotFound(path, f"no file {shown(components)!r}") from None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise _link(path) from None
                raise
        finally:
            os.close(dir_fd)
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                raise NotAFile(path, f"{shown(components)!r} is a directory")
            if not stat.S_ISREG(info.st_mode):
                raise NotAFile(path, f"{shown(components)!r} is not a regular file")
            if info.st_size > limit and not truncate:
                raise FileTooLarge(path, f"the file is {info.st_size} bytes; at most {limit} here")
        except BaseException:
            os.close(fd)
            raise
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            if not truncate:
                raise FileTooLarge(path, f"the file is larger than {limit} bytes")
            return components, data[:limit], True
        return components, data, False

    def write(self, components: list[str], path: str, data: bytes) -> None:
        """Write `data` at `components` (parents created): a temporary file then a rename, through
        directory descriptors (a symbolic link at the last component is replaced, never followed).

        Raises:
            WorkspacePathError: The workspace directory itself, a link or file on the way, a
                directory at the last component, or the file's directory removed while writing.
            OSError: The write failed (disk full...).
        """
        if not components:
            raise NotAFile(path, f"{path!r} is the workspace directory")
        dir_fd = self.open_dir(components[:-1], path, create=True)
        try:
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISDIR(os.stat(components[-1], dir_fd=dir_fd, follow_symlinks=False).st_mode):
                    raise NotAFile(path, f"{shown(components)!r} is a directory")
            tmp = f".ara-write-{uuid.uuid4().hex}"
            try:
                fd = os.open(
                    tmp,
                    os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                    0o644,
                    dir_fd=dir_fd,
                )
            except FileNotFoundError:  # the directory was removed (e.g. replaced by a rename) meanwhile
                raise NotFound(path, f"the directory of {shown(components)!r} was removed") from None
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, components[-1], src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=dir_fd)
                raise
        finally:
            os.close(dir_fd)

    def delete(self, path: str) -> None:
        """Delete the file (or the symbolic link itself, never its target) at `path`.

        Raises:
            WorkspacePathError: Outside, a link on the way, missing, or a directory.
        """
        components = parts(path)
        if not components:
            raise NotAFile(path, f"{path!r} is the workspace directory")
        dir_fd = self.open_dir(components[:-1], path)
        try:
            try:
                mode = os.stat(components[-1], dir_fd=dir_fd, follow_symlinks=False).st_mode
            except FileNotFoundError:
                raise NotFound(path, f"no file {shown(components)!r}") from None
            if stat.S_ISDIR(mode):
                raise NotAFile(path, f"{shown(components)!r} is a directory")
            os.unlink(components[-1], dir_fd=dir_fd)
        finally:
            os.close(dir_fd)

    def list(self, path: str) -> tuple[list[str], list[Entry]]:
        """The entries of the directory at `path`, sorted by name: `(components, entries)`.

        Raises:
            WorkspacePathError: Outside, a link or file on the way, or missing.
        """
        components = parts(path)
        fd = self.open_dir(components, path)
        try:
            out: list[Entry] = []
            for entry in sorted(os.scandir(fd), key=lambda e: e.name):
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # removed while listing
                    continue
                out.append(Entry(entry.name, _kind(info.st_mode), info.st_size, info.st_mtime))
            return components, out
        finally:
            os.close(fd)

    def glob(self, pattern: str, limit: int) -> list[str]:
        """Workspace-relative paths matching `pattern`, sorted (at most `limit`).

        `*`, `?` and `[...]` match within one component, `**` any number of directories (as the
        last component: everything below). The pattern is relative to the workspace (or absolute
        under `WORKSPACE_ROOT`). Symbolic links are matched by name but never followed.

        Raises:
            InvalidPath: NUL, too long, or naming nothing (`.`, `/root/.ara/workspace`).
            OutsideWorkspace: Another absolute pattern (`/etc/*`), or a `..` component.
        """
        if "\0" in pattern or len(pattern) > MAX_PATH:
            raise InvalidPath(pattern, f"glob pattern must be at most {MAX_PATH} characters, without NUL")
        if pattern == WORKSPACE_ROOT or pattern.startswith(WORKSPACE_ROOT + "/"):
            relative = pattern[len(WORKSPACE_ROOT) :]
        elif pattern.startswith("/"):
            raise OutsideWorkspace(
                pattern, f"glob pattern {pattern!r} must be relative to the workspace ({WORKSPACE_ROOT})"
            )
        else:
            relative = pattern
        comps = [c for c in relative.split("/") if c not in ("", ".")]
        if ".." in comps:
            raise OutsideWorkspace(pattern, f"glob pattern {pattern!r} may not contain '..'")
        if not comps:
            raise InvalidPath(pattern, f"glob pattern {pattern!r} names no file")
        found: set[str] = set()
        budget = [MAX_WALK_ENTRIES]

        def everything(fd: int, prefix: list[str], depth: int) -> None:
            for name, mode in self._entries(fd, budget):
                if len(found) >= limit:
                    return
                found.add("/".join([*prefix, name]))
                if stat.S_ISDIR(mode) and depth < MAX_WALK_DEPTH:
                    with self._child(fd, name) as child:
                        if child is not None:
                            everything(child, [*prefix, name], depth + 1)

        def walk(fd: int, prefix: list[str], i: int, depth: int) -> None:
            if len(found) >= limit or budget[0] <= 0:
                return
            comp, last = comps[i], i == len(comps) - 1
            if comp == "**":
                if last:
                    everything(fd, prefix, depth)
                    return
                walk(fd, prefix, i + 1, depth)
                if depth >= MAX_WALK_DEPTH:
                    return
                for name, mode in self._entries(fd, budget):
                    if stat.S_ISDIR(mode):
                        with self._child(fd, name) as child:
                            if child is not None:
                                walk(child, [*prefix, name], i, depth + 1)
                return
            if any(ch in comp for ch in "*?["):
                matches = [(n, m) for n, m in self._entries(fd, budget) if fnmatch.fnmatchcase(n, comp)]
            else:
                try:
                    matches = [(comp, os.stat(comp, dir_fd=fd, follow_symlinks=False).st_mode)]
                except OSError:
                    matches = []
            for name, mode in matches:
                if len(found) >= limit:
                    return
                if last:
                    found.add("/".join([*prefix, name]))
                elif stat.S_ISDIR(mode) and depth < MAX_WALK_DEPTH:
                    with self._child(fd, name) as child:
                        if child is not None:
                            walk(child, [*prefix, name], i + 1, depth + 1)

        root_fd = os.open(self.root, _DIR_FLAGS)
        try:
            walk(root_fd, [], 0, 0)
        finally:
            os.close(root_fd)
        return sorted(found)[:limit]

    def search(self, path: str, query: str, *, max_hits: int, max_file_bytes: int) -> list[SearchHit]:
        """Lines containing `query` in the regular files under the directory `path` (links and
        special files skipped; the first `max_file_bytes` of each file read), in path order.

        Raises:
            WorkspacePathError: Outside, a link or file on the way, or missing.
        """
        components = parts(path)
        hits: list[SearchHit] = []
        budget = [MAX_WALK_ENTRIES]

        def walk(fd: int, prefix: list[str], depth: int) -> None:
            for name, mode in self._entries(fd, budget):
                if len(hits) >= max_hits:
                    return
                if stat.S_ISDIR(mode):
                    if depth < MAX_WALK_DEPTH:
                        with self._child(fd, name) as child:
                            if child is not None:
                                walk(child, [*prefix, name], depth + 1)
                elif stat.S_ISREG(mode):
                    data = self._read_at(fd, name, max_file_bytes)
                    if data is None:
                        continue
                    where = "/".join([*prefix, name])
                    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                        if query in line:
                            hits.append(SearchHit(where, n, line[:500]))
                            if len(hits) >= max_hits:
                                return

        fd = self.open_dir(components, path)
        try:
            walk(fd, components, 0)
        finally:
            os.close(fd)
        return hits

    @staticmethod
    def _entries(fd: int, budget: list[int]) -> list[tuple[str, int]]:
        """`(name, lstat mode)` of the entries of the directory `fd`, sorted by name, each counted
        against `budget` (none once it is spent)."""
        out: list[tuple[str, int]] = []
        with os.scandir(fd) as it:
            for entry in it:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
                try:
                    out.append((entry.name, entry.stat(follow_symlinks=False).st_mode))
                except OSError:
                    continue
        return sorted(out)

    @staticmethod
    @contextlib.contextmanager
    def _child(fd: int, name: str) -> Iterator[int | None]:
        """A descriptor of the subdirectory `name` of `fd`, or `None` when it is no longer a
        directory (removed, or swapped for a link or file since it was listed)."""
        try:
            child = os.open(name, _DIR_FLAGS, dir_fd=fd)
        except OSError:
            yield None
            return
        try:
            yield child
        finally:
            os.close(child)

    @staticmethod
    def _read_at(fd: int, name: str, limit: int) -> bytes | None:
        """The first `limit` bytes of the regular file `name` in `fd`, or `None` when it is no
        longer one (a link, FIFO or device swapped in) or cannot be read."""
        try:
            file_fd = os.open(name, _READ_FLAGS, dir_fd=fd)
        except OSError:
            return None
        if not stat.S_ISREG(os.fstat(file_fd).st_mode):
            os.close(file_fd)
            return None
        with os.fdopen(file_fd, "rb") as handle:
            try:
                return handle.read(limit)
            except OSError:
                return None
