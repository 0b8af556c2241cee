"""Records of running sandboxes, so that the next start of a crashed server ends what it left behind.

Each running sandbox has one small JSON file `<state_dir>/sandboxes/<pid>.json`:
`{"pid", "pid_start", "server_pid", "server_start"}` (start times are the kernel's process start
ticks, so a reused pid is never mistaken for the recorded process). The file is removed when the
call ends. `reap_orphans` kills the process group of every record whose server is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ReapReport", "forget", "reap_orphans", "record"]


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it does not exist or is a
    zombie (dead, waiting to be reaped)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) may contain spaces and parentheses.
    fields = raw[raw.rfind(")") + 2 :].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def _dir(state_dir: Path) -> Path:
    return state_dir / "sandboxes"


def record(state_dir: Path, pid: int) -> Path | None:
    """Record a running sandbox (its process group leader `pid`); returns the record's path.

    Failures to write are ignored (the record is a safety net, not a requirement): returns None.
    """
    directory = _dir(state_dir)
    path = directory / f"{pid}.json"
    body = {
        "pid": pid,
        "pid_start": _start_ticks(pid),
        "server_pid": os.getpid(),
        "server_start": _start_ticks(os.getpid()),
    }
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body))
        tmp.replace(path)
    except OSError:
        return None
    return path


def forget(path: Path | None) -> None:
    """Remove a record written by `record` (no error if it is gone)."""
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()


@dataclass(frozen=True, slots=True)
class ReapReport:
    """What `reap_orphans` did.

    Attributes:
        killed: Process ids (group leaders) killed.
        removed: Records removed (their process was already gone, or killed).
        kept: Records left because their server is still running.
    """

    killed: tuple[int, ...]
    removed: int
    kept: int


def reap_orphans(state_dir: Path) -> ReapReport:
    """Kill the sandboxes a dead server left running (call once at start-up, before any run).

    A record whose server process (same pid and start time) is still alive is kept: it may be
    another server sharing the state directory. Otherwise the recorded process group is sent
    SIGKILL if its leader is still the recorded process, and the record is removed.

    Args:
        state_dir: The directory given as `SandboxPolicy.state_dir`.

    Returns:
        What was killed, removed and kept. Never raises for unreadable or malformed records.
    """
    killed: list[int] = []
    removed = kept = 0
    directory = _dir(state_dir)
    try:
        entries = sorted(directory.glob("*.json"))
    except OSError:
        return ReapReport((), 0, 0)
    for path in entries:
        try:
            body = json.loads(path.read_text())
            pid, pid_start = int(body["pid"]), body.get("pid_start")
            server_pid, server_start = int(body["server_pid"]), body.get("server_start")
        except (OSError, ValueError, KeyError, TypeError):
            forget(path)
            removed += 1
            continue
        if server_start is not None and _start_ticks(server_pid) == server_start:
            kept += 1
            continue
        if pid_start is not None and _start_ticks(pid) == pid_start:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        forget(path)
        removed += 1
    return ReapReport(tuple(killed), removed, kept)
