"""Helpers and fixtures for end-to-end tests: a real ara-server under uvicorn on a free loopback port, and the
`ara` command run as a real subprocess against it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

APPS = Path(__file__).parent / "apps"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _clean_ara_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's ARA_* variables (a real model, a cloud key, ...)."""
    for name in list(os.environ):
        if name.startswith("ARA_") and name not in ("ARA_TEST_POSTGRES_URL",):
            monkeypatch.delenv(name, raising=False)


@dataclass
class Cli:
    """Runs `python -m ara_cli` in a clean environment with its own HOME."""

    home: Path
    cwd: Path
    env: dict[str, str]

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**self.env, **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "ara_cli", *args],
            cwd=self.cwd,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def base_env(home: Path) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONUTF8": "1",
    }
    return env


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[object]:
    from ara_server import ServerThread, Settings

    settings = Settings(
        data_dir=tmp_path / "server-data", port=0, tool_timeout_seconds=3.0, allow_private_callbacks=True
    )
    with ServerThread(settings) as srv:
        yield srv


@pytest.fixture
def cli(server: object, home: Path, workdir: Path) -> Cli:
    env = base_env(home)
    env["ARA_API_BASE_URL"] = server.base_url  # type: ignore[attr-defined]
    env["ARA_API_KEY"] = server.owner_api_key  # type: ignore[attr-defined]
    return Cli(home=home, cwd=workdir, env=env)
