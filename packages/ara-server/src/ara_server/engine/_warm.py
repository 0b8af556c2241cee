"""Warm sandboxes: per app environment, long-lived sandboxes each running a fork server that forks a
fresh child per tool call, so a call costs a fork instead of a new sandbox and interpreter.

Each warm sandbox is built exactly like a cold one (same namespaces, uid, limits, hidden paths) and
serves one call at a time. Every call starts from a clean state: a new child forked from the fork
server (no globals of earlier calls), with the call's own environment, working directory and an
empty temp directory. When the call's child has written its reply, every process the call left
(the child too) is killed, so none runs any more code, and the call is answered; the fork server
then waits until they are gone, empties `/tmp` and `/dev/shm` of what the call created, and only
then forks the child that reads the next request (a request sent meanwhile waits in the pipe). A
call that times out or is cancelled kills its whole sandbox (the PID namespace) before it is
answered; the sandbox is then replaced. Sandboxes are keyed by interpreter, workspace and
isolation settings, so apps never share one. The pool is bounded (per key and in total) and
closes sandboxes idle for longer than its idle time (a timer, also when no call comes); when it is
full a call runs cold instead of waiting. Its memory is read from `/proc` (`WarmPool.stats`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import struct
import sys
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._isolation import Mechanism, build_argv, sandbox_uid
from ._limits import SandboxLimits, SandboxPolicy
from ._reaper import forget, record

__all__ = ["WarmPool", "WarmPoolStats", "WarmReply", "existing_pool", "warm_pool_for_loop"]

RUNNER = Path(__file__).with_name("_runner.py")


@dataclass(frozen=True, slots=True)
class WarmReply:
    """One call's answer from a warm sandbox.

    Attributes:
        reply: The runner's JSON reply (`{"ok", "result" | "error_type", "error"}`), None if the
            child died without one.
        status: The child's wait status (`os.waitpid`); None when the call timed out or was cancelled.
        logs: What the function printed, at most the output limit.
        truncated: Printed output past the limit was dropped.
        timed_out: The call passed its timeout (its sandbox was killed).
        cancelled: The call was cancelled (its sandbox was killed).
        duration_ms: Wall time of the call in milliseconds.
    """

    reply: dict[str, Any] | None
    status: int | None
    logs: str = ""
    truncated: bool = False
    timed_out: bool = False
    cancelled: bool = False
    duration_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class WarmPoolStats:
    """What a pool holds right now.

    Attributes:
        sandboxes: Warm sandboxes alive.
        busy: Of those, serving a call.
        keys: Distinct app environments with a sandbox.
        processes: Processes of those sandboxes (bubblewrap, the fork server, its ready child).
        rss_bytes: Resident memory of those processes, in bytes (pages shared between them, e.g. a
            fork server's and its child's, counted once per process).
        pss_bytes: Their proportional resident memory, in bytes (each shared page divided among
            the processes sharing it: what the sandboxes cost the machine; 0 when the kernel
            does not report it).
        calls: Calls served warm since the pool was created.
        started: Sandboxes started since then.
        closed_idle: Sandboxes closed because they were idle for the idle time.
        cold_fallbacks: Calls that ran cold because the pool was full.
        per_app: Most sandboxes per app environment.
        total: Most sandboxes in all.
        idle_seconds: Idle time after which a sandbox is closed, in seconds.
    """

    sandboxes: int
    busy: int
    keys: int
    processes: int
    rss_bytes: int
    pss_bytes: int
    calls: int
    started: int
    closed_idle: int
    cold_fallbacks: int
    per_app: int
    total: int
    idle_seconds: float


@dataclass(frozen=True, slots=True)
class _Spawn:
    """How to start a sandbox for one key."""

    mech: Mechanism
    python: str
    workdir: Path
    limits: SandboxLimits
    policy: SandboxPolicy
    network: bool
    hidden: tuple[Path, ...]
    uid: int | None


@dataclass(eq=False)
class _Sandbox:
    key: tuple[Any, ...]
    proc: asyncio.subprocess.Process
    record_path: Path | None
    busy: bool = False
    last_used: float = field(default_factory=time.monotonic)
    rss_bytes: int = 0
    dead: bool = False
    booted: asyncio.Future[bool] | None = None  # the fork server's ready frame (True) or its death

    @property
    def is_booted(self) -> bool:
        b = self.booted
        return b is not None and b.done() and not b.cancelled() and b.exception() is None and b.result()

    def kill(self) -> None:
        if self.dead:
            return
        self.dead = True
        if self.proc.returncode is None:  # not reaped yet: the pid is still this sandbox's
            # By pid: Process.kill() polls first, which reaps behind the event loop's child
            # watcher ("Unknown child process").
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, 9)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.proc.pid, 9)
        # Close our pipe ends now: nothing more is read from a killed sandbox. asyncio exposes no
        # public way to close a subprocess transport.
        transport = getattr(self.proc, "_transport", None)
        if transport is not None:
            with contextlib.suppress(Exception):
                transport.close()
        forget(self.record_path)


class WarmPool:
    """A bounded pool of warm sandboxes, bound to one event loop.

    Args:
        per_key: Most sandboxes per app environment (concurrent warm calls of one app). Default 2.
        total: Most sandboxes in the pool. Default 16.
        idle_seconds: A sandbox unused this long is closed. Default 60.
    """

    def __init__(self, *, per_key: int = 2, total: int = 16, idle_seconds: float = 60.0) -> None:
        if per_key < 1 or total < 1 or idle_seconds <= 0:
            raise ValueError("warm pool bounds must be positive")
        self.per_key = per_key
        self.total = total
        self.idle_seconds = idle_seconds
        self._sandboxes: list[_Sandbox] = []
        # Killed sandboxes whose exit the event loop has not seen yet (reaped in `close`).
        self._killed: list[_Sandbox] = []
        self._calls = self._started = self._cold = self._closed_idle = 0
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._spares: set[asyncio.Task[None]] = set()

    def _kill(self, sandbox: _Sandbox) -> None:
        sandbox.kill()
        self._killed = [s for s in self._killed if s.proc.returncode is None]
        self._killed.append(sandbox)

    def stats(self) -> WarmPoolStats:
        """Counts and memory of the pool (for `/readyz` or metrics); the memory is read from
        `/proc` now (a few milliseconds)."""
        alive = [s for s in self._sandboxes if not s.dead]
        processes, rss, pss = _tree_memory([s.proc.pid for s in alive])
        if not processes:  # /proc unreadable: what the fork servers last reported
            rss = sum(s.rss_bytes for s in alive)
        return WarmPoolStats(
            sandboxes=len(alive),
            busy=sum(1 for s in alive if s.busy),
            keys=len({s.key for s in alive}),
            processes=processes,
            rss_bytes=rss,
            pss_bytes=pss,
            calls=self._calls,
            started=self._started,
            closed_idle=self._closed_idle,
            cold_fallbacks=self._cold,
            per_app=self.per_key,
            total=self.total,
            idle_seconds=self.idle_seconds,
        )

    def shrink(self) -> int:
        """Close sandboxes idle for longer than `idle_seconds`; returns how many were closed."""
        now = time.monotonic()
        closed = 0
        for s in list(self._sandboxes):
            if s.dead or (not s.busy and now - s.last_used > self.idle_seconds):
                if not s.dead:
                    self._kill(s)
                    closed += 1
                self._sandboxes.remove(s)
        self._closed_idle += closed
        return closed

    def _schedule_shrink(self) -> None:
        """Arm the timer that closes the next sandbox to pass its idle time (none when the pool
        is empty; re-armed by every release)."""
        if self._timer is not None or not self._sandboxes:
            return
        idle = [s.last_used for s in self._sandboxes if not s.busy and not s.dead]
        due = (min(idle) if idle else time.monotonic()) + self.idle_seconds
        delay = max(0.0, due - time.monotonic()) + 0.01
        self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.shrink()
        self._schedule_shrink()

    async def close(self) -> None:
        """Kill every sandbox of the pool and wait (at most 2 s each) until they are reaped."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._spares):  # let a sandbox being started register, then kill it too
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5)
        for s in self._sandboxes:
            self._kill(s)
        for s in [*self._sandboxes, *self._killed]:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(s.proc.wait(), 2)
        self._sandboxes.clear()
        self._killed.clear()

    async def _acquire(self, key: tuple[Any, ...], spawn: _Spawn) -> _Sandbox | None:
        async with self._lock:
            self.shrink()
            idle = [
                s
                for s in self._sandboxes
                if s.key == key and not s.busy and not s.dead and s.proc.returncode is None
            ]
            if idle:
                # A booted sandbox before one still starting; among them the one unused the
                # longest: the one used last may still be forking its next child.
                chosen = min(idle, key=lambda s: (not s.is_booted, s.last_used))
                chosen.busy = True
                # The app calls again: give it its next sandbox in the background (back-to-back
                # calls then alternate, each finding a child that had a whole call to warm up).
                if sum(1 for s in self._sandboxes if s.key == key) < self.per_key:
                    self._spare_soon(key, spawn)
                return chosen
            if sum(1 for s in self._sandboxes if s.key == key) >= self.per_key:
                return None
            return await self._spawn(key, spawn, busy=True)

    async def _spawn(self, key: tuple[Any, ...], spawn: _Spawn, *, busy: bool) -> _Sandbox | None:
        """Start a sandbox (under the lock); None when the pool is full of busy sandboxes or the
        process cannot start."""
        if len(self._sandboxes) >= self.total:
            idle = [s for s in self._sandboxes if not s.busy]
            if not idle:
                return None
            oldest = min(idle, key=lambda s: s.last_used)
            self._kill(oldest)
            self._sandboxes.remove(oldest)
        argv = build_argv(
            spawn.mech,
            [spawn.python, "-I", "-c", RUNNER.read_text(encoding="utf-8"), "--serve"],
            workdir=spawn.workdir,
            limits=spawn.limits,
            policy=spawn.policy,
            network=spawn.network,
            hidden_paths=spawn.hidden,
            ro_paths=(),
            uid=spawn.uid,
            interpreter=None if spawn.python == sys.executable else spawn.python,
        )
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(spawn.workdir)}
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                cwd=str(spawn.workdir),
                env=env,
                start_new_session=True,
            )
        except OSError:
            return None
        policy = spawn.policy
        rec = record(policy.state_dir, proc.pid) if policy.state_dir is not None else None
        sandbox = _Sandbox(key=key, proc=proc, record_path=rec, busy=busy)
        sandbox.booted = asyncio.ensure_future(self._boot(sandbox))
        self._sandboxes.append(sandbox)
        self._started += 1
        return sandbox

    @staticmethod
    async def _boot(sandbox: _Sandbox) -> bool:
        """Wait for the fork server's ready frame; False when it died first."""
        answer = await WarmPool._read_frame(sandbox.proc)
        if answer is None or not answer.get("ready"):
            return False
        sandbox.rss_bytes = int(answer.get("rss_bytes") or 0)
        return True

    def _spare_soon(self, key: tuple[Any, ...], spawn: _Spawn) -> None:
        async def start() -> None:
            async with self._lock:
                count = sum(1 for s in self._sandboxes if s.key == key)
                if count < self.per_key and len(self._sandboxes) < self.total:
                    sandbox = await self._spawn(key, spawn, busy=False)
                    if sandbox is not None:
                        sandbox.last_used = time.monotonic()
                        self._schedule_shrink()

        task = asyncio.get_running_loop().create_task(start(), name="ara-warm-spare")
        self._spares.add(task)
        task.add_done_callback(self._spares.discard)

    def _release(self, sandbox: _Sandbox) -> None:
        sandbox.busy = False
        sandbox.last_used = time.monotonic()
        if sandbox.dead and sandbox in self._sandboxes:
            self._sandboxes.remove(sandbox)
        self._schedule_shrink()

    async def call(
        self,
        mech: Mechanism,
        request: Mapping[str, Any],
        *,
        python: str,
        workdir: Path,
        env: Mapping[str, str],
        limits: SandboxLimits,
        policy: SandboxPolicy,
        network: bool,
        timeout_seconds: float,
        cancel: asyncio.Event | None = None,
    ) -> WarmReply | None:
        """Run one function call warm; None when the pool is full (the caller runs it cold).

        Raises:
            asyncio.CancelledError: The calling task was cancelled (its sandbox is killed first).
        """
        started = time.monotonic()
        hidden = tuple(
            Path(os.path.abspath(p))
            for p in (*policy.hidden_paths, *((policy.state_dir,) if policy.state_dir is not None else ()))
        )
        uid = sandbox_uid(policy, workdir) if mech.as_root and mech.setpriv else None
        key = (python, str(workdir), network, hidden, limits, policy.uid_base, policy.uid_count)
        spawn = _Spawn(mech, python, workdir, limits, policy, network, hidden, uid)
        sandbox = await self._acquire(key, spawn)
        if sandbox is None:
            self._cold += 1
            return None
        if not sandbox.is_booted:
            assert sandbox.booted is not None
            try:
                booted = await asyncio.wait_for(asyncio.shield(sandbox.booted), timeout_seconds)
            except BaseException:
                self._kill(sandbox)
                self._release(sandbox)
                raise
            if not booted:  # its fork server did not start: this call runs cold
                self._kill(sandbox)
                self._release(sandbox)
                self._cold += 1
                return None
        body = json.dumps(
            {**request, "env": dict(env), "cwd": str(workdir), "output_bytes": limits.output_bytes}
        ).encode()
        proc = sandbox.proc
        assert proc.stdin is not None and proc.stdout is not None
        # Written now, not in the task below: the request leaves before the event loop turns.
        try:
            proc.stdin.write(struct.pack(">I", len(body)) + body)
        except (ConnectionError, BrokenPipeError):
            pass  # the sandbox is gone: the exchange below sees its closed pipes
        waiter = asyncio.ensure_future(self._exchange(proc))
        canceller = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
        try:
            watch: set[asyncio.Future[Any]] = {waiter}
            if canceller is not None:
                watch.add(canceller)
            remaining = max(0.0, timeout_seconds - (time.monotonic() - started))
            done, _ = await asyncio.wait(watch, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            if waiter in done and waiter.exception() is None:
                answer = waiter.result()
                if answer is None:
                    self._kill(sandbox)
                    return WarmReply(None, None, duration_ms=(time.monotonic() - started) * 1000)
                self._calls += 1
                sandbox.rss_bytes = int(answer.get("rss_bytes") or 0)
                return WarmReply(
                    answer.get("reply"),
                    answer.get("status"),
                    logs=str(answer.get("logs") or ""),
                    truncated=bool(answer.get("truncated")),
                    duration_ms=(time.monotonic() - started) * 1000,
                )
            self._kill(sandbox)
            if waiter in done:  # the sandbox broke (pipe closed)
                return WarmReply(None, None, duration_ms=(time.monotonic() - started) * 1000)
            is_cancel = canceller is not None and canceller in done
            return WarmReply(
                None,
                None,
                timed_out=not is_cancel,
                cancelled=is_cancel,
                duration_ms=(time.monotonic() - started) * 1000,
            )
        except BaseException:
            self._kill(sandbox)
            raise
        finally:
            for task in (waiter, *((canceller,) if canceller is not None else ())):
                if not task.done():
                    task.cancel()
            self._release(sandbox)

    @staticmethod
    async def _exchange(proc: asyncio.subprocess.Process) -> dict[str, Any] | None:
        """Wait until the request written to the fork server has left, then read its answer."""
        assert proc.stdin is not None
        try:
            await proc.stdin.drain()
        except (ConnectionError, BrokenPipeError):
            return None
        return await WarmPool._read_frame(proc)

    @staticmethod
    async def _read_frame(proc: asyncio.subprocess.Process) -> dict[str, Any] | None:
        """One length-prefixed JSON object from the fork server; None when it closed or sent
        something else."""
        assert proc.stdout is not None
        try:
            header = await proc.stdout.readexactly(4)
            data = await proc.stdout.readexactly(struct.unpack(">I", header)[0])
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        try:
            answer = json.loads(data)
        except ValueError:
            return None
        return answer if isinstance(answer, dict) else None


def _tree_memory(roots: list[int]) -> tuple[int, int, int]:
    """`(processes, RSS bytes, PSS bytes)` of the processes `roots` and all their descendants, read
    from `/proc` (0s when it cannot be read)."""
    if not roots:
        return 0, 0, 0
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0, 0, 0
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(name))
    seen: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(children.get(pid, ()))
    count = rss = pss = 0
    for pid in seen:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
                rollup = f.read()
        except OSError:
            continue
        count += 1
        for line in rollup.splitlines():
            if line.startswith(b"Rss:"):
                rss += int(line.split()[1]) * 1024
            elif line.startswith(b"Pss:"):
                pss += int(line.split()[1]) * 1024
    return count, rss, pss


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WarmPool] = weakref.WeakKeyDictionary()


def warm_pool_for_loop(policy: SandboxPolicy) -> WarmPool:
    """The pool of the running event loop, created with the policy's bounds on first use."""
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = WarmPool(
            per_key=policy.warm_per_app, total=policy.warm_total, idle_seconds=policy.warm_idle_seconds
        )
        _pools[loop] = pool
    return pool


def existing_pool() -> WarmPool | None:
    """The running event loop's pool, if one was created."""
    try:
        return _pools.get(asyncio.get_running_loop())
    except RuntimeError:
        return None
