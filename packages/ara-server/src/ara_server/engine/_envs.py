"""Per-app Python environments: the packages an app declares (`runtime(python_packages=[...])`),
installed with uv into a virtual environment shared by every app that declares the same list.

An environment lives in `<envs_dir>/<hash>`, where the hash covers the sorted, de-duplicated
package list and the server's Python version, so identical apps share one and a changed list gets
a new one. It is created with `--system-site-packages` over the server's interpreter (sandboxed
code still sees what the server has) and published by renaming a finished build into place, so a
half-installed environment is never used; a lock file serialises builds of one hash across
processes.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AppEnvironment", "PackageInstallError", "ensure_environment", "environment_key"]

#: Seconds one `uv` invocation may take before the install is abandoned.
INSTALL_TIMEOUT_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class AppEnvironment:
    """A ready Python environment.

    Attributes:
        key: The content hash (directory name under the environments directory).
        path: The environment's directory.
        python: Its interpreter (`<path>/bin/python`), to hand to the sandbox.
        packages: The package specifiers installed in it, sorted.
    """

    key: str
    path: Path
    python: str
    packages: tuple[str, ...]

    @property
    def bin_dir(self) -> Path:
        """The environment's `bin` directory (put first on `PATH` for commands)."""
        return self.path / "bin"


class PackageInstallError(Exception):
    """A declared package could not be installed.

    Attributes:
        package: The package specifier that failed (``""`` when no single one is to blame, e.g. two
            packages that conflict).
        index: Its position in the declared list (``None`` with `package` ``""``).
        detail: The installer's last output lines.
    """

    def __init__(self, package: str, index: int | None, detail: str) -> None:
        self.package, self.index, self.detail = package, index, detail
        what = f"python package {package!r} could not be installed" if package else "python packages conflict"
        super().__init__(f"{what}: {detail}" if detail else what)


def environment_key(packages: Sequence[str]) -> str:
    """The content hash naming the environment of `packages` (order and duplicates ignored).

    Args:
        packages: Package specifiers as declared (e.g. ``["inflection==0.5.1", "pyjokes"]``).

    Returns:
        24 hex characters of SHA-256 over the sorted list and the server's Python version.
    """
    body = json.dumps({"packages": sorted(set(packages)), "python": list(sys.version_info[:3])})
    return hashlib.sha256(body.encode()).hexdigest()[:24]


def _uv() -> str:
    found = shutil.which("uv")
    if found:
        return found
    for candidate in (Path(sys.executable).parent / "uv", Path.home() / ".local" / "bin" / "uv"):
        if candidate.is_file():
            return str(candidate)
    raise PackageInstallError("", None, "uv is not installed on the server (it installs python_packages)")


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")}
    # Trust the system's certificate store (as pip does), so a package index behind a private CA
    # works without extra settings; an operator's own UV_NATIVE_TLS wins.
    env.setdefault("UV_NATIVE_TLS", "1")
    try:
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 124, "", f"timed out after {INSTALL_TIMEOUT_SECONDS:g} s")


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(line for line in text.strip().splitlines()[-lines:])


def _build(envs_dir: Path, key: str, packages: tuple[str, ...], declared: Sequence[str]) -> AppEnvironment:
    target = envs_dir / key
    python = target / "bin" / "python"
    if python.exists():
        return AppEnvironment(key, target, str(python), packages)
    envs_dir.mkdir(parents=True, exist_ok=True)
    with open(envs_dir / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if python.exists():  # another process finished it while we waited
                return AppEnvironment(key, target, str(python), packages)
            uv = _uv()
            build = envs_dir / f".build-{key}-{uuid.uuid4().hex[:8]}"
            try:
                made = _run(
                    [uv, "venv", "--quiet", "--system-site-packages", "--python", sys.executable, str(build)]
                )
                if made.returncode != 0:
                    raise PackageInstallError("", None, _tail(made.stderr or made.stdout))
                build_python = str(build / "bin" / "python")
                done = _run([uv, "pip", "install", "--quiet", "--python", build_python, *packages])
                if done.returncode != 0:
                    raise _blame(uv, build_python, declared, _tail(done.stderr or done.stdout))
                # Console scripts keep the build path in their shebang; the sandbox runs only
                # `python`, which does not care.
                os.replace(build, target)
            finally:
                if build.exists():
                    shutil.rmtree(build, ignore_errors=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    os.chmod(target, 0o755)
    return AppEnvironment(key, target, str(python), packages)


def _blame(uv: str, python: str, declared: Sequence[str], detail: str) -> PackageInstallError:
    """The first declared package that cannot be installed on its own (a dry run each)."""
    for index, package in enumerate(declared):
        probe = _run([uv, "pip", "install", "--quiet", "--dry-run", "--python", python, package])
        if probe.returncode != 0:
            return PackageInstallError(package, index, _tail(probe.stderr or probe.stdout))
    return PackageInstallError("", None, detail)


async def ensure_environment(envs_dir: Path, packages: Sequence[str]) -> AppEnvironment | None:
    """The environment with `packages` installed, built on first use (then reused).

    Args:
        envs_dir: Directory holding the environments (`<data_dir>/envs`).
        packages: Package specifiers in declaration order; empty gives ``None`` (the server's own
            interpreter serves the app).

    Returns:
        The environment, or ``None`` when no package is declared.

    Raises:
        PackageInstallError: A package cannot be installed; `index` is its position in `packages`.
    """
    clean = [p.strip() for p in packages if p.strip()]
    if not clean:
        return None
    key = environment_key(clean)
    return await asyncio.to_thread(_build, envs_dir, key, tuple(sorted(set(clean))), clean)
