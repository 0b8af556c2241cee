"""Artifacts: code an app pulls in from elsewhere (``git_artifact``, ``tarball_artifact``).

An artifact is fetched once into ``<workdir>/.ara/artifacts/<hash>`` (the hash covers its
declaration) and reused; ``subdir`` (git) or ``strip_prefix`` (tarball) select the directory that
is used. Fetching happens at deploy (a failure fails the deploy, naming the artifact) and again
before a run on a node that has not fetched it yet.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = ["ArtifactError", "artifact_dir", "ensure_artifact"]

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


def _fetch_git(spec: dict[str, Any], dest: Path) -> None:
    url = str(spec.get("repo_url") or "").strip()
    ref = str(spec.get("ref") or "main").strip() or "main"
    if not url:
        raise ArtifactError("git artifact has no repo_url")
    git = shutil.which("git")
    if git is None:
        raise ArtifactError("git is not installed on the server")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        done = subprocess.run(
            [git, "clone", "--quiet", "--depth", "1", "--branch", ref, "--", url, str(dest)],
            capture_output=True,
            text=True,
            timeout=FETCH_TIMEOUT_SECONDS,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ArtifactError(f"git clone of {url} timed out") from None
    if done.returncode != 0:
        raise ArtifactError(f"git clone of {url} (ref {ref}) failed: {done.stderr.strip()[-300:]}")
    shutil.rmtree(dest / ".git", ignore_errors=True)


def _fetch_tarball(spec: dict[str, Any], dest: Path) -> None:
    url = str(spec.get("url") or "").strip()
    if not url:
        raise ArtifactError("tarball artifact has no url")
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "artifact.tar"
        try:
            with (
                urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as resp,
                archive.open("wb") as out,
            ):  # noqa: S310 - the app's own declaration
                total = 0
                while chunk := resp.read(1 << 16):
                    total += len(chunk)
                    if total > MAX_TARBALL_BYTES:
                        raise ArtifactError(f"tarball {url} is larger than {MAX_TARBALL_BYTES} bytes")
                    out.write(chunk)
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"download of {url} failed: {exc}") from None
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(dest, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise ArtifactError(f"{url} is not a readable tar archive: {exc}") from None


def _ensure(spec: dict[str, Any], workdir: Path) -> Path:
    kind = str(spec.get("type") or "")
    root = artifact_dir(spec, workdir)
    if not root.is_dir():
        root.parent.mkdir(parents=True, exist_ok=True)
        build = root.parent / f".build-{uuid.uuid4().hex[:8]}"
        try:
            if kind == "git":
                _fetch_git(spec, build)
            elif kind == "tarball":
                build.mkdir()
                _fetch_tarball(spec, build)
            else:
                raise ArtifactError(f"unknown artifact type {kind!r} (expected 'git' or 'tarball')")
            try:
                os.replace(build, root)
            except OSError:
                if not root.is_dir():
                    raise
        finally:
            shutil.rmtree(build, ignore_errors=True)
    selected = str(spec.get("subdir") or "") if kind == "git" else str(spec.get("strip_prefix") or "")
    path = _inside(root, selected, "subdir" if kind == "git" else "strip_prefix")
    if not path.is_dir():
        raise ArtifactError(f"{selected!r} is not a directory of the artifact")
    return path


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
