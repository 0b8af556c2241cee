"""Sandbox isolation proven from the inside: a tool function and a bash command each try to reach
the server's data directory, environment, processes and the rest of the filesystem, with real
processes under the real mechanism (bubblewrap). Every attempt must fail and the call must still
return a clean result."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest
from ara_server.engine import (
    IsolationUnavailable,
    SandboxPolicy,
    _isolation,
    close_warm_sandboxes,
    isolation_status,
    require_isolation,
    run_command,
    run_function,
)

ISOLATED = isolation_status(SandboxPolicy()).isolated
needs_isolation = pytest.mark.skipif(not ISOLATED, reason="bubblewrap is not usable on this machine")

SERVER_SECRET = "server-only-secret-4b1d"


@dataclass
class FakeServer:
    """A data directory laid out like ara-server's, outside /tmp (which sandboxes replace anyway)."""

    data: Path
    workdir: Path
    policy: SandboxPolicy


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    base = Path("/var/tmp") if os.access("/var/tmp", os.W_OK) else Path.home()
    root = Path(tempfile.mkdtemp(prefix="ara-sandbox-test-", dir=base))
    root.chmod(0o755)  # traversable, so only the hidden-path mechanism keeps the data dir out of reach
    data = root / "data"
    (data / "apps" / "other" / "work").mkdir(parents=True)
    (data / "apps" / "mine" / "work").mkdir(parents=True)
    (data / "ara.db").write_text("DATABASE CONTENT")
    (data / "secrets.key").write_text("SECRET KEY CONTENT")
    (data / "apps" / "other" / "work" / "notes.txt").write_text("OTHER APP CONTENT")
    monkeypatch.setenv("ARA_TEST_SERVER_ONLY", SERVER_SECRET)
    policy = SandboxPolicy(hidden_paths=(data,), state_dir=data / "state")
    try:
        yield FakeServer(data=data, workdir=data / "apps" / "mine" / "work", policy=policy)
    finally:
        shutil.rmtree(root, ignore_errors=True)


PROBE_TOOL = """
def probe(data, server_pid, secret):
    import os
    out = {}
    def attempt(name, fn):
        try:
            value = fn()
            out[name] = "ALLOWED: " + str(value)[:80]
        except Exception as exc:
            out[name] = "refused: " + type(exc).__name__
    for rel in ("ara.db", "secrets.key", "apps/other/work/notes.txt"):
        attempt("read " + rel, lambda rel=rel: open(os.path.join(data, rel)).read())
    def listing(path, expected):
        names = set(os.listdir(path)) - {expected}
        if names:
            return sorted(names)
        raise FileNotFoundError(path)
    attempt("list data dir", lambda: listing(data, "apps"))
    attempt("list other apps", lambda: listing(os.path.join(data, "apps"), "mine"))
    attempt("read server environ", lambda: open(f"/proc/{server_pid}/environ", "rb").read())
    attempt("server env var", lambda: os.environ["ARA_TEST_SERVER_ONLY"])
    def scan_procs():
        seen = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    raw = open(f"/proc/{pid}/environ", "rb").read()
                except OSError:
                    raw = b""
                if secret.encode() in raw:
                    return "secret found in /proc/" + pid
                try:
                    cmd = open(f"/proc/{pid}/cmdline", "rb").read()
                except OSError:
                    continue
                if b"pytest" in cmd:
                    return "server process visible: " + pid
                seen.append(pid)
        raise LookupError(",".join(seen))
    attempt("find server process", scan_procs)
    attempt("read /etc/shadow", lambda: open("/etc/shadow").read())
    attempt("write data dir", lambda: open(os.path.join(data, "planted"), "w").write("x"))
    attempt("write other app", lambda: open(os.path.join(data, "apps/other/work/planted"), "w").write("x"))
    attempt("write /usr", lambda: open("/usr/planted-by-tool", "w").write("x"))
    attempt("write /etc", lambda: open("/etc/planted-by-tool", "w").write("x"))
    attempt("write server code", lambda: open(os.path.__file__ + ".planted", "w").write("x"))
    attempt("be root", lambda: os.getuid() if os.getuid() == 0 else (_ for _ in ()).throw(PermissionError()))
    open("own-file.txt", "w").write("mine")
    open("/tmp/private.txt", "w").write("mine")
    import icalendar  # the server environment's packages stay importable
    out["workspace"] = open("own-file.txt").read()
    out["env"] = sorted(os.environ)
    return out
"""

PROBE_COMMAND = r"""
data="$1"; pid="$2"
try() {
  name="$1"; shift
  if out=$("$@" 2>/dev/null) && [ -n "$out$ALLOW_EMPTY" ]; then
    echo "$name: ALLOWED"
  else
    echo "$name: refused"
  fi
}
try "read ara.db" cat "$data/ara.db"
try "read secrets.key" cat "$data/secrets.key"
try "read other app" cat "$data/apps/other/work/notes.txt"
try "list data dir" bash -c 'ls -A "$1" | grep -vx apps' - "$data"
try "list other apps" bash -c 'ls -A "$1/apps" | grep -vx mine' - "$data"
try "read server environ" cat "/proc/$pid/environ"
try "server env var" printenv ARA_TEST_SERVER_ONLY
try "read /etc/shadow" cat /etc/shadow
printf 'py%s' test > /tmp/pattern  # the pattern must not appear on any command line itself
try "find server process" grep -lF -f /tmp/pattern /proc/[0-9]*/cmdline
ALLOW_EMPTY=1
try "write data dir" touch "$data/planted"
try "write other app" touch "$data/apps/other/work/planted"
try "write /usr" touch /usr/planted-by-command
try "write /etc" touch /etc/planted-by-command
try "be root" test "$(id -u)" = 0
echo mine > own-file.txt && echo "workspace: $(cat own-file.txt)"
"""


def _assert_host_untouched(server: FakeServer) -> None:
    assert (server.data / "ara.db").read_text() == "DATABASE CONTENT"
    assert not (server.data / "planted").exists()
    assert not (server.data / "apps" / "other" / "work" / "planted").exists()
    assert not Path("/usr/planted-by-tool").exists() and not Path("/usr/planted-by-command").exists()
    assert not Path("/etc/planted-by-tool").exists() and not Path("/etc/planted-by-command").exists()
    assert not Path("/tmp/private.txt").exists()


@needs_isolation
async def test_a_tool_cannot_reach_the_server_or_other_apps(server: FakeServer) -> None:
    res = await run_function(
        source=PROBE_TOOL,
        function_name="probe",
        mode="tool",
        payload={"data": str(server.data), "server_pid": os.getpid(), "secret": SERVER_SECRET},
        workdir=server.workdir,
        timeout_seconds=60,
        env={"ARA_APP_ID": "mine", "MY_APP_SECRET": "mine-only"},
        policy=server.policy,
    )
    assert res.ok, res.error
    outcome: dict[str, object] = res.result
    attempts = {k: v for k, v in outcome.items() if k not in ("workspace", "env")}
    assert len(attempts) == 15
    allowed = {k: v for k, v in attempts.items() if not str(v).startswith("refused")}
    assert allowed == {}
    assert outcome["workspace"] == "mine"
    env = set(outcome["env"])  # type: ignore[arg-type]
    assert {"ARA_APP_ID", "MY_APP_SECRET", "HOME", "PATH"} <= env
    assert "ARA_TEST_SERVER_ONLY" not in env
    assert env <= {
        "ARA_APP_ID",
        "MY_APP_SECRET",
        "HOME",
        "PATH",
        "LANG",
        "TMPDIR",
        "TZDIR",
        "PWD",
        "LC_CTYPE",
    } | {
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
    }
    assert (server.workdir / "own-file.txt").read_text() == "mine"
    _assert_host_untouched(server)


@needs_isolation
async def test_a_command_cannot_reach_the_server_or_other_apps(server: FakeServer) -> None:
    res = await run_command(
        f"set -- {server.data} {os.getpid()}\n" + PROBE_COMMAND,
        workdir=server.workdir,
        timeout_seconds=60,
        policy=server.policy,
    )
    assert res.exit_code == 0, res.stderr
    assert res.isolated
    lines = res.stdout.decode().splitlines()
    attempts = [line for line in lines if not line.startswith("workspace:")]
    assert len(attempts) == 14
    assert [line for line in attempts if not line.endswith(": refused")] == []
    assert "workspace: mine" in lines
    _assert_host_untouched(server)


@needs_isolation
async def test_the_server_users_home_is_hidden(server: FakeServer) -> None:
    home_files = [p for p in Path.home().iterdir() if p.is_file()]
    if not home_files:
        pytest.skip("the home directory has no file to look for")
    target = home_files[0]
    res = await run_command(
        f"cat {json.dumps(str(target))} >/dev/null 2>&1 && echo ALLOWED || echo refused",
        workdir=server.workdir,
        policy=server.policy,
    )
    assert res.stdout.decode().strip() == "refused"


@needs_isolation
async def test_each_workspace_runs_as_its_own_unprivileged_user(server: FakeServer) -> None:
    other = server.data / "apps" / "other" / "work"
    mine = await run_command("id -u", workdir=server.workdir, policy=server.policy)
    theirs = await run_command("id -u", workdir=other, policy=server.policy)
    uid_mine, uid_theirs = int(mine.stdout), int(theirs.stdout)
    assert uid_mine != 0 and uid_theirs != 0
    if os.geteuid() == 0:
        assert uid_mine != uid_theirs
        assert server.workdir.stat().st_uid == uid_mine


class _Listener:
    """A TCP server on loopback that answers every connection with one line."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"hello\n")

    def close(self) -> None:
        self.sock.close()


@needs_isolation
async def test_network_is_allowed_by_default_and_off_when_asked(server: FakeServer) -> None:
    listener = _Listener()
    try:
        connect = f"exec 3<>/dev/tcp/127.0.0.1/{listener.port} && head -n1 <&3"
        allowed = await run_command(connect, workdir=server.workdir, policy=server.policy)
        assert allowed.exit_code == 0 and allowed.stdout == b"hello\n"
        cut = await run_command(connect, workdir=server.workdir, policy=server.policy, network=False)
        assert cut.exit_code != 0 and cut.stdout == b""
        # Unix sockets on the filesystem are out of reach too: /run is empty without the network.
        runs = await run_command(
            "ls -A /run | wc -l", workdir=server.workdir, policy=server.policy, network=False
        )
        assert runs.stdout.strip() == b"0"
    finally:
        listener.close()


async def test_the_unisolated_fallback_reports_what_is_off(server: FakeServer) -> None:
    policy = SandboxPolicy(hidden_paths=server.policy.hidden_paths, mechanism="none")
    status = isolation_status(policy)
    assert status.mechanism == "none" and not status.isolated
    assert {"hidden_data_dir", "process_namespace", "tree_kill", "crash_cleanup", "network_off"} <= set(
        status.off
    )
    assert "clean_environment" not in status.off
    assert "turned off" in status.reason
    assert status.to_dict()["off"] == status.off
    with pytest.raises(IsolationUnavailable) as info:
        require_isolation(policy)
    assert "hidden_data_dir" in info.value.missing
    # Code still runs (for the owner), reporting that it was not isolated.
    res = await run_command(
        "echo ran; printenv ARA_TEST_SERVER_ONLY || true", workdir=server.workdir, policy=policy
    )
    assert res.exit_code == 0 and res.stdout == b"ran\n" and not res.isolated


async def test_missing_bubblewrap_is_detected_and_reported(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_which = shutil.which
    monkeypatch.setattr(_isolation, "which", lambda name: None if name == "bwrap" else real_which(name))
    _isolation.reset_detection()
    try:
        status = isolation_status(SandboxPolicy())
        assert status.mechanism == "none" and "not installed" in status.reason
        required = SandboxPolicy(mechanism="bubblewrap")
        res = await run_command("echo never", workdir=server.workdir, policy=required)
        assert res.exit_code is None and res.error is not None and "not installed" in res.error
    finally:
        _isolation.reset_detection()


@needs_isolation
def test_isolation_status_is_complete_with_bubblewrap() -> None:
    status = isolation_status(SandboxPolicy())
    assert status.isolated and status.off == [] and status.mechanism == "bubblewrap"
    require_isolation(SandboxPolicy())


@needs_isolation
async def test_a_workspace_containing_the_data_dir_is_refused(server: FakeServer) -> None:
    with pytest.raises(ValueError, match="must not contain"):
        await run_command("true", workdir=server.data.parent, policy=server.policy)


@needs_isolation
async def test_an_app_environment_inside_the_hidden_data_dir_is_usable(server: FakeServer) -> None:
    env_dir = server.data / "envs" / "app-env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    site = next((env_dir / "lib").glob("python*/site-packages"))
    (site / "only_in_app_env.py").write_text("VALUE = 'from the app environment'\n")
    source = "def use():\n    import sys, only_in_app_env\n    return [only_in_app_env.VALUE, sys.prefix]\n"
    for policy in (server.policy, msgspec.structs.replace(server.policy, warm_per_app=1)):
        res = await run_function(
            source=source,
            function_name="use",
            mode="tool",
            payload={},
            workdir=server.workdir,
            timeout_seconds=60,
            python=str(env_dir / "bin" / "python"),
            policy=policy,
        )
        assert res.ok, res.error
        assert res.result == ["from the app environment", str(env_dir)]
    await close_warm_sandboxes()
    # The environment is readable, never writable, and the rest of the data dir stays hidden.
    probe = await run_function(
        source=(
            "def probe(site, key):\n"
            "    import os\n"
            "    try:\n"
            "        open(os.path.join(site, 'planted.py'), 'w')\n"
            "        wrote = True\n"
            "    except OSError:\n"
            "        wrote = False\n"
            "    return [wrote, os.path.exists(key)]\n"
        ),
        function_name="probe",
        mode="tool",
        payload={"site": str(site), "key": str(server.data / "secrets.key")},
        workdir=server.workdir,
        timeout_seconds=60,
        python=str(env_dir / "bin" / "python"),
        policy=server.policy,
    )
    assert probe.ok and probe.result == [False, False]


@needs_isolation
async def test_handing_the_workspace_over_never_follows_links(server: FakeServer) -> None:
    outside = server.data.parent / "outside"
    outside.mkdir()
    (outside / "root-file").write_text("root's")
    (server.workdir / "link-to-dir").symlink_to(outside)
    (server.workdir / "link-to-file").symlink_to(outside / "root-file")
    (server.workdir / "sub" / "deeper").mkdir(parents=True)
    (server.workdir / "sub" / "deeper" / "server-written.txt").write_text("written by the server")
    res = await run_command(
        "echo changed > sub/deeper/server-written.txt && cat sub/deeper/server-written.txt",
        workdir=server.workdir,
        policy=server.policy,
    )
    assert res.exit_code == 0 and res.stdout == b"changed\n"
    assert outside.stat().st_uid == os.geteuid()
    assert (outside / "root-file").stat().st_uid == os.geteuid()
    if os.geteuid() == 0:
        uid = (server.workdir / "sub" / "deeper" / "server-written.txt").stat().st_uid
        assert uid != 0 and (server.workdir / "link-to-dir").lstat().st_uid == uid
