"""Per-app Python environments: the packages an app declares (`runtime(python_packages=[...])`),
installed with uv into a virtual environment shared by every app that declares the same list.

An environment lives in `<envs_dir>/<hash>`, where the hash covers the sorted, de-duplicated
package list and the server's Python version, so identical apps share one and a changed list gets
a new one. It is created with `--system-site-packages` over the server's interpreter (sandboxed
code still sees what the server has) and published by renaming a finished build into place, so a
half-installed environment is never used; a lock file serialises builds of one hash across
processes.

Every `uv` command runs in the build sandbox (`run_build`): an sdist's build step runs code of the
package's author, so it sees neither the data directory (the database, `secrets.key`, other apps'
environments) nor the server's home or environment; it can write only its own build directory and
the install cache `<envs_dir>/.uv-cache`, and it has the network.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import shutil
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ._builds import BuildResult, give_back, install_env, isolated_builds, run_build

__all__ = ["AppEnvironment", "PackageInstallError", "ensure_environment", "environment_key"]


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
            packages that conflict, or the environment itself could not be made).
        index: Its position in the declared list (``None`` with `package` ``""``).
        detail: The installer's last output lines.
    """

    def __init__(self, package: str, index: int | None, detail: str, *, what: str = "") -> None:
        self.package, self.index, self.detail = package, index, detail
        if not what:
            what = (
                f"python package {package!r} could not be installed"
                if package
                else "python packages conflict"
            )
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


def _is_program(path: Path) -> bool:
    """A real executable (not a shell shim that needs the server's home, as pyenv's are)."""
    try:
        with path.open("rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def _uv() -> str:
    """The `uv` binary (resolved, so it can be bound into the build sandbox): the one installed
    beside the server's interpreter first, then `PATH`, then `~/.local/bin`."""
    found = shutil.which("uv")
    candidates = [Path(sys.executable).parent / "uv", *([Path(found)] if found else [])]
    candidates.append(Path.home() / ".local" / "bin" / "uv")
    for candidate in candidates:
        real = Path(os.path.realpath(candidate))
        if real.is_file() and _is_program(real):
            return str(real)
    if found:
        return found
    raise PackageInstallError(
        "", None, "uv is not installed on the server (it installs python_packages)", what="no installer"
    )


def _local_dirs(env: dict[str, str]) -> list[Path]:
    """Local directories an operator named in the install environment (`UV_FIND_LINKS`), made
    readable inside the build sandbox."""
    out: list[Path] = []
    for entry in env.get("UV_FIND_LINKS", "").replace(",", " ").split():
        path = Path(entry.removeprefix("file://"))
        if path.is_absolute() and path.is_dir():
            out.append(path)
    return out


class _Builder:
    """Runs the `uv` commands of one environment build in the build sandbox.

    Sandboxed, uv's cache is `<envs_dir>/.uv-cache` (owned by the builds' uid); unisolated (no
    bubblewrap), uv keeps its default cache as before, so a cache the sandbox owns never gets files
    of the server's user.
    """

    def __init__(self, uv: str, envs_dir: Path, scratch: Path) -> None:
        self.uv, self.scratch = uv, scratch
        self.cache = envs_dir / ".uv-cache" if isolated_builds() else None
        self.ro = [Path(uv), *_local_dirs(install_env())]

    def run(self, *args: str) -> BuildResult:
        env = {
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_PROGRESS": "1",
            # The cache and the build are separate mounts (no hardlinks across them); copies also
            # keep a published environment from sharing files with the cache later builds write.
            "UV_LINK_MODE": "copy",
            # Trust the system's certificate store (as pip does), so a package index behind a
            # private CA works without extra settings; an operator's ARA_INSTALL_ENV_UV_NATIVE_TLS wins.
            "UV_NATIVE_TLS": install_env().get("UV_NATIVE_TLS", "1"),
        }
        if self.cache is not None:
            env["UV_CACHE_DIR"] = str(self.cache)
        return run_build([self.uv, *args], scratch=self.scratch, env=env, cache=self.cache, ro_paths=self.ro)


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
            scratch = envs_dir / f".build-{key}-{uuid.uuid4().hex[:8]}"
            builder = _Builder(_uv(), envs_dir, scratch)
            # The environment is built at `<scratch>/env`, bound at the same path inside the build
            # sandbox, then published by renaming it into place.
            build = scratch / "env"
            try:
                venv = ["venv", "--quiet", "--relocatable", "--system-site-packages"]
                made = builder.run(*venv, "--python", sys.executable, str(build))
                if made.returncode != 0:
                    raise PackageInstallError(
                        "",
                        None,
                        _tail(made.stderr or made.stdout),
                        what="the environment could not be created",
                    )
                build_python = str(build / "bin" / "python")
                done = builder.run("pip", "install", "--quiet", "--python", build_python, *packages)
                if done.returncode != 0:
                    raise _blame(builder, build_python, declared, _tail(done.stderr or done.stdout))
                os.replace(build, target)
                give_back(target)
            finally:
                if scratch.exists():
                    shutil.rmtree(scratch, ignore_errors=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    os.chmod(target, 0o755)
    return AppEnvironment(key, target, str(python), packages)


def _blame(builder: _Builder, python: str, declared: Sequence[str], detail: str) -> PackageInstallError:
    """The first declared package that cannot be installed on its own (a dry run each)."""
    for index, package in enumerate(declared):
        probe = builder.run("pip", "install", "--quiet", "--dry-run", "--python", python, package)
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
