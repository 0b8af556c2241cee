"""The one way ara-server runs app or user code: `run_sandboxed`, and on top of it `run_function`
(a tool or prompt function) and `run_command` (a bash command: hooks, guardrail commands, session
`exec`).

Every call starts a fresh process tree under the isolation `isolation_status` reports (bubblewrap
namespaces, an unprivileged uid, resource limits), reads its output up to a limit, and ends the
whole tree at its timeout or on cancellation. Results are values; nothing the code does raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import stat
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from ._isolation import (
    IsolationStatus,
    IsolationUnavailable,
    Mechanism,
    build_argv,
    detect,
    is_detected,
    sandbox_uid,
    status_of,
)
from ._limits import SandboxLimits, SandboxPolicy
from ._reaper import forget, record
from ._warm import WarmPoolStats, WarmReply, existing_pool, warm_pool_for_loop

__all__ = [
    "ProcessResult",
    "close_warm_sandboxes",
    "warm_sandbox_stats",
    "SandboxResult",
    "configure_sandbox",
    "isolation_status",
    "require_isolation",
    "run_command",
    "run_function",
    "run_sandboxed",
    "sandbox_policy",
]

RUNNER = Path(__file__).with_name("_runner.py")
#: Largest reply accepted from a sandboxed function, in bytes.
MAX_REPLY_BYTES = 4 * 1024 * 1024
#: Captured stderr (the function's prints) kept per call in `SandboxResult.logs`, in bytes.
MAX_LOG_BYTES = 64 * 1024
#: Seconds to wait, in all, for the process to exit and its pipes to close once it ended or was killed.
PIPE_GRACE_SECONDS = 1.0
#: Upper bound, in seconds, on waiting for a SIGKILLed sandbox to be reaped (it normally takes
#: milliseconds; only a process stuck in the kernel takes longer).
REAP_SECONDS = 10.0

_policy = SandboxPolicy()
_runner_source: str | None = None


def configure_sandbox(policy: SandboxPolicy) -> None:
    """Set the policy every later call uses unless it passes its own (the server calls this once
    at start-up with its data directory as a hidden path and its state directory)."""
    global _policy
    _policy = policy


def sandbox_policy() -> SandboxPolicy:
    """The policy set by `configure_sandbox` (default `SandboxPolicy()`)."""
    return _policy


def isolation_status(policy: SandboxPolicy | None = None) -> IsolationStatus:
    """Which protections sandboxed code gets on this machine, for the start-up log and `/readyz`.

    Detects the mechanism once (a probe run of bubblewrap, under a second) and caches it.
    """
    return status_of(detect((policy or _policy).mechanism))


def require_isolation(policy: SandboxPolicy | None = None) -> None:
    """Raise unless every protection is on (guard for session `exec` and file tools of non-owners).

    Raises:
        IsolationUnavailable: With the names of the protections that are off.
    """
    status = isolation_status(policy)
    if not status.isolated:
        raise IsolationUnavailable(status.off, status.reason)


def warm_sandbox_stats() -> WarmPoolStats | None:
    """Counts and memory of the running event loop's warm sandboxes (None when none were used)."""
    pool = existing_pool()
    return None if pool is None else pool.stats()


async def close_warm_sandboxes() -> None:
    """Kill the running event loop's warm sandboxes (call at server shutdown)."""
    pool = existing_pool()
    if pool is not None:
        await pool.close()


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """What one sandboxed process tree did.

    Attributes:
        exit_code: The command's exit status; None when it could not be started. When the server
            killed the tree (timeout, cancellation) it is negative (-9). A command killed by a signal
            inside the sandbox reports 128 + the signal number, as a shell does (unisolated: the
            negative signal number).
        stdout: Captured standard output, at most `SandboxLimits.output_bytes` bytes.
        stderr: Captured standard error, at most `SandboxLimits.output_bytes` bytes.
        timed_out: The wall-clock timeout ended the tree.
        cancelled: The `cancel` event ended the tree.
        duration_ms: Wall time in milliseconds.
        truncated: Some output past the limit was dropped.
        isolated: The process ran under the full isolation (`isolation_status().isolated`).
        error: Why the process could not be started (None when it was).
    """

    exit_code: int | None
    stdout: bytes = b""
    stderr: bytes = b""
    timed_out: bool = False
    cancelled: bool = False
    duration_ms: float = 0.0
    truncated: bool = False
    isolated: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Exit status 0 and neither timed out nor cancelled."""
        return self.exit_code == 0 and not self.timed_out and not self.cancelled


class _Capture:
    """Reads one pipe to its end, keeping the first `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.truncated = False

    async def drain(self, reader: asyncio.StreamReader | None) -> None:
        if reader is None:
            return
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            room = self.limit - len(self.data)
            if room > 0:
                self.data += chunk[:room]
            if len(chunk) > room:
                self.truncated = True


async def _feed(writer: asyncio.StreamWriter | None, data: bytes) -> None:
    if writer is None:
        return
    with contextlib.suppress(BrokenPipeError, ConnectionResetError, OSError):
        writer.write(data)
        await writer.drain()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError, OSError):
        writer.close()


def _base_env(workdir: Path) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if os.environ.get("TZDIR"):
        env["TZDIR"] = os.environ["TZDIR"]
    return env


#: Deepest directory level of a workspace handed to the sandbox's uid (deeper levels keep their owner).
MAX_OWN_DEPTH = 64
#: Workspace entries handed over on the event loop before the rest moves to a thread.
INLINE_OWN_ENTRIES = 256
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _own_tree(root: Path, uid: int, budget: int | None = None) -> bool:
    """Give the workspace and everything in it to the sandbox's uid (mode 0700 on the top).

    Walks with directory file descriptors opened `O_NOFOLLOW` and changes owners relative to them
    without following symbolic links, so code racing the walk (a concurrent run of the same app
    swapping a directory for a link) cannot redirect it outside the workspace.

    Returns:
        False when it stopped after `budget` entries (call again without a budget), else True.
    """
    top = os.open(root, _DIR_FLAGS)
    st = os.fstat(top)
    if st.st_uid != uid or st.st_gid != uid:
        os.fchown(top, uid, uid)
    os.fchmod(top, 0o700)
    stack = [top]
    seen = 0
    try:
        while stack:
            fd = stack.pop()
            try:
                with os.scandir(fd) as it:
                    entries = list(it)
            except OSError:
                entries = []
            for entry in entries:
                seen += 1
                if budget is not None and seen > budget:
                    if fd != top:
                        os.close(fd)
                    return False
                try:
                    est = entry.stat(follow_symlinks=False)
                    if est.st_uid != uid or est.st_gid != uid:
                        os.chown(entry.name, uid, uid, dir_fd=fd, follow_symlinks=False)
                    if stat.S_ISDIR(est.st_mode) and len(stack) < MAX_OWN_DEPTH:
                        stack.append(os.open(entry.name, _DIR_FLAGS, dir_fd=fd))
                except OSError:
                    continue
            if fd != top:
                os.close(fd)
    finally:
        for fd in stack:
            if fd != top:
                os.close(fd)
        os.close(top)
    return True


def _kill_tree(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the process group; under bubblewrap the namespace's init dies with it, and with it
    every process of the namespace (setsid and double-forked ones included).

    Signals by pid only (the process is not reaped yet, so its pid is still its own):
    `Process.kill` would poll first and could reap it behind asyncio's child watcher, which then
    reports exit status 255 instead of the signal."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(proc.pid, signal.SIGKILL)


async def _reaped(waiter: asyncio.Future[Any]) -> None:
    """Wait (at most `REAP_SECONDS`) for the killed process to be reaped by asyncio's child watcher,
    so its exit status is the real one and no unreaped process outlives the call. Closing the
    transport first would reap it behind the watcher's back (whose status then reads 255)."""
    if not waiter.done():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiter), REAP_SECONDS)


def _close_pipes(proc: asyncio.subprocess.Process) -> None:
    # A descendant that escaped the kill (unisolated fallback only) may hold the pipes open:
    # close our ends so nothing waits on it. asyncio exposes no public way to do this.
    transport = getattr(proc, "_transport", None)
    if transport is not None:
        with contextlib.suppress(Exception):
            transport.close()


def _hidden(policy: SandboxPolicy, hidden_paths: Sequence[Path] | None) -> tuple[Path, ...]:
    """The paths to hide: the given ones (default the policy's) and the policy's state directory."""
    paths = tuple(policy.hidden_paths if hidden_paths is None else hidden_paths)
    if policy.state_dir is not None:
        paths += (policy.state_dir,)
    return paths


async def _mechanism(policy: SandboxPolicy) -> Mechanism:
    if is_detected(policy.mechanism):
        return detect(policy.mechanism)
    return await asyncio.to_thread(detect, policy.mechanism)


async def _prepare_workdir(workdir: Path, uid: int | None) -> None:
    """Create the workspace and hand it to the sandbox's uid: small trees on the event loop, the
    rest in a thread."""
    if not workdir.is_dir():
        await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    if uid is not None and not _own_tree(workdir, uid, INLINE_OWN_ENTRIES):
        await asyncio.to_thread(_own_tree, workdir, uid)


async def run_sandboxed(
    argv: Sequence[str],
    *,
    workdir: Path,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout_seconds: float | None = None,
    limits: SandboxLimits | None = None,
    python: str | None = None,
    ro_paths: Sequence[Path] = (),
    hidden_paths: Sequence[Path] | None = None,
    network: bool | None = None,
    cancel: asyncio.Event | None = None,
    policy: SandboxPolicy | None = None,
) -> ProcessResult:
    """Run one command in a fresh sandbox and return what it did.

    The command runs in `workdir` (created if missing; its only writable directory besides a
    private `/tmp`) with exactly the environment `PATH`, `HOME=workdir`, `LANG`, `TMPDIR` plus
    `env`, under the limits, in its own PID namespace. The server's data directory (the
    policy's `hidden_paths`), the home directory of the server's user and every other path
    given in `hidden_paths` are invisible. When the server runs as root the code runs as an
    unprivileged uid derived from `workdir`, which then owns `workdir`.

    At the timeout, when `cancel` is set, or when the calling task is cancelled, the whole
    process tree is killed; the call returns within the timeout plus about a second and never
    waits on pipes a descendant holds open. Task cancellation is re-raised after the kill.

    Args:
        argv: Command and arguments (`argv[0]` is looked up on `PATH`).
        workdir: Working directory; must not contain a hidden path.
        env: Extra environment (the app's runtime variables and secrets, `ARA_*`).
        stdin: Bytes written to the standard input, then closed; None gives `/dev/null`.
        timeout_seconds: Wall-clock limit in seconds; default `limits.timeout_seconds`.
        limits: Resource limits; default the policy's.
        python: Interpreter of the app's environment, made readable inside the sandbox; the
            server's own interpreter is always readable.
        ro_paths: More files or directories to make readable (they stay read-only).
        hidden_paths: Directories to hide; default the policy's `hidden_paths`.
        network: Allow the network; default the policy's `network` (True).
        cancel: Set it to end the tree early (`ProcessResult.cancelled`).
        policy: Policy for this call; default the one given to `configure_sandbox`.

    Returns:
        The result; a command that cannot start gives `exit_code=None` and `error`.

    Raises:
        ValueError: `workdir` is `/` or contains a hidden path.
        asyncio.CancelledError: The calling task was cancelled (after the tree was killed).
    """
    pol = policy or _policy
    lim = limits or pol.limits
    timeout = timeout_seconds if timeout_seconds is not None else lim.timeout_seconds
    started = time.monotonic()
    mech = await _mechanism(pol)
    status = status_of(mech)
    if pol.mechanism == "bubblewrap" and mech.bwrap is None:
        return ProcessResult(None, error=f"sandbox unavailable: {mech.reason}")
    if not argv or not argv[0]:
        return ProcessResult(None, error="no command to run", isolated=status.isolated)
    workdir = Path(os.path.abspath(workdir))
    uid = sandbox_uid(pol, workdir) if mech.bwrap and mech.as_root and mech.setpriv else None
    full_argv = build_argv(
        mech,
        list(argv),
        workdir=workdir,
        limits=lim,
        policy=pol,
        network=pol.network if network is None else network,
        hidden_paths=_hidden(pol, hidden_paths),
        ro_paths=ro_paths,
        uid=uid,
        interpreter=python,
    )
    full_env = _base_env(workdir)
    full_env.update({str(k): str(v) for k, v in (env or {}).items()})
    try:
        await _prepare_workdir(workdir, uid)
        proc = await asyncio.create_subprocess_exec(
            *full_argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(workdir),
            env=full_env,
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:
        return ProcessResult(
            None,
            error=f"could not start {argv[0] if argv else 'the command'}: {exc}",
            duration_ms=(time.monotonic() - started) * 1000,
            isolated=status.isolated,
        )
    rec = record(pol.state_dir, proc.pid) if pol.state_dir is not None else None
    out, err = _Capture(lim.output_bytes), _Capture(lim.output_bytes)
    pumps = [
        asyncio.ensure_future(out.drain(proc.stdout)),
        asyncio.ensure_future(err.drain(proc.stderr)),
    ]
    if stdin is not None:
        pumps.append(asyncio.ensure_future(_feed(proc.stdin, stdin)))
    waiter = asyncio.ensure_future(proc.wait())
    canceller = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
    timed_out = cancelled = False
    try:
        watch: set[asyncio.Future[Any]] = {waiter}
        if canceller is not None:
            watch.add(canceller)
        remaining = max(0.0, timeout - (time.monotonic() - started))
        done, _ = await asyncio.wait(watch, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            if canceller is not None and canceller in done:
                cancelled = True
            else:
                timed_out = True
            _kill_tree(proc)
        elif mech.bwrap is None:
            # Unisolated: the command is gone; end what is left of its process group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        # The exit (prompt after SIGKILL), then one grace period for the pipes, so a killed call
        # returns within its timeout plus PIPE_GRACE_SECONDS.
        grace_ends = time.monotonic() + PIPE_GRACE_SECONDS
        await _reaped(waiter)
        _, pending = await asyncio.wait(pumps, timeout=max(0.0, grace_ends - time.monotonic()))
        if pending:
            _close_pipes(proc)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
    finally:
        try:
            if proc.returncode is None:  # cancelled or failed before the exit: kill, then reap
                _kill_tree(proc)
                await _reaped(waiter)
        finally:
            for task in (*pumps, waiter, *((canceller,) if canceller is not None else ())):
                if not task.done():
                    task.cancel()
            if any(not t.done() for t in pumps):
                _close_pipes(proc)
            forget(rec)
    return ProcessResult(
        proc.returncode,
        stdout=bytes(out.data),
        stderr=bytes(err.data),
        timed_out=timed_out,
        cancelled=cancelled,
        duration_ms=(time.monotonic() - started) * 1000,
        truncated=out.truncated or err.truncated,
        isolated=status.isolated,
    )


async def run_command(
    command: str,
    *,
    workdir: Path,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout_seconds: float | None = None,
    limits: SandboxLimits | None = None,
    network: bool | None = None,
    cancel: asyncio.Event | None = None,
    policy: SandboxPolicy | None = None,
) -> ProcessResult:
    """Run a bash command string (`bash -c command`) in a sandbox; see `run_sandboxed`."""
    return await run_sandboxed(
        ["bash", "-c", command],
        workdir=workdir,
        env=env,
        stdin=stdin,
        timeout_seconds=timeout_seconds,
        limits=limits,
        network=network,
        cancel=cancel,
        policy=policy,
    )


@dataclass(slots=True)
class SandboxResult:
    """What one sandboxed function call produced.

    Attributes:
        ok: The function returned a JSON-serialisable value.
        result: That value.
        error: `"<ErrorType>: <message>"` when not ok.
        logs: The function's printed output (stdout and stderr), first `MAX_LOG_BYTES` bytes.
        duration_ms: Wall time in milliseconds.
        timed_out: The call passed its timeout and its process tree was killed.
        truncated: Printed output past the output limit was dropped.
    """

    ok: bool
    result: Any = None
    error: str | None = None
    logs: str = ""
    duration_ms: float = 0.0
    timed_out: bool = False
    truncated: bool = False


def _runner() -> str:
    global _runner_source
    if _runner_source is None:
        _runner_source = RUNNER.read_text(encoding="utf-8")
    return _runner_source


async def run_function(
    *,
    source: str,
    function_name: str,
    mode: str,
    payload: Any,
    workdir: Path,
    timeout_seconds: float,
    env: Mapping[str, str] | None = None,
    python: str | None = None,
    limits: SandboxLimits | None = None,
    network: bool | None = None,
    cancel: asyncio.Event | None = None,
    policy: SandboxPolicy | None = None,
) -> SandboxResult:
    """Run one function from its source in a fresh sandboxed Python process (`python -I`).

    Args:
        source: The function's source (`def ...`).
        function_name: Name to call after executing the source.
        mode: `"tool"` (called with `**payload`) or `"prompt"` (called with `payload`).
        payload: Arguments dict or the run input (JSON-serialisable).
        workdir: Working directory (created if missing).
        timeout_seconds: Wall-clock limit in seconds.
        env: Extra environment (the app's runtime env and secrets).
        python: Interpreter of the app's environment; default the server's.
        limits: Resource limits; default the policy's.
        network: Allow the network; default the policy's.
        cancel: Set it to end the call early.
        policy: Sandbox policy; default the one given to `configure_sandbox`.

    Returns:
        The outcome; failures are described, never raised (task cancellation excepted).
    """
    request: dict[str, Any] = {"source": source, "function_name": function_name, "mode": mode}
    request["args" if mode == "tool" else "input"] = payload
    lim = limits or (policy or _policy).limits
    # The reply travels on stdout: allow it the reply limit whatever the output limit.
    lim = msgspec.structs.replace(lim, output_bytes=max(lim.output_bytes, MAX_REPLY_BYTES + 1))
    pol = policy or _policy
    if pol.warm_per_app > 0:
        warm = await _run_warm(
            request,
            python=python or sys.executable,
            workdir=workdir,
            env=env,
            timeout_seconds=timeout_seconds,
            limits=lim,
            network=network,
            cancel=cancel,
            policy=pol,
        )
        if warm is not None:
            return _function_result(function_name, timeout_seconds, warm)
    res = await run_sandboxed(
        [python or sys.executable, "-I", "-c", _runner()],
        workdir=workdir,
        env=env,
        stdin=json.dumps(request).encode(),
        timeout_seconds=timeout_seconds,
        limits=lim,
        python=python,
        network=network,
        cancel=cancel,
        policy=policy,
    )
    logs = res.stderr[:MAX_LOG_BYTES].decode("utf-8", "replace")
    truncated = len(res.stderr) > MAX_LOG_BYTES or res.truncated
    common: dict[str, Any] = {"logs": logs, "duration_ms": res.duration_ms, "truncated": truncated}
    if res.error is not None:
        return SandboxResult(False, error=f"RuntimeError: {res.error}", **common)
    if res.timed_out:
        return SandboxResult(
            False,
            error=f"TimeoutError: {function_name} timed out after {timeout_seconds:g} s",
            timed_out=True,
            **common,
        )
    if res.cancelled:
        return SandboxResult(False, error=f"CancelledError: {function_name} was cancelled", **common)
    if len(res.stdout) > MAX_REPLY_BYTES:
        return SandboxResult(
            False, error=f"ValueError: {function_name} returned more than {MAX_REPLY_BYTES} bytes", **common
        )
    try:
        reply = json.loads(res.stdout.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        reply = None
    status = None if res.exit_code is None else _wait_status(res.exit_code)
    return _reply_result(function_name, reply, status, **common)


def _wait_status(exit_code: int) -> int:
    """An exit code as `os.waitpid` would give it (negative: killed by that signal)."""
    return -exit_code if exit_code < 0 else exit_code << 8


def _reply_result(
    function_name: str, reply: object, status: int | None, *, logs: str, duration_ms: float, truncated: bool
) -> SandboxResult:
    common: dict[str, Any] = {"logs": logs, "duration_ms": duration_ms, "truncated": truncated}
    if not isinstance(reply, dict):
        if status is None or status == 0:
            reason = "no reply"
        elif os.WIFSIGNALED(status):
            reason = f"killed by signal {os.WTERMSIG(status)}"
        else:
            code = os.WEXITSTATUS(status)
            reason = f"killed by signal {code - 128}" if code > 128 else f"exit code {code}"
        return SandboxResult(False, error=f"RuntimeError: {function_name} crashed ({reason})", **common)
    reply_d: dict[str, Any] = reply  # pyright: ignore[reportUnknownVariableType]
    if reply_d.get("ok"):
        return SandboxResult(True, result=reply_d.get("result"), **common)
    error = f"{reply_d.get('error_type', 'Error')}: {reply_d.get('error', '')}"
    if reply_d.get("missing_module"):
        error += (
            f" (the sandbox runs the app's Python environment; install {reply_d['missing_module']!r} "
            "there: declare it with runtime(python_packages=[...]))"
        )
    return SandboxResult(False, error=error, **common)


async def _run_warm(
    request: dict[str, Any],
    *,
    python: str,
    workdir: Path,
    env: Mapping[str, str] | None,
    timeout_seconds: float,
    limits: SandboxLimits,
    network: bool | None,
    cancel: asyncio.Event | None,
    policy: SandboxPolicy,
) -> WarmReply | None:
    """One call through the warm pool; None when it must run cold (no bubblewrap, pool full)."""
    mech = await _mechanism(policy)
    if mech.bwrap is None:
        return None
    workdir = Path(os.path.abspath(workdir))
    full_env = _base_env(workdir)
    full_env.update({str(k): str(v) for k, v in (env or {}).items()})
    uid = sandbox_uid(policy, workdir) if mech.as_root and mech.setpriv else None
    try:
        await _prepare_workdir(workdir, uid)
    except OSError:
        return None  # the cold path reports it
    return await warm_pool_for_loop(policy).call(
        mech,
        request,
        python=python,
        workdir=workdir,
        env=full_env,
        limits=limits,
        policy=policy,
        network=policy.network if network is None else network,
        timeout_seconds=timeout_seconds,
        cancel=cancel,
    )


def _function_result(function_name: str, timeout_seconds: float, warm: WarmReply) -> SandboxResult:
    logs = warm.logs[:MAX_LOG_BYTES]
    common: dict[str, Any] = {
        "logs": logs,
        "duration_ms": warm.duration_ms,
        "truncated": warm.truncated or len(warm.logs) > MAX_LOG_BYTES,
    }
    if warm.timed_out:
        return SandboxResult(
            False,
            error=f"TimeoutError: {function_name} timed out after {timeout_seconds:g} s",
            timed_out=True,
            **common,
        )
    if warm.cancelled:
        return SandboxResult(False, error=f"CancelledError: {function_name} was cancelled", **common)
    return _reply_result(function_name, warm.reply, warm.status, **common)
