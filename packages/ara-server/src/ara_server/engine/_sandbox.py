"""Running an app's code in a subprocess sandbox: one process per tool call or prompt function."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SandboxResult", "run_function"]

RUNNER = Path(__file__).with_name("_runner.py")
#: Largest reply accepted from a sandbox process, in bytes.
MAX_REPLY_BYTES = 4 * 1024 * 1024
#: Captured stderr (the function's prints) kept per call, in bytes.
MAX_LOG_BYTES = 64 * 1024


@dataclass(slots=True)
class SandboxResult:
    """What one sandboxed call produced.

    Attributes:
        ok: The function returned a JSON-serialisable value.
        result: That value.
        error: `"<ErrorType>: <message>"` when not ok.
        logs: The function's printed output (stdout and stderr), truncated.
        duration_ms: Wall time in milliseconds.
    """

    ok: bool
    result: Any = None
    error: str | None = None
    logs: str = ""
    duration_ms: float = 0.0


def _env(workdir: Path, extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if os.environ.get("TZDIR"):
        env["TZDIR"] = os.environ["TZDIR"]
    env.update({str(k): str(v) for k, v in (extra or {}).items()})
    return env


async def run_function(
    *,
    source: str,
    function_name: str,
    mode: str,
    payload: Any,
    workdir: Path,
    timeout_seconds: float,
    env: Mapping[str, str] | None = None,
) -> SandboxResult:
    """Run one function from its source in a fresh Python process (the server's interpreter, `-I`).

    The process runs in `workdir` with a small environment (PATH, HOME=workdir, LANG, plus `env`),
    in its own process group, which is killed when the call passes its timeout. The event loop is
    never blocked (asyncio subprocesses).

    Args:
        source: The function's source (`def ...`).
        function_name: Name to call after executing the source.
        mode: `"tool"` (called with `**payload`) or `"prompt"` (called with `payload`).
        payload: Arguments dict or the run input.
        workdir: Working directory (created if missing).
        timeout_seconds: Wall-clock limit in seconds.
        env: Extra environment (the app's runtime env and secrets).

    Returns:
        The outcome; failures are described, never raised.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    request = {"source": source, "function_name": function_name, "mode": mode}
    request["args" if mode == "tool" else "input"] = payload
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-I",
        str(RUNNER),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(workdir),
        env=_env(workdir, env),
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(
            proc.communicate(json.dumps(request).encode()), timeout=timeout_seconds
        )
    except TimeoutError:
        _kill(proc)
        await proc.wait()
        return SandboxResult(
            False,
            error=f"TimeoutError: {function_name} timed out after {timeout_seconds:g} s",
            duration_ms=(time.perf_counter() - started) * 1000,
        )
    finally:
        if proc.returncode is None:
            _kill(proc)
    duration = (time.perf_counter() - started) * 1000
    logs = err[-MAX_LOG_BYTES:].decode("utf-8", "replace")
    if len(out) > MAX_REPLY_BYTES:
        return SandboxResult(
            False,
            error=f"ValueError: {function_name} returned more than {MAX_REPLY_BYTES} bytes",
            logs=logs,
            duration_ms=duration,
        )
    try:
        reply = json.loads(out.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        reason = f"exit code {proc.returncode}" if proc.returncode else "no reply"
        return SandboxResult(
            False, error=f"RuntimeError: {function_name} crashed ({reason})", logs=logs, duration_ms=duration
        )
    if reply.get("ok"):
        return SandboxResult(True, result=reply.get("result"), logs=logs, duration_ms=duration)
    error = f"{reply.get('error_type', 'Error')}: {reply.get('error', '')}"
    if reply.get("missing_module"):
        error += (
            f" (the sandbox runs the server's Python; install {reply['missing_module']!r} where ara-server "
            "runs and declare it with runtime(python_packages=[...]))"
        )
    return SandboxResult(False, error=error, logs=logs, duration_ms=duration)


def _kill(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass
