"""Package installs and artifact fetches run in the build sandbox.

A hostile package (a local sdist whose build backend runs at install time, served from a local
find-links directory, no network needed) tries to read the data dir, `secrets.key`, a canary
file, the server's home and environment (also through `/proc`), and to write outside its build
directory; it records what it saw in its own package data. Deployed through the server, the build
saw none of it and the server's files are intact, and the installed package works. Artifact fetches
(a local git repo, a `file://` tarball) still work sandboxed, and reach nothing app code could not.
Without bubblewrap the install still runs, and the deploy and `/readyz` say it was not sandboxed.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest
from ara_server.engine import (
    ArtifactError,
    _isolation,
    artifact_dir,
    configure_sandbox,
    copy_artifact,
    ensure_artifact,
    environment_key,
    isolation_status,
    sandbox_policy,
)
from ara_server.engine._builds import install_env, run_build

ISOLATED = isolation_status().isolated
needs_isolation = pytest.mark.skipif(not ISOLATED, reason="bubblewrap is not usable on this machine")
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is needed for a git artifact")
needs_uv = pytest.mark.skipif(shutil.which("uv") is None, reason="uv installs python_packages")

SERVER_SECRET = "server-env-secret-7c2e9f"
CANARY = "canary-content-d41f"

#: The probe's build backend (PEP 517, in the sdist itself): it tries what a hostile build step
#: would, then builds a wheel that carries what it saw as `araprobe/seen.json`.
BACKEND = """
import base64, hashlib, json, os, zipfile
from pathlib import Path

TARGETS = json.loads(Path(__file__).with_name("targets.json").read_text())


def _try(fn):
    try:
        return {"ok": True, "value": fn()}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}


def _write(path):
    with open(path, "w") as f:
        f.write("pwned")
    return path


def _proc_hits(secret):
    hits = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            for name in ("environ", "cmdline"):
                try:
                    if secret.encode() in Path("/proc", pid, name).read_bytes():
                        hits.append(pid + "/" + name)
                except OSError:
                    pass
    return hits


def _seen():
    t = TARGETS
    return {
        "uid": os.getuid(),
        "data_dir": _try(lambda: sorted(os.listdir(t["data_dir"]))),
        "envs": _try(lambda: sorted(os.listdir(t["envs"]))),
        "other_env": _try(lambda: Path(t["other_env"]).read_text()),
        "secrets_key": _try(lambda: Path(t["secrets_key"]).read_text()),
        "canary": _try(lambda: Path(t["canary"]).read_text()),
        "server_home": _try(lambda: sorted(os.listdir(t["server_home"]))),
        "env_secret": os.environ.get("ARA_PROBE_SERVER_SECRET"),
        "env_names": sorted(os.environ),
        "proc_hits": _proc_hits(t["secret"]),
        "writes": {p: _try(lambda p=p: _write(p)) for p in t["writes"]},
        "cwd": os.getcwd(),
    }


def _dist_info(files):
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("araprobe-1.0.dist-info/RECORD,,")
    return "\\n".join(record) + "\\n"


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {
        "araprobe/__init__.py": b"def hello():\\n    print('hello from araprobe')\\n",
        "araprobe-1.0.dist-info/entry_points.txt": b"[console_scripts]\\naraprobe-hello = araprobe:hello\\n",
        "araprobe/seen.json": json.dumps(_seen()).encode(),
        "araprobe-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\\nName: araprobe\\nVersion: 1.0\\n",
        "araprobe-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\\nGenerator: probe\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
        ),
    }
    name = "araprobe-1.0-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as whl:
        for path, data in files.items():
            whl.writestr(path, data)
        whl.writestr("araprobe-1.0.dist-info/RECORD", _dist_info(files))
    return name
"""


def _sdist(links: Path, targets: dict[str, Any]) -> None:
    """Write `araprobe-1.0.tar.gz` (pyproject with the in-tree backend, and its targets) to `links`."""
    files = {
        "pyproject.toml": textwrap.dedent(
            """\
            [build-system]
            requires = []
            build-backend = "probe_backend"
            backend-path = ["."]

            [project]
            name = "araprobe"
            version = "1.0"
            """
        ),
        "PKG-INFO": "Metadata-Version: 2.1\nName: araprobe\nVersion: 1.0\n",
        "probe_backend.py": BACKEND,
        "targets.json": json.dumps(targets),
    }
    links.mkdir(parents=True, exist_ok=True)
    with tarfile.open(links / "araprobe-1.0.tar.gz", "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"araprobe-1.0/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


SEEN_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "seen",
        "description": "",
        "parameters": {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]},
    },
    "function_name": "seen",
    "source": (
        "def seen(word: str) -> dict:\n"
        "    import json\n"
        "    from importlib import resources\n"
        "    return json.loads(resources.files('araprobe').joinpath('seen.json').read_text())\n"
    ),
}


def _probe_setup(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The probe sdist in a find-links dir named by ARA_INSTALL_ENV_* (offline), a canary in the
    data dir and a secret in the server's environment."""
    data_dir: Path = settings.data_dir
    canary = data_dir / "canary.txt"
    canary.write_text(CANARY)
    other_env = data_dir / "envs" / "0123456789abcdef01234567"  # another app's environment
    other_env.mkdir(parents=True)
    (other_env / "marker.txt").write_text(CANARY)
    home_file = Path.home() / f".ara-probe-{uuid.uuid4().hex[:8]}"
    targets = {
        "data_dir": str(data_dir),
        "secrets_key": str(data_dir / "secrets.key"),
        "canary": str(canary),
        "envs": str(data_dir / "envs"),
        "other_env": str(other_env / "marker.txt"),
        "server_home": str(Path.home()),
        "secret": SERVER_SECRET,
        "writes": [
            str(data_dir / "pwned"),
            str(data_dir / "envs" / "pwned"),
            str(tmp_path / "pwned"),
            str(home_file),
            "/var/tmp/ara-probe-pwned-" + uuid.uuid4().hex[:8],
        ],
    }
    links = tmp_path / "links"
    _sdist(links, targets)
    monkeypatch.setenv("ARA_INSTALL_ENV_UV_FIND_LINKS", str(links))
    monkeypatch.setenv("ARA_INSTALL_ENV_UV_OFFLINE", "1")
    monkeypatch.setenv("ARA_PROBE_SERVER_SECRET", SERVER_SECRET)
    return targets


def _home_entries_of_tools() -> set[str]:
    """Names in the server's home on the way to its interpreter, its `sys.path` and `uv`."""
    home = Path.home()
    uv = shutil.which("uv")
    paths = [sys.prefix, sys.base_prefix, os.path.realpath(sys.executable), *sys.path, *([uv] if uv else [])]
    out: set[str] = set()
    for p in paths:
        for q in (Path(p), Path(os.path.realpath(p))):
            if p and home in q.parents:
                out.add(q.relative_to(home).parts[0])
    return out


def _manifest(server: Any, slug: str) -> dict[str, Any]:
    m = server.manifest(slug)
    m["runtime_profile"] = {"python_packages": ["araprobe"]}
    m["agent"]["tools"] = [SEEN_TOOL]
    m["workflows"] = [*m["workflows"], {"id": "hello", "mode": "run", "run": {"command": "araprobe-hello"}}]
    return m


def test_install_env_passes_only_certificates_and_the_operators_settings():
    env = install_env(
        {
            "SSL_CERT_FILE": "/etc/ssl/certs/ca.crt",
            "OPENAI_API_KEY": "sk-server",
            "ARA_API_KEY": "ara_sk_x",
            "ARA_INSTALL_ENV_UV_INDEX_URL": "https://index.example/simple",
            "ARA_INSTALL_ENV_": "ignored",
            "HTTPS_PROXY": "http://user:pw@proxy:3128",
        }
    )
    assert env == {"SSL_CERT_FILE": "/etc/ssl/certs/ca.crt", "UV_INDEX_URL": "https://index.example/simple"}


@needs_isolation
@needs_uv
async def test_a_hostile_build_step_sees_nothing_of_the_server(server, settings, tmp_path, monkeypatch):
    targets = _probe_setup(settings, tmp_path, monkeypatch)
    secrets_key = (settings.data_dir / "secrets.key").read_bytes()
    resp = await server.client.post("/apps", json=_manifest(server, "probe"), headers=server.owner())
    assert resp.status_code == 201, resp.text
    assert resp.json()["warnings"] == []
    env_dir = settings.data_dir / "envs" / environment_key(["araprobe"])
    [seen_file] = env_dir.glob("lib/python*/site-packages/araprobe/seen.json")
    seen = json.loads(seen_file.read_text())

    # The build ran, but saw nothing of the server.
    # The data dir shows only the way to the build's own directory and cache (`envs`), empty besides.
    assert seen["data_dir"] == {"ok": True, "value": ["envs"]} or not seen["data_dir"]["ok"], seen["data_dir"]
    assert not seen["secrets_key"]["ok"] and not seen["canary"]["ok"]
    # Of the environments directory: only its own build directory and the install cache.
    assert seen["envs"]["ok"] and not seen["other_env"]["ok"], seen["envs"]
    assert all(n == ".uv-cache" or n.startswith(".build-") for n in seen["envs"]["value"]), seen["envs"]
    # The server's home is empty but for the way to the interpreter and uv (bound read-only).
    home = seen["server_home"]
    assert not home["ok"] or set(home["value"]) <= _home_entries_of_tools(), home
    assert seen["env_secret"] is None and seen["proc_hits"] == []
    uv_own = {"PWD", "UV", "VIRTUAL_ENV", "PYTHONIOENCODING", "PEP517_BUILD_BACKEND"}
    passed = {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "UV_FIND_LINKS",
        "UV_OFFLINE",
    }
    ours = {"UV_CACHE_DIR", "UV_PYTHON_DOWNLOADS", "UV_NO_PROGRESS", "UV_LINK_MODE", "UV_NATIVE_TLS"}
    extra = {n for n in seen["env_names"] if not n.startswith("UV_INTERNAL")} - uv_own - passed - ours
    assert extra == set(), extra
    assert not any(name.startswith("ARA_") for name in seen["env_names"])
    assert all(not w["ok"] for w in seen["writes"].values()), seen["writes"]
    if os.geteuid() == 0:
        assert seen["uid"] != 0
    # The server's files are intact; nothing was written outside the build.
    assert (settings.data_dir / "secrets.key").read_bytes() == secrets_key
    assert (settings.data_dir / "canary.txt").read_text() == CANARY
    for path in targets["writes"]:
        assert not Path(path).exists(), path
    # The published environment belongs to the server's user, and it works.
    assert env_dir.stat().st_uid == os.geteuid() and seen_file.stat().st_uid == os.geteuid()
    app_id = resp.json()["app"]["id"]
    key = await server.runtime_key(app_id)
    out = await server.client.post(
        f"/v1/apps/{app_id}/run",
        json={"agent_id": "shouter", "input": {"word": "x"}},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert out.status_code == 200 and out.json()["status"] == "completed", out.text
    assert out.json()["result"]["tool_calls"][0]["result"]["canary"]["ok"] is False
    # Its console script works after the rename (a relocatable environment).
    hello = await server.client.post(
        f"/v1/apps/{app_id}/run", json={"agent_id": "hello"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert hello.status_code == 200 and hello.json()["result"]["output_text"] == "hello from araprobe\n", (
        hello.text
    )
    # The install cache is the build's own, under the environments directory.
    cache = settings.data_dir / "envs" / ".uv-cache"
    assert cache.is_dir()
    assert not list((settings.data_dir / "envs").glob(".build-*"))


@needs_uv
async def test_without_bubblewrap_the_install_runs_and_the_deploy_says_so(
    server, settings, tmp_path, monkeypatch
):
    _probe_setup(settings, tmp_path, monkeypatch)
    before = sandbox_policy()
    configure_sandbox(msgspec.structs.replace(before, mechanism="none"))
    try:
        ready = await server.client.get("/readyz")
        assert "sandboxed_installs" in ready.json()["isolation"]["off"]
        resp = await server.client.post("/apps", json=_manifest(server, "probe-open"), headers=server.owner())
        assert resp.status_code == 201, resp.text
        warnings = resp.json()["warnings"]
        assert [w["path"] for w in warnings] == ["$.runtime_profile.python_packages"]
        assert "without the sandbox" in warnings[0]["message"]
    finally:
        configure_sandbox(before)
    env_dir = settings.data_dir / "envs" / environment_key(["araprobe"])
    [seen_file] = env_dir.glob("lib/python*/site-packages/araprobe/seen.json")
    seen = json.loads(seen_file.read_text())
    # As before the sandbox: the build ran with the server's user and environment, and uv's own
    # cache (the sandbox's cache under the envs dir never gets files of the server's user).
    assert seen["canary"] == {"ok": True, "value": CANARY}
    assert seen["env_secret"] == SERVER_SECRET
    assert not (settings.data_dir / "envs" / ".uv-cache").exists()
    for path in seen["writes"]:
        Path(path).unlink(missing_ok=True)


def _git_repo(root: Path) -> Path:
    repo = root / "repo"
    (repo / "sub").mkdir(parents=True)
    (repo / "sub" / "hello.txt").write_text("from git\n")
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "add", "."], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-q", "-m", "one"], check=True)
    return repo


@needs_git
async def test_a_git_artifact_over_file_url_is_fetched_sandboxed(server, settings, shared_dir):
    repo = _git_repo(shared_dir)
    workdir = settings.data_dir / "artifact-cache"
    spec = {"type": "git", "repo_url": f"file://{repo}", "ref": "main", "subdir": "sub"}
    path = await ensure_artifact(spec, workdir)
    assert (path / "hello.txt").read_text() == "from git\n"
    assert not (path.parent / ".git").exists()
    assert path.stat().st_uid == os.geteuid()
    assert [p.name for p in path.parent.parent.iterdir() if p.name.startswith(".build-")] == []


@needs_isolation
@needs_git
async def test_a_git_artifact_cannot_clone_from_the_data_dir(server, settings):
    # A repository the server can read, but app code cannot: in the data dir.
    repo = _git_repo(settings.data_dir / "private")
    spec = {"type": "git", "repo_url": str(repo), "ref": "main", "subdir": ""}
    with pytest.raises(ArtifactError, match="failed"):
        await ensure_artifact(spec, settings.data_dir / "artifact-cache")


def _tarball(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.chmod(0o644)
    return path


async def test_a_local_tarball_is_fetched_sandboxed(server, settings, shared_dir):
    archive = _tarball(shared_dir / "pkg.tar.gz", {"pkg-1.0/data.txt": b"from the tarball\n"})
    spec = {"type": "tarball", "url": f"file://{archive}", "strip_prefix": "pkg-1.0"}
    path = await ensure_artifact(spec, settings.data_dir / "artifact-cache")
    assert (path / "data.txt").read_text() == "from the tarball\n"
    assert path.stat().st_uid == os.geteuid()


async def test_a_tarball_leaving_its_directory_is_refused(server, settings, shared_dir):
    archive = _tarball(shared_dir / "evil.tar.gz", {"../escaped.txt": b"x"})
    spec = {"type": "tarball", "url": f"file://{archive}", "strip_prefix": ""}
    with pytest.raises(ArtifactError, match="not a readable tar archive"):
        await ensure_artifact(spec, settings.data_dir / "artifact-cache")
    assert not (settings.data_dir / "escaped.txt").exists()


@needs_isolation
async def test_a_tarball_url_cannot_read_the_servers_files(server, settings):
    # The secrets key as a "tarball": the fetch cannot even open it.
    spec = {"type": "tarball", "url": f"file://{settings.data_dir / 'secrets.key'}", "strip_prefix": ""}
    with pytest.raises(ArtifactError, match="download of .* failed"):
        await ensure_artifact(spec, settings.data_dir / "artifact-cache")


@needs_isolation
def test_a_build_gets_the_install_limits_and_is_killed_whole_at_its_timeout(settings, tmp_path):
    policy = sandbox_policy()
    limits = policy.install_limits
    scratch = tmp_path / "scratch"
    shown = run_build(
        ["/bin/bash", "-c", "ulimit -t; ulimit -f; ulimit -u; pwd; touch made"], scratch=scratch
    )
    assert shown.returncode == 0 and shown.isolated, shown
    cpu, fsize, nproc, cwd = shown.stdout.split()
    assert (int(cpu), int(fsize) * 1024, int(nproc)) == (
        limits.cpu_seconds,
        limits.file_bytes,
        limits.processes,
    )
    assert cwd == str(scratch) and (scratch / "made").is_file()
    # A build that leaves a detached child behind is ended with all of it at its timeout.
    marker = f"sleep 9{uuid.uuid4().int % 10**8:08d}"
    hung = run_build(
        ["/bin/sh", "-c", f"setsid {marker} & exec {marker}"],
        scratch=tmp_path / "hung",
        timeout_seconds=1,
    )
    assert hung.returncode == 124 and "timed out" in hung.stderr
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    assert left.stdout == "", left.stdout


async def test_a_policy_that_requires_bubblewrap_fails_the_install_where_it_is_missing(
    server, settings, monkeypatch
):
    real_which = shutil.which
    monkeypatch.setattr(_isolation, "which", lambda name: None if name == "bwrap" else real_which(name))
    _isolation.reset_detection()
    before = sandbox_policy()
    configure_sandbox(msgspec.structs.replace(before, mechanism="bubblewrap"))
    try:
        resp = await server.client.post(
            "/apps",
            json={**server.manifest("needs-bwrap"), "runtime_profile": {"python_packages": ["araprobe"]}},
            headers=server.owner(),
        )
        assert resp.status_code == 422, resp.text
        error = resp.json()["error"]
        assert error["code"] == "package_install_failed"
        assert "sandbox unavailable" in error["message"] and "not installed" in error["message"]
        assert "$.runtime_profile.python_packages" in error["message"]
        assert not (settings.data_dir / "envs" / environment_key(["araprobe"])).exists()
    finally:
        configure_sandbox(before)
        _isolation.reset_detection()


@pytest.mark.skipif(os.geteuid() != 0, reason="the app's own uid needs a root server")
async def test_a_fetch_into_an_apps_working_directory_is_prepared_outside_it(server, settings, shared_dir):
    archive = _tarball(shared_dir / "pkg.tar.gz", {"pkg-1.0/data.txt": b"placed\n"})
    spec = {"type": "tarball", "url": f"file://{archive}", "strip_prefix": "pkg-1.0"}
    app_uid = 1_999_999_001
    workdir = settings.data_dir / "apps" / "app-x" / "work"
    workdir.mkdir(parents=True)
    os.chown(workdir, app_uid, app_uid)  # as the sandbox leaves it: the app's own
    path = await ensure_artifact(spec, workdir)
    assert (path / "data.txt").read_text() == "placed\n"
    # The fetch was prepared in the server's directory above, never in the app's.
    assert not list(workdir.rglob(".ara-fetch-*")) and not list(workdir.parent.glob(".ara-fetch-*"))
    # The app swaps its `.ara` for a link to a directory of the server's: nothing lands there.
    elsewhere = settings.data_dir / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(workdir / ".ara")
    (workdir / ".ara").symlink_to(elsewhere)
    with pytest.raises(ArtifactError, match="could not be put"):
        await ensure_artifact(spec, workdir)
    assert list(elsewhere.iterdir()) == []
    assert not list(workdir.parent.glob(".ara-fetch-*"))


async def test_a_cached_artifact_is_copied_into_an_apps_working_directory_without_following_links(
    server, settings, shared_dir
):
    archive = _tarball(shared_dir / "pkg.tar.gz", {"pkg-1.0/data.txt": b"cached\n"})
    spec = {"type": "tarball", "url": f"file://{archive}", "strip_prefix": "pkg-1.0"}
    cache = settings.data_dir / "artifact-cache"
    await ensure_artifact(spec, cache)  # what a deploy does on the node
    app_uid = 1_999_999_002
    workdir = settings.data_dir / "apps" / "app-y" / "work"
    workdir.mkdir(parents=True)
    os.chown(workdir, app_uid, app_uid)
    await copy_artifact(spec, cache, workdir)
    assert (artifact_dir(spec, workdir) / "pkg-1.0" / "data.txt").read_text() == "cached\n"
    assert not list(workdir.parent.glob(".ara-fetch-*"))
    # The app plants a link where the copy goes: the copy refuses and writes nothing through it.
    elsewhere = settings.data_dir / "elsewhere-copy"
    elsewhere.mkdir()
    shutil.rmtree(workdir / ".ara")
    (workdir / ".ara").symlink_to(elsewhere)
    with pytest.raises(ArtifactError):
        await copy_artifact(spec, cache, workdir)
    assert list(elsewhere.iterdir()) == []
    assert not list(workdir.parent.glob(".ara-fetch-*"))
