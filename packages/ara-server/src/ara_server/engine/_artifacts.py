"""Artifacts: code an app pulls in from elsewhere (``git_artifact``, ``tarball_artifact``).

An artifact is fetched once into ``<workdir>/.ara/artifacts/<hash>`` (the hash covers its
declaration) and reused; ``subdir`` (git) or ``strip_prefix`` (tarball) select the directory that
is used. Fetching happens at deploy (a failure fails the deploy, naming the artifact) and again
before a run on a node that has not fetched it yet.

Fetches run in the build sandbox (`run_build`: network on, only the fetch's scratch directory
writable, the data directory, the server's home and its environment out of sight), so a `repo_url`
or `file://` URL reaches only what app code could read, and a hostile archive is unpacked there.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import stat
import sys
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from ._builds import give_back, run_build

__all__ = ["ArtifactError", "artifact_dir", "copy_artifact", "ensure_artifact"]

#: Seconds a fetch may take.
FETCH_TIMEOUT_SECONDS = 300.0
#: Largest tarball accepted, in bytes.
MAX_TARBALL_BYTES = 512 * 1024 * 1024


class ArtifactError(Exception):
    """An artifact could not be fetched or is malformed (the message says which and why)."""


def artifact_dir(spec: dict[str, Any], workdir: Path) -> Path:
    """Where an artifact lives in the working directory (before `subdir`/`strip_prefix`)."""
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return workdir / ".ara" / "artifacts" / digest


def _inside(root: Path, relative: str, what: str) -> Path:
    rel = PurePosixPath(relative.strip().strip("/") or ".")
    if ".." in rel.parts:
        raise ArtifactError(f"{what} {relative!r} must stay inside the artifact")
    return root / rel


#: Downloads and unpacks a tarball inside the fetch sandbox: ``url dest limit timeout``. Prints one
#: line saying what went wrong and exits 3 on a failure it understands.
_TARBALL_SCRIPT = """
import os, sys, tarfile, urllib.request
url, dest, limit, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
archive = dest + ".tar"
os.makedirs(dest)
def fail(message):
    print(message, file=sys.stderr)
    raise SystemExit(3)
try:
    with urllib.request.urlopen(url, timeout=timeout) as resp, open(archive, "wb") as out:
        total = 0
        while chunk := resp.read(1 << 16):
            total += len(chunk)
            if total > limit:
                fail(f"tarball {url} is larger than {limit} bytes")
            out.write(chunk)
except (OSError, ValueError) as exc:
    fail(f"download of {url} failed: {exc}")
try:
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
except (tarfile.TarError, OSError) as exc:
    fail(f"{url} is not a readable tar archive: {exc}")
"""


def _fetch_git(spec: dict[str, Any], scratch: Path, dest: Path) -> None:
    url = str(spec.get("repo_url") or "").strip()
    ref = str(spec.get("ref") or "main").strip() or "main"
    if not url:
        raise ArtifactError("git artifact has no repo_url")
    git = shutil.which("git")
    if git is None:
        raise ArtifactError("git is not installed on the server")
    # The clone runs in the fetch sandbox: it sees what app code sees (not the data directory, the
    # server's home or its environment) and writes only its scratch directory. There it runs as a
    # uid of its own, so a local repository (owned by someone else) must be trusted explicitly.
    home = scratch / "home"
    home.mkdir(parents=True, mode=0o700)
    (home / ".gitconfig").write_text("[safe]\n\tdirectory = *\n", encoding="utf-8")
    done = run_build(
        [os.path.realpath(git), "clone", "--quiet", "--depth", "1", "--branch", ref, "--", url, str(dest)],
        scratch=scratch,
        env={"GIT_TERMINAL_PROMPT": "0"},
        timeout_seconds=FETCH_TIMEOUT_SECONDS,
    )
    if done.returncode == 124:
        raise ArtifactError(f"git clone of {url} timed out")
    if done.returncode != 0:
        raise ArtifactError(f"git clone of {url} (ref {ref}) failed: {done.stderr.strip()[-300:]}")
    shutil.rmtree(dest / ".git", ignore_errors=True)


def _fetch_tarball(spec: dict[str, Any], scratch: Path, dest: Path) -> None:
    url = str(spec.get("url") or "").strip()
    if not url:
        raise ArtifactError("tarball artifact has no url")
    # Downloaded and unpacked (with tarfile's `data` filter) in the fetch sandbox by the server's
    # interpreter, in isolated mode without site-packages.
    argv = [sys.executable, "-I", "-S", "-c", _TARBALL_SCRIPT, url, str(dest)]
    done = run_build(
        [*argv, str(MAX_TARBALL_BYTES), str(FETCH_TIMEOUT_SECONDS)],
        scratch=scratch,
        timeout_seconds=FETCH_TIMEOUT_SECONDS,
    )
    if done.returncode == 124:
        raise ArtifactError(f"download of {url} timed out")
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        detail = lines[-1] if done.returncode == 3 and lines else done.stderr.strip()[-300:]
        raise ArtifactError(detail if done.returncode == 3 else f"download of {url} failed: {detail}")


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _private_base(path: Path) -> Path:
    """The nearest existing directory at or above `path` that no sandboxed code can change: owned
    by the server's user, not writable by group or others. An app's working directory belongs to
    the app's uid, so a fetch for it is prepared one level above, where the app cannot swap the
    build directory for a link while the server works on it."""
    euid = os.geteuid()
    for candidate in (path, *path.parents):
        try:
            st = os.lstat(candidate)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) and st.st_uid == euid and not st.st_mode & 0o022:
            return candidate
    raise ArtifactError(f"no directory of the server's own above {path} to fetch into")


def _place(build: Path, base: Path, root: Path) -> None:
    """Move the finished `build` to `root`, walking from `base` (the server's) down to `root`'s
    parent without following symbolic links (the directories below `base` may be the app's)."""
    fd = os.open(base, _DIR_FLAGS)
    try:
        for part in root.parent.relative_to(base).parts:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
            nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
        try:
            os.rename(build, root.name, dst_dir_fd=fd)
        except OSError:
            if not root.is_dir():  # another process placed the same artifact first
                raise
    finally:
        os.close(fd)


def _stage(root: Path, produce: Callable[[Path, Path], None]) -> None:
    """Make the artifact directory `root`: `produce(scratch, build)` makes `build` inside
    `scratch`, a directory the app cannot change (in the nearest directory of the server's own
    above `root`); the build is then handed to the server's user and moved to `root` without
    following links, so a link the app planted on the way cannot redirect it."""
    base = _private_base(root.parent)
    scratch = base / f".ara-fetch-{uuid.uuid4().hex[:12]}"
    build = scratch / "out"
    try:
        produce(scratch, build)
        give_back(build)
        try:
            _place(build, base, root)
        except OSError as exc:  # e.g. a link where a directory of the path should be
            raise ArtifactError(f"the artifact could not be put in {root.parent}: {exc}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _ensure(spec: dict[str, Any], workdir: Path) -> Path:
    kind = str(spec.get("type") or "")
    root = artifact_dir(spec, workdir)

    def fetch(scratch: Path, build: Path) -> None:
        if kind == "git":
            _fetch_git(spec, scratch, build)
        elif kind == "tarball":
            scratch.mkdir(mode=0o700)
            _fetch_tarball(spec, scratch, build)
        else:
            raise ArtifactError(f"unknown artifact type {kind!r} (expected 'git' or 'tarball')")
        if not build.is_dir() or build.is_symlink():
            raise ArtifactError(f"the {kind} artifact produced no directory")

    if not root.is_dir():
        _stage(root, fetch)
    selected = str(spec.get("subdir") or "") if kind == "git" else str(spec.get("strip_prefix") or "")
    path = _inside(root, selected, "subdir" if kind == "git" else "strip_prefix")
    if not path.is_dir():
        raise ArtifactError(f"{selected!r} is not a directory of the artifact")
    return path


def _copy_in(cached: Path, target: Path) -> None:
    """Copy a fetched artifact from the server's cache to `target` (in an app's working directory)
    the way a fetch is placed (see `_stage`)."""
    if target.is_dir() or not cached.is_dir():
        return

    def copy(scratch: Path, build: Path) -> None:
        scratch.mkdir(mode=0o700)
        shutil.copytree(cached, build, symlinks=True)

    _stage(target, copy)


async def copy_artifact(spec: dict[str, Any], cache: Path, workdir: Path) -> None:
    """Copy the artifact `spec` fetched into `cache` at deploy into the app's working directory
    `workdir`, unless it is there already or the cache lacks it (then `ensure_artifact` fetches it).

    Raises:
        ArtifactError: A directory on the way to the target is a link or cannot be created.
    """
    await asyncio.to_thread(_copy_in, artifact_dir(spec, cache), artifact_dir(spec, workdir))


async def ensure_artifact(spec: dict[str, Any], workdir: Path) -> Path:
    """Fetch the artifact (once) and return the directory to use.

    Args:
        spec: ``{"type": "git", "repo_url", "ref", "subdir"}`` or
            ``{"type": "tarball", "url", "strip_prefix"}``.
        workdir: The app's working directory.

    Raises:
        ArtifactError: Unknown type, fetch failure, or a `subdir`/`strip_prefix` that is missing or
            leaves the artifact.
    """
    return await asyncio.to_thread(_ensure, spec, workdir)
