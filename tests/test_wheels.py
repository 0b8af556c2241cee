"""Every wheel installs alone into a clean virtual environment, outside the repository.

The wheels are built from their source distributions (`uv build --all-packages`), then each is
installed with the package registry reachable and `--find-links dist`: the exact pins between our
packages must win over unrelated registry projects of the same names, and each wheel must carry
what it needs (the demo app ships inside ara-cli; ara-server comes only with `ara-cli[server]`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.wheels

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("ara-core", "ara-http", "ara-sdk", "ara-cli", "ara-server")


def _version(package: str) -> str:
    import tomllib

    with (REPO / "packages" / package / "pyproject.toml").open("rb") as fh:
        return str(tomllib.load(fh)["project"]["version"])


@pytest.fixture(scope="module")
def uv() -> str:
    found = shutil.which("uv")
    if found is None:
        pytest.fail("the wheel test needs the `uv` command on PATH")
    return found


@pytest.fixture(scope="module")
def dist(uv: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [uv, "build", "--all-packages", "--out-dir", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory and HOME far from the repository."""
    return tmp_path_factory.mktemp("outside")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARA_", "VIRTUAL_ENV", "UV_PROJECT"))}
    env["HOME"] = str(home)
    env.pop("PYTHONPATH", None)
    return env


def _wheel(dist: Path, package: str) -> Path:
    return next(dist.glob(f"{package.replace('-', '_')}-{_version(package)}-*.whl"))


def _install(uv: str, dist: Path, where: Path, package: str, extra: str = "") -> Path:
    """A fresh virtualenv at `where` with the wheel of `package` (and `extra`) installed from `dist`,
    its dependencies from `dist` or the registry; returns the virtualenv's bin directory."""
    requirement = f"{package}{f'[{extra}]' if extra else ''} @ {_wheel(dist, package).as_uri()}"
    subprocess.run(
        [uv, "venv", "--quiet", "--python", sys.executable, str(where)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    python = where / "bin" / "python"
    proc = subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(python), "--find-links", str(dist), requirement],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(where),
    )
    assert proc.returncode == 0, proc.stderr
    return where / "bin"


def _run(
    bin_dir: Path, cwd: Path, *args: str, timeout: float = 180, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = _env(cwd)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [str(bin_dir / args[0]), *args[1:]], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def _installed(bin_dir: Path, cwd: Path) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json; "
        "print(json.dumps({d.metadata['Name'].lower().replace('_', '-'): d.version"
        " for d in m.distributions()}))"
    )
    proc = _run(bin_dir, cwd, "python", "-c", code)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_every_wheel_carries_the_license_and_exact_pins(dist: Path) -> None:
    license_text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in license_text and "Version 2.0" in license_text
    for package in PACKAGES:
        wheel = _wheel(dist, package)
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
            licenses = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
            assert licenses, f"{wheel.name} has no LICENSE"
            assert zf.read(licenses[0]).decode() == license_text
            metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        assert "License-Expression: Apache-2.0" in metadata
        assert "Project-URL: Source," in metadata
        requires = [
            line.removeprefix("Requires-Dist: ")
            for line in metadata.splitlines()
            if line.startswith("Requires-Dist: ")
        ]
        ours = [r for r in requires if r.split("==")[0].split(";")[0].strip() in PACKAGES]
        for requirement in ours:
            name = requirement.split("==")[0]
            assert requirement.split(";")[0].strip() == f"{name}=={_version(name)}", requirement


def test_ara_core_installs_and_imports_alone(uv: str, dist: Path, outside: Path) -> None:
    bin_dir = _install(uv, dist, outside / "venv-core", "ara-core")
    installed = _installed(bin_dir, outside)
    assert installed["ara-core"] == _version("ara-core")
    assert not {"ara-http", "ara-sdk", "httpx"} & installed.keys()
    proc = _run(bin_dir, outside, "python", "-c", "import ara_core; print(ara_core.slugify('Hello Ara'))")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "hello-ara"


def test_ara_sdk_builds_a_manifest_outside_the_repository(uv: str, dist: Path, outside: Path) -> None:
    bin_dir = _install(uv, dist, outside / "venv-sdk", "ara-sdk")
    installed = _installed(bin_dir, outside)
    assert installed["ara-core"] == _version("ara-core")  # not the unrelated registry project
    assert not {"ara-server", "starlette", "ara-cli"} & installed.keys()
    app_dir = outside / "sdk-app"
    app_dir.mkdir()
    (app_dir / "app.py").write_text(
        "from ara_sdk import App\n\n"
        'app = App("hello-wheels")\n\n\n'
        "@app.tool()\n"
        "def add(a: int, b: int) -> dict:\n"
        '    """Add two integers."""\n'
        '    return {"sum": a + b}\n\n\n'
        "@app.agent(entrypoint=True)\n"
        "def my_agent(input: dict) -> str:\n"
        '    """Adds numbers."""\n'
        '    return "Add a and b with the add tool."\n'
    )
    code = "import json; from ara_sdk import load_app; print(json.dumps(load_app('app.py').manifest))"
    proc = _run(bin_dir, app_dir, "python", "-c", code)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads(proc.stdout)
    assert manifest["slug"] == "hello-wheels"
    assert [t["function"]["name"] for t in manifest["agent"]["tools"]] == ["add"]


def test_pip_resolves_the_pins_to_our_wheels_not_the_registry_projects(dist: Path, outside: Path) -> None:
    """The registry has the original ara-sdk 0.1.0 and unrelated ara-core/ara-cli projects; pip must
    still install ours (a `+oss` local version, which no registry release can have)."""
    venv = outside / "venv-pip"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
    bin_dir = venv / "bin"
    proc = _run(
        bin_dir,
        outside,
        "python",
        "-m",
        "pip",
        "install",
        "--quiet",
        "--find-links",
        str(dist),
        str(_wheel(dist, "ara-sdk")),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    installed = _installed(bin_dir, outside)
    assert installed["ara-sdk"] == installed["ara-core"] == installed["ara-http"] == _version("ara-sdk")
    proc = _run(bin_dir, outside, "python", "-c", "import ara_sdk, ara_core; print(ara_sdk.App.__name__)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "App"


def test_plain_ara_cli_needs_no_server(uv: str, dist: Path, outside: Path) -> None:
    bin_dir = _install(uv, dist, outside / "venv-cli", "ara-cli")
    installed = _installed(bin_dir, outside)
    assert installed["ara-cli"] == _version("ara-cli")
    assert (
        not {"ara-server", "starlette", "uvicorn", "sqlalchemy", "asyncpg", "cryptography"} & installed.keys()
    )
    help_ = _run(bin_dir, outside, "ara", "--help")
    assert help_.returncode == 0, help_.stderr
    assert "Usage: ara <command>" in help_.stdout
    version = _run(bin_dir, outside, "ara", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == _version("ara-cli")
    dev = _run(bin_dir, outside, "ara", "dev", "--port", "0")
    assert dev.returncode == 1
    assert "pip install 'ara-cli[server]'" in dev.stderr
    assert "Traceback" not in dev.stderr


def test_ara_cli_server_extra_runs_the_demo_outside_the_repository(
    uv: str, dist: Path, outside: Path
) -> None:
    bin_dir = _install(uv, dist, outside / "venv-cli-server", "ara-cli", "server")
    installed = _installed(bin_dir, outside)
    assert installed["ara-server"] == _version("ara-server")
    assert "asyncpg" not in installed  # PostgreSQL is the ara-server[postgres] extra
    # Nothing but the virtualenv and the system's basic tools on PATH (no uv, no repository).
    proc = _run(bin_dir, outside, "ara", "demo", timeout=240, path=f"{bin_dir}:/usr/bin:/bin")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "_demo_apps" in proc.stdout  # the copy bundled in the wheel, not the repository's
    assert "find_free_slots" in proc.stdout or "find-free-slots" in proc.stdout
    assert "completed" in proc.stdout
