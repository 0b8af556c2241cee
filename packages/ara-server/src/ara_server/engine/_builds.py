"""Sandboxed builds: the processes that install an app's `python_packages` (`uv`) and fetch its
artifacts (`git`, tarball downloads).

A package's build step (an sdist's `setup.py` or build backend) and a fetch run code or parse
input that an app chose, so they run under the same isolation as the app's own code
(`build_argv`: bubblewrap namespaces, the data directory, the sandbox state directory and the
server's home hidden, an unprivileged uid when the server is root, `prlimit` limits), with three
differences: the network is on (installs need a package index), only the build's own scratch
directory and, for installs, the install cache are writable, and the limits are the policy's
`install_limits`. The environment is cleared to `PATH`, `HOME` and `TMPDIR` inside the scratch
directory, `LANG`, the system certificate locations (`SSL_CERT_FILE`, `SSL_CERT_DIR`), what the
caller passes and what the operator set with `ARA_INSTALL_ENV_<NAME>` variables (for instance
`ARA_INSTALL_ENV_UV_INDEX_URL` or `ARA_INSTALL_ENV_HTTPS_PROXY`).

Without bubblewrap the build runs as before this module existed: as the server's user, with the
server's environment and the limits; `isolation_status` then reports `sandboxed_installs` off.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ._isolation import build_argv, detect, sandbox_uid, status_of
from ._limits import SandboxPolicy
from ._reaper import forget, record

__all__ = [
    "INSTALL_ENV_PREFIX",
    "BuildResult",
    "give_back",
    "install_env",
    "isolated_builds",
    "run_build",
    "unsandboxed_build_warnings",
]

#: Server environment variables `ARA_INSTALL_ENV_<NAME>=value` become `NAME=value` in builds.
INSTALL_ENV_PREFIX = "ARA_INSTALL_ENV_"
#: Server variables passed to builds unchanged: where the system's certificates are (not secret).
_PASSED = ("SSL_CERT_FILE", "SSL_CERT_DIR")
#: Bytes of each output stream kept (the end of it: the error is there).
_KEEP_BYTES = 64 * 1024
#: Seconds to wait for the pipes to close after the build's process tree was killed.
_PIPE_GRACE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What one sandboxed build command did.

    Attributes:
        returncode: Exit status (negative: killed by that signal; 124: timed out; 126: the sandbox
            could not be used).
        stdout: The last 64 KiB of standard output, decoded.
        stderr: The last 64 KiB of standard error, decoded.
        isolated: It ran under bubblewrap.
    """

    returncode: int
    stdout: str
    stderr: str
    isolated: bool


def install_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables every build gets from the server's environment (default `os.environ`).

    Returns:
        `SSL_CERT_FILE` and `SSL_CERT_DIR` when set, plus `NAME=value` for every
        `ARA_INSTALL_ENV_NAME=value` (an empty `NAME` is ignored).
    """
    source = os.environ if environ is None else environ
    out = {name: source[name] for name in _PASSED if source.get(name)}
    for key, value in source.items():
        if key.startswith(INSTALL_ENV_PREFIX) and len(key) > len(INSTALL_ENV_PREFIX):
            out[key[len(INSTALL_ENV_PREFIX) :]] = value
    return out


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    """Give `root` and everything under it to `uid`/`gid`, never following symbolic links."""
    with contextlib.suppress(OSError):
        os.lchown(root, uid, gid)
    for base, dirs, files in os.walk(root, followlinks=False):
        for name in (*dirs, *files):
            with contextlib.suppress(OSError):
                os.lchown(os.path.join(base, name), uid, gid)


def give_back(root: Path) -> None:
    """Hand a finished build (an environment, an artifact) back to the server's own user, so no
    sandbox uid owns it (app code then only reads it). No-op unless the server is root."""
    if os.geteuid() == 0:
        _chown_tree(root, os.geteuid(), os.getegid())


def _prepare_dir(path: Path, uid: int | None) -> None:
    """Create `path` (mode 0700) and, when builds run as `uid`, hand the whole tree to it (only
    when its top is not owned by it yet: a cache keeps its owner between builds)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    if uid is not None and os.lstat(path).st_uid != uid:
        _chown_tree(path, uid, uid)


class _Tail:
    """Drains a pipe in a thread, keeping the last `_KEEP_BYTES` bytes."""

    def __init__(self, pipe: IO[bytes] | None) -> None:
        self.chunks: collections.deque[bytes] = collections.deque()
        self.size = 0
        self.thread = threading.Thread(target=self._drain, args=(pipe,), daemon=True)
        self.thread.start()

    def _drain(self, pipe: IO[bytes] | None) -> None:
        if pipe is None:
            return
        with contextlib.suppress(OSError, ValueError):
            while chunk := pipe.read1(65536):  # pyright: ignore[reportAttributeAccessIssue]
                self.chunks.append(chunk)
                self.size += len(chunk)
                while self.size - len(self.chunks[0]) >= _KEEP_BYTES:
                    self.size -= len(self.chunks.popleft())

    def text(self) -> str:
        data = b"".join(self.chunks)[-_KEEP_BYTES:]
        return data.decode("utf-8", "replace")


def run_build(
    argv: Sequence[str],
    *,
    scratch: Path,
    env: Mapping[str, str] | None = None,
    cache: Path | None = None,
    ro_paths: Iterable[Path] = (),
    policy: SandboxPolicy | None = None,
    timeout_seconds: float | None = None,
) -> BuildResult:
    """Run one build command (blocking) in a sandbox whose only writable directories are `scratch`
    and `cache`, both bound at their own paths (so absolute paths written into the build stay
    valid outside).

    `scratch` is created (mode 0700) with `home/` and `tmp/` inside (the build's `HOME` and
    `TMPDIR`); the command runs in it. When the server runs as root the build runs as an
    unprivileged uid (derived from `cache` when given, so the cache keeps one owner; else from
    `scratch`), which is given `scratch` and `cache` first.

    Args:
        argv: The command (absolute path of the program first: it must be readable inside).
        scratch: The build's own directory; the caller removes it afterwards.
        env: More environment variables (after `install_env()`).
        cache: A directory shared by builds (uv's cache), writable inside.
        ro_paths: Files or directories to make readable (the `uv` binary, a local package dir).
        policy: The sandbox policy (default the server's, `sandbox_policy()`): its hidden paths,
            state directory, mechanism, uid range and `install_limits` apply; the network is on.
        timeout_seconds: Wall clock in seconds (default `install_limits.timeout_seconds`); at the
            limit the whole process tree is killed and `returncode` is 124.

    Returns:
        The result; a policy that requires bubblewrap where it does not work gives returncode 126.
    """
    from ._sandbox import sandbox_policy  # the server's policy (set once at start-up)

    pol = policy or sandbox_policy()
    limits = pol.install_limits
    timeout = limits.timeout_seconds if timeout_seconds is None else timeout_seconds
    mech = detect(pol.mechanism)
    if pol.mechanism == "bubblewrap" and mech.bwrap is None:
        return BuildResult(126, "", f"sandbox unavailable: {mech.reason}", False)
    isolated = mech.bwrap is not None
    scratch = Path(os.path.abspath(scratch))
    uid = None
    if isolated and mech.as_root and mech.setpriv:
        uid = sandbox_uid(pol, Path(os.path.abspath(cache)) if cache is not None else scratch)
    for directory in (scratch, scratch / "home", scratch / "tmp", *((cache,) if cache else ())):
        _prepare_dir(directory, uid)
    hidden = [*pol.hidden_paths, *((pol.state_dir,) if pol.state_dir is not None else ())]
    try:
        full_argv = build_argv(
            mech,
            list(argv),
            workdir=scratch,
            limits=limits,
            policy=pol,
            network=True,
            hidden_paths=hidden,
            ro_paths=list(ro_paths),
            uid=uid,
            rw_paths=[cache] if cache is not None else [],
        )
    except ValueError as exc:  # a build directory that contains a hidden path
        return BuildResult(126, "", f"sandbox refused: {exc}", isolated)
    extra = {**install_env(), **(env or {})}
    if isolated:
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": str(scratch / "home"),
            "TMPDIR": str(scratch / "tmp"),
            "LANG": "C.UTF-8",
            **extra,
        }
    else:
        # Unisolated (reported as `sandboxed_installs` off): the server's environment as before.
        full_env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")}
        full_env.update(extra)
    try:
        proc = subprocess.Popen(
            full_argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=str(scratch),
            env=full_env,
            start_new_session=True,
        )
    except OSError as exc:
        return BuildResult(126, "", f"could not start {argv[0]}: {exc}", isolated)
    rec = record(pol.state_dir, proc.pid) if pol.state_dir is not None else None
    out, err = _Tail(proc.stdout), _Tail(proc.stderr)
    timed_out = False
    try:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
    finally:
        if proc.returncode is None or not isolated:
            # Under bubblewrap this ends the namespace and everything in it; unisolated, what is
            # left of the process group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        forget(rec)
        grace_ends = time.monotonic() + _PIPE_GRACE_SECONDS
        for tail, pipe in ((out, proc.stdout), (err, proc.stderr)):
            tail.thread.join(max(0.0, grace_ends - time.monotonic()))
            # A pipe still held by an escaped child (unisolated fallback only) stays with its
            # daemon reader thread: closing it under a blocked read would block here.
            if pipe is not None and not tail.thread.is_alive():
                with contextlib.suppress(OSError):
                    pipe.close()
    if timed_out:
        return BuildResult(124, out.text(), f"timed out after {timeout:g} s", isolated)
    code = proc.returncode if proc.returncode is not None else -signal.SIGKILL
    return BuildResult(code, out.text(), err.text(), isolated)


def isolated_builds(policy: SandboxPolicy | None = None) -> bool:
    """Whether builds run sandboxed on this machine (`sandboxed_installs` of `isolation_status`)."""
    from ._sandbox import sandbox_policy

    return status_of(detect((policy or sandbox_policy()).mechanism)).protections["sandboxed_installs"]


def unsandboxed_build_warnings(
    package_paths: Sequence[str], artifact_paths: Sequence[str], policy: SandboxPolicy | None = None
) -> list[dict[str, str]]:
    """Deploy warnings for installs and fetches that ran without the sandbox (no bubblewrap).

    Args:
        package_paths: JSON paths of the declared packages (`$.runtime_profile.python_packages[0]`, ...);
            one warning per package list.
        artifact_paths: JSON paths of the declared artifacts; one warning each.
        policy: The sandbox policy (default the server's).

    Returns:
        `[{"path", "message"}]`; empty when builds are sandboxed or nothing was declared.
    """
    if not package_paths and not artifact_paths or isolated_builds(policy):
        return []
    lists = dict.fromkeys(path.rsplit("[", 1)[0] for path in package_paths)
    why = "without the sandbox (bubblewrap is not usable on this server): its code ran as the server's user"
    return [
        *({"path": path, "message": f"python_packages were installed {why}"} for path in lists),
        *({"path": path, "message": f"the artifact was fetched {why}"} for path in artifact_paths),
    ]
