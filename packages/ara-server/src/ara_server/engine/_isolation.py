"""Which isolation this machine gives sandboxed code, and the command line that applies it.

The mechanism is bubblewrap (`bwrap`): a fresh mount, PID, IPC and UTS namespace (and a network
namespace when the network is off) around every sandboxed command. When the server runs as root,
bubblewrap sets up the namespaces with root's privileges and the command itself runs as an
unprivileged uid with no capabilities (`setpriv`); otherwise bubblewrap uses an unprivileged user
namespace and the command keeps the server's own uid. Resource limits are set with `prlimit`.
Where bubblewrap is missing or fails its probe, commands run unisolated and `isolation_status`
names every protection that is off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ._limits import SandboxLimits, SandboxPolicy

__all__ = [
    "PROTECTIONS",
    "IsolationStatus",
    "IsolationUnavailable",
    "Mechanism",
    "build_argv",
    "detect",
    "is_detected",
    "reset_detection",
    "sandbox_uid",
]

#: Every protection a sandbox can give, by name, with what it means.
PROTECTIONS: dict[str, str] = {
    "clean_environment": "the process sees only the variables its caller passes, never the server's",
    "hidden_data_dir": "the server's data directory (database, secrets key, other apps) is not visible",
    "read_only_filesystem": "everything outside the workspace and a private /tmp is read-only",
    "private_tmp": "/tmp is a private, size-limited tmpfs",
    "process_namespace": "own PID namespace and /proc: the server's and other runs' processes are invisible",
    "unprivileged_user": "the code does not run as root on the host",
    "tree_kill": (
        "a timeout or cancellation ends the whole process tree, setsid and double-forked children too"
    ),
    "crash_cleanup": "if the server dies, its sandboxes die with it",
    "network_off": "the network=False setting cuts the process off from the network",
    "limit_cpu": "CPU seconds limit",
    "limit_memory": "memory (address space) limit",
    "limit_open_files": "open files limit",
    "limit_processes": "processes limit, per sandbox",
    "limit_output": "captured output limit",
    "limit_wall_clock": "wall-clock timeout",
    "sandboxed_installs": (
        "python_packages installs and artifact fetches run in a sandbox too (network on, only their build "
        "directory and the install cache writable)"
    ),
}


class IsolationUnavailable(Exception):
    """Raised by `require_isolation` when some protection is off on this machine.

    Attributes:
        missing: Names of the protections that are off (keys of `PROTECTIONS`).
    """

    def __init__(self, missing: Sequence[str], reason: str) -> None:
        self.missing = tuple(missing)
        self.reason = reason
        super().__init__(f"sandbox isolation is incomplete ({reason}); off: {', '.join(self.missing)}")


@dataclass(frozen=True, slots=True)
class Mechanism:
    """What was detected once per process.

    Attributes:
        bwrap: Path of a working `bwrap`, or None.
        setpriv: Path of `setpriv` (used to drop root), or None.
        prlimit: Path of `prlimit`, or None.
        as_root: The server runs as root.
        reason: Why bubblewrap is not used (empty when it is).
    """

    bwrap: str | None
    setpriv: str | None
    prlimit: str | None
    as_root: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class IsolationStatus:
    """The protections sandboxed code gets on this machine (for the start-up log and `/readyz`).

    Attributes:
        mechanism: `"bubblewrap"` or `"none"`.
        isolated: Every protection is on.
        protections: Name -> on, for every key of `PROTECTIONS`.
        reason: Why the mechanism is missing (empty when isolated).
    """

    mechanism: str
    isolated: bool
    protections: dict[str, bool] = field(default_factory=lambda: dict[str, bool]())
    reason: str = ""

    @property
    def off(self) -> list[str]:
        """Names of the protections that are off, in `PROTECTIONS` order."""
        return [name for name in PROTECTIONS if not self.protections.get(name, False)]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form: `{"mechanism", "isolated", "off": [...], "reason", "protections": {...}}`."""
        return {
            "mechanism": self.mechanism,
            "isolated": self.isolated,
            "off": self.off,
            "reason": self.reason,
            "protections": dict(self.protections),
        }


_detected: dict[str, Mechanism] = {}
#: Program lookup (replaceable in tests to simulate a machine without bubblewrap).
which = shutil.which


def is_detected(mechanism: str = "auto") -> bool:
    """Whether `detect(mechanism)` is cached (so calling it does not block)."""
    return mechanism in _detected


def reset_detection() -> None:
    """Forget the cached detection (tests; after installing bubblewrap)."""
    _detected.clear()


def _probe(bwrap: str, setpriv: str | None, as_root: bool) -> str:
    """Run a trivial command the way real sandboxes run; return "" on success or the reason."""
    argv = [bwrap, "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    if not as_root:
        argv.append("--unshare-user")
    argv += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--"]
    if as_root and setpriv:
        argv += [setpriv, "--reuid=1999999999", "--regid=1999999999", "--clear-groups", "--"]
    argv.append("true")
    try:
        done = subprocess.run(argv, capture_output=True, timeout=20, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bubblewrap could not start: {exc}"
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip()[-300:]
        return f"bubblewrap failed its probe (exit {done.returncode}): {err}"
    return ""


def detect(mechanism: str = "auto") -> Mechanism:
    """Find out once (cached per `mechanism`) whether bubblewrap works here.

    Args:
        mechanism: `"auto"`, `"bubblewrap"` or `"none"` (`SandboxPolicy.mechanism`).

    Returns:
        The detected tools; `bwrap` is None when sandboxes run unisolated.
    """
    cached = _detected.get(mechanism)
    if cached is not None:
        return cached
    as_root = os.geteuid() == 0
    setpriv = which("setpriv")
    prlimit = which("prlimit")
    bwrap: str | None = None
    reason = ""
    if mechanism == "none":
        reason = "isolation turned off by the server's settings"
    else:
        found = which("bwrap")
        if found is None:
            reason = "bubblewrap (bwrap) is not installed"
        else:
            reason = _probe(found, setpriv, as_root)
            if not reason:
                bwrap = found
    result = Mechanism(bwrap=bwrap, setpriv=setpriv, prlimit=prlimit, as_root=as_root, reason=reason)
    _detected[mechanism] = result
    return result


def status_of(mech: Mechanism) -> IsolationStatus:
    """The protections a detected mechanism gives."""
    isolated_fs = mech.bwrap is not None
    drops_root = not mech.as_root or (isolated_fs and mech.setpriv is not None)
    protections = {
        "clean_environment": True,
        "hidden_data_dir": isolated_fs,
        "read_only_filesystem": isolated_fs,
        "private_tmp": isolated_fs,
        "process_namespace": isolated_fs,
        "unprivileged_user": drops_root,
        "tree_kill": isolated_fs,
        "crash_cleanup": isolated_fs,
        "network_off": isolated_fs,
        "limit_cpu": mech.prlimit is not None,
        "limit_memory": mech.prlimit is not None,
        "limit_open_files": mech.prlimit is not None,
        # RLIMIT_NPROC counts every process of a uid: per sandbox only with its own uid or user namespace.
        "limit_processes": mech.prlimit is not None and isolated_fs and drops_root,
        "limit_output": True,
        "limit_wall_clock": True,
        "sandboxed_installs": isolated_fs,
    }
    isolated = all(protections.values())
    reason = mech.reason
    if not reason and not isolated:
        missing = [k for k, v in protections.items() if not v]
        reason = "missing tools: " + ", ".join(
            name
            for name, ok in (("setpriv", drops_root), ("prlimit", mech.prlimit is not None))
            if not ok and any(m.startswith("limit") or m == "unprivileged_user" for m in missing)
        )
    return IsolationStatus(
        mechanism="bubblewrap" if isolated_fs else "none",
        isolated=isolated,
        protections=protections,
        reason="" if isolated else reason,
    )


def sandbox_uid(policy: SandboxPolicy, workdir: Path) -> int:
    """The unprivileged uid (and gid) a workspace's code runs as when the server is root."""
    return policy.uid_base + zlib.crc32(str(workdir).encode()) % policy.uid_count


def _is_within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _abs(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.abspath(path))


def interpreter_paths(python: str | None) -> list[Path]:
    """Directories an interpreter needs readable: its prefixes, its environment, and (for the
    server's own interpreter) every directory on `sys.path` (editable installs included)."""
    paths: list[Path] = []
    if python is None:
        for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
            paths.append(_abs(p))
        for entry in sys.path:
            if entry and os.path.isdir(entry):
                paths.append(_abs(entry))
        paths.append(_abs(Path(sys.executable).parent.parent))
        paths.append(Path(os.path.realpath(sys.executable)).parent.parent)
    else:
        paths.append(_abs(Path(python).parent.parent))
        paths.append(Path(os.path.realpath(python)).parent.parent)
        cfg = _abs(Path(python).parent.parent / "pyvenv.cfg")
        try:
            for line in cfg.read_text(encoding="utf-8").splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "home" and value.strip():
                    home = Path(value.strip())
                    paths.append(_abs(home.parent))
                    paths.append(Path(os.path.realpath(home)).parent)
        except OSError:
            pass
    unique: list[Path] = []
    for p in paths:
        if p not in unique and p != Path("/"):
            unique.append(p)
    return unique


def build_argv(
    mech: Mechanism,
    argv: Sequence[str],
    *,
    workdir: Path,
    limits: SandboxLimits,
    policy: SandboxPolicy,
    network: bool,
    hidden_paths: Iterable[Path],
    ro_paths: Iterable[Path],
    uid: int | None,
    interpreter: str | None = None,
    rw_paths: Iterable[Path] = (),
) -> list[str]:
    """The full command line: bubblewrap (if available), `prlimit`, `setpriv` (when root), `argv`.

    `rw_paths` are more directories bound writable at their own path besides `workdir` (package
    installs: the install cache); like the workspace, none may contain a hidden path.

    Raises:
        ValueError: The workspace (or an `rw_paths` entry) contains a hidden path or is the root
            directory.
    """
    limit_argv: list[str] = []
    if mech.prlimit:
        limit_argv = [
            mech.prlimit,
            f"--cpu={limits.cpu_seconds}",
            f"--as={limits.memory_bytes}",
            f"--nofile={limits.open_files}",
            f"--fsize={limits.file_bytes}",
            "--core=0",
        ]
        if mech.bwrap is not None and (uid is not None or not mech.as_root):
            limit_argv.append(f"--nproc={limits.processes}")
        limit_argv.append("--")
    if mech.bwrap is None:
        return [*limit_argv, *argv]

    workdir = _abs(workdir)
    hidden = [_abs(p) for p in hidden_paths]
    for h in hidden:
        if _is_within(h, workdir):
            raise ValueError(f"the sandbox workspace {workdir} must not contain the hidden path {h}")
    if workdir == Path("/"):
        raise ValueError("the sandbox workspace must not be /")
    writable = [_abs(p) for p in rw_paths]
    for w in writable:
        if w == Path("/") or any(_is_within(h, w) for h in hidden):
            raise ValueError(f"the writable sandbox path {w} must not be / or contain a hidden path")

    out = [mech.bwrap, "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    out.append("--unshare-cgroup-try")
    if not mech.as_root:
        out.append("--unshare-user")
    if not network:
        out.append("--unshare-net")
    out += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]

    # Mounts on top of the read-only root, in order: (path, is_tmpfs).
    mounts: list[tuple[Path, bool]] = []

    def covering(target: Path) -> tuple[Path, bool] | None:
        """The deepest mount strictly above `target`."""
        above = [m for m in mounts if m[0] in target.parents]
        return max(above, key=lambda m: len(m[0].parts)) if above else None

    made_dirs: set[Path] = set()

    def make_parents(target: Path) -> None:
        """Create the target's parents (mode 0755) inside the tmpfs that covers it, if any."""
        nonlocal out
        cover = covering(target)
        if cover is None or not cover[1]:
            return
        for p in reversed([p for p in target.parents if cover[0] in p.parents]):
            if p not in made_dirs:
                out += ["--perms", "0755", "--dir", str(p)]
                made_dirs.add(p)

    def tmpfs(path: Path, perms: str, size: int | None = None) -> None:
        nonlocal out
        if any(_is_within(path, m[0]) for m in mounts if m[1]):
            return  # already inside an empty tmpfs: nothing to hide
        out += ["--perms", perms]
        if size is not None:
            out += ["--size", str(size)]
        out += ["--tmpfs", str(path)]
        mounts.append((path, True))

    # Empty tmpfs mounts: private /tmp and /dev/shm, the homes of the server's user (credentials),
    # then the hidden data directories. What the code needs is bound again on top of them.
    tmpfs(Path("/tmp"), "1777", limits.tmp_bytes)
    tmpfs(Path("/dev/shm"), "1777", limits.tmp_bytes)
    if not network:
        # Unix sockets on the filesystem (a local database's, the D-Bus system bus) would still be
        # reachable without a network namespace's help: hide where they live.
        for run_dir in (Path("/run"), Path("/var/run")):
            if run_dir.is_dir() and not run_dir.is_symlink():
                tmpfs(run_dir, "0755")
    homes = {_abs(Path.home())}
    if mech.as_root:
        homes.add(Path("/root"))
    for home in sorted(homes):
        if home != Path("/") and home.is_dir() and not _is_within(home, workdir):
            tmpfs(home, "0555")
    for h in hidden:
        if h.exists():
            tmpfs(h, "0555")
    wanted = [*interpreter_paths(None), *(interpreter_paths(interpreter) if interpreter else [])]
    if uid is not None:
        # The code runs as another uid: a directory it cannot traverse (mode without o+x) on the way
        # to its workspace or interpreter is replaced by an empty tmpfs, and what is needed is bound
        # again on top.
        for target in [workdir, *writable, *wanted, *(_abs(q) for q in ro_paths)]:
            for anc in reversed(target.parents):
                if anc == Path("/"):
                    continue
                if any(_is_within(anc, m[0]) for m in mounts if m[1]):
                    break
                try:
                    traversable = os.stat(anc).st_mode & 0o001
                except OSError:
                    break
                if not traversable:
                    tmpfs(anc, "0755")
                    break

    candidates: list[Path] = []
    for p in [*wanted, *(_abs(q) for q in ro_paths)]:
        if p in candidates or not p.is_dir() and not p.is_file():
            continue
        # Never expose a directory that contains a hidden path (it would show the hidden path again).
        if any(_is_within(h, p) for h in hidden):
            continue
        # Never bind a tmpfs root (or a parent of one) again: that would undo the tmpfs.
        if any(_is_within(m[0], p) for m in mounts):
            continue
        # Only what a tmpfs covers needs binding again; the rest of / is visible read-only already.
        if not any(_is_within(p, m[0]) for m in mounts):
            continue
        candidates.append(p)
    for p in sorted(candidates, key=lambda q: len(q.parts)):
        if any(_is_within(p, m[0]) for m in mounts if not m[1]):
            continue  # inside a directory bound already
        make_parents(p)
        out += ["--ro-bind", str(p), str(p)]
        mounts.append((p, False))

    for w in writable:
        make_parents(w)
        out += ["--bind", str(w), str(w)]
    make_parents(workdir)
    out += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir), "--"]
    if mech.as_root and mech.setpriv and uid is not None:
        privs = [
            mech.setpriv,
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--no-new-privs",
            "--bounding-set=-all",
            "--inh-caps=-all",
            "--",
        ]
        return [*out, *limit_argv, *privs, *argv]
    return [*out, *limit_argv, *argv]
