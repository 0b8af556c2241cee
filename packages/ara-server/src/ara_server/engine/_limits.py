"""Resource limits of one sandboxed process tree, and the policy every sandbox of a server shares."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

__all__ = ["SandboxLimits", "SandboxPolicy"]

_MiB = 1024 * 1024


class SandboxLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Limits applied to every process that runs app or user code.

    CPU, memory, open files and processes are kernel resource limits (`setrlimit`) set on the
    sandboxed command and inherited by everything it starts; output and wall clock are enforced by
    the server while it reads the process's pipes.

    Attributes:
        cpu_seconds: CPU time per process, in seconds (`RLIMIT_CPU`); the kernel kills a process
            that uses more. Default 120.
        memory_bytes: Address space per process, in bytes (`RLIMIT_AS`); allocations past it fail
            (`MemoryError` in Python). Default 2 GiB. Runtimes that reserve large virtual ranges up
            front (some JITs) may need more.
        open_files: Open file descriptors per process (`RLIMIT_NOFILE`). Default 1024.
        processes: Processes and threads of the sandbox's user (`RLIMIT_NPROC`; each sandbox has
            its own user, so one app cannot exhaust another's share). Default 256.
        output_bytes: Bytes of stdout and of stderr kept per call; the rest is read and dropped,
            and the result is marked truncated. Default 1 MiB.
        file_bytes: Largest file the process may write, in bytes (`RLIMIT_FSIZE`). Default 1 GiB.
        tmp_bytes: Size of the private `/tmp` (a memory-backed tmpfs), in bytes. Default 256 MiB.
        timeout_seconds: Wall-clock limit of one call, in seconds, when the caller gives none;
            at the limit the whole process tree is killed. Default 30.
    """

    cpu_seconds: int = 120
    memory_bytes: int = 2048 * _MiB
    open_files: int = 1024
    processes: int = 256
    output_bytes: int = 1 * _MiB
    file_bytes: int = 1024 * _MiB
    tmp_bytes: int = 256 * _MiB
    timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        for name in ("cpu_seconds", "memory_bytes", "open_files", "processes", "output_bytes", "file_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"sandbox limit {name} must be at least 1")
        if self.tmp_bytes < 1:
            raise ValueError("sandbox limit tmp_bytes must be at least 1")
        if not self.timeout_seconds > 0:
            raise ValueError("sandbox limit timeout_seconds must be greater than 0")


class SandboxPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How a server's sandboxes are built (one per server; see `configure_sandbox`).

    Attributes:
        hidden_paths: Directories the sandboxed code must not see (the server's data directory:
            database, secrets key, other apps' directories); each is covered by an empty tmpfs.
            The caller's own workspace inside one of them stays reachable. Default none.
        limits: Default limits (`SandboxLimits()`).
        network: Outbound network allowed (default True); False gives the process a network
            namespace with only loopback.
        state_dir: Directory where running sandboxes are recorded so `reap_orphans` can end those a
            crashed server left behind; None (default) records nothing.
        mechanism: `"auto"` (default) uses bubblewrap when it works on this machine, `"none"`
            forces the unisolated fallback (the protections it lacks are reported by
            `isolation_status`), `"bubblewrap"` requires it (calls fail when it does not work).
        uid_base: When the server runs as root, sandboxed code runs as an unprivileged uid in
            `[uid_base, uid_base + uid_count)`, derived from the workspace path (so every
            workspace has its own uid). Default 1_900_000_000.
        uid_count: Size of that range. Default 100_000_000.
        warm_per_app: Warm sandboxes kept per app environment for tool calls and prompt functions
            (each serves one call at a time; see `WarmPool`); 0 (default) starts a fresh sandbox
            per call. Used only with bubblewrap.
        warm_total: Most warm sandboxes of the server. Default 16.
        warm_idle_seconds: A warm sandbox unused this long is closed, in seconds. Default 60.
        install_limits: Limits of the sandboxes that install `python_packages` and fetch artifacts
            (`uv`, `git`, tarball downloads): generous, since builds are big. Default 600 CPU
            seconds per process, 8 GiB of address space, 4096 open files, 1024 processes, 8 GiB
            per file, 600 s wall clock.
    """

    hidden_paths: tuple[Path, ...] = ()
    limits: SandboxLimits = SandboxLimits()
    network: bool = True
    state_dir: Path | None = None
    mechanism: Literal["auto", "bubblewrap", "none"] = "auto"
    uid_base: int = 1_900_000_000
    uid_count: int = 100_000_000
    warm_per_app: int = 0
    warm_total: int = 16
    warm_idle_seconds: float = 60.0
    install_limits: SandboxLimits = SandboxLimits(
        cpu_seconds=600,
        memory_bytes=8192 * _MiB,
        open_files=4096,
        processes=1024,
        output_bytes=256 * 1024,
        file_bytes=8192 * _MiB,
        timeout_seconds=600.0,
    )

    def __post_init__(self) -> None:
        if self.uid_base < 1000 or self.uid_count < 1 or self.uid_base + self.uid_count > 2**32 - 2:
            raise ValueError("sandbox uid range must lie between 1000 and 2**32 - 2")
        if self.warm_per_app < 0 or self.warm_total < 1 or not self.warm_idle_seconds > 0:
            raise ValueError("warm sandbox bounds must be positive (warm_per_app may be 0: off)")
