"""A newcomer's path, with real processes: the README's own-app example as written, several `ara dev`
servers at once, `ara auth rotate` against `ara dev`, and `ara local` from the command line."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import REPO, base_env

pytestmark = pytest.mark.e2e

ARA = [sys.executable, "-m", "ara_cli"]


def _ara(
    args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ARA, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


class DevServer:
    """`ara dev --port 0` as a real subprocess, with its registry record."""

    def __init__(self, home: Path, cwd: Path, env: dict[str, str], data_dir: Path) -> None:
        self.record = home / ".ara" / "dev-servers"
        self.proc = subprocess.Popen(
            [*ARA, "dev", "--port", "0", "--data-dir", str(data_dir)],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.record = self.record / f"{self.proc.pid}.json"
        self.info = self._wait()

    def _wait(self, timeout: float = 60.0) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"ara dev exited early: {self.proc.communicate()}")
            try:
                return json.loads(self.record.read_text())
            except (OSError, ValueError):
                time.sleep(0.05)
        raise AssertionError("ara dev did not come up")

    def stop(self) -> tuple[str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=30)
        return out, err

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.communicate(timeout=30)


@pytest.fixture
def devs(tmp_path: Path) -> Iterator[list[DevServer]]:
    started: list[DevServer] = []
    yield started
    for dev in started:
        if dev.proc.poll() is None:
            dev.stop()


def _current_dev(env: dict[str, str], cwd: Path) -> dict[str, object]:
    """The record `ara_http.read_dev_server()` picks in this HOME (`{}` when none)."""
    code = (
        "import json, msgspec\n"
        "from ara_http import read_dev_server\n"
        "info = read_dev_server()\n"
        "print(json.dumps(msgspec.to_builtins(info) if info else {}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout)


def _readme_blocks() -> tuple[str, list[str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Your own app") :]
    section = section[: section.index("\n## ", 5)]
    app_py = re.search(r"```python\n(.*?)```", section, re.S)
    commands = re.search(r"```bash\n(.*?)```", section, re.S)
    assert app_py and commands, "the README's own-app section lost its code blocks"
    lines = [line.split("#", 1)[0].strip() for line in commands.group(1).splitlines()]
    return app_py.group(1), [line for line in lines if line]


def test_readme_own_app_example_runs_as_written_outside_the_repository(tmp_path, home, devs):
    app_py, commands = _readme_blocks()
    assert commands[0] == "ara dev"
    anywhere = tmp_path / "somewhere"
    (anywhere / "hello-ara").mkdir(parents=True)
    (anywhere / "hello-ara" / "app.py").write_text(app_py)
    env = base_env(home)
    cwd = anywhere
    last: subprocess.CompletedProcess[str] | None = None
    for line in commands:
        words = shlex.split(line)
        if words == ["ara", "dev"]:  # shell 1; a free port instead of 8780, which may be taken here
            devs.append(DevServer(home, anywhere, env, home / ".ara" / "dev"))
            continue
        if words[0] == "cd":
            cwd = cwd / words[1]
            continue
        assert words[0] == "ara", line
        last = _ara(words[1:], cwd=cwd, env=env)
        assert last.returncode == 0, f"{line}\n{last.stdout}\n{last.stderr}"
    assert last is not None
    response = json.loads(last.stdout)
    assert response["status"] == "completed"
    assert response["result"]["tool_calls"] == [
        {"name": "add", "arguments": {"a": 2, "b": 3}, "result": {"sum": 5}, "error": None}
    ]
    readable = _ara(shlex.split(commands[-1])[1:], cwd=cwd, env={**env, "ARA_OUTPUT": "text"})
    assert readable.returncode == 0, readable.stderr
    assert "add(a=2, b=3)" in readable.stdout
    assert '-> {"sum": 5}' in readable.stdout


def test_two_dev_servers_keep_one_record_each(tmp_path, home, workdir, devs):
    env = base_env(home)
    first = DevServer(home, workdir, env, tmp_path / "data-1")
    devs.append(first)
    second = DevServer(home, workdir, env, tmp_path / "data-2")
    devs.append(second)
    records = sorted(p.name for p in (home / ".ara" / "dev-servers").iterdir())
    assert records == sorted([f"{first.proc.pid}.json", f"{second.proc.pid}.json"])
    assert _current_dev(env, workdir)["api_base_url"] == second.info["api_base_url"]  # the newest wins

    second.stop()  # a clean exit removes only its own record
    assert not second.record.exists()
    assert first.record.exists()
    assert _current_dev(env, workdir)["api_base_url"] == first.info["api_base_url"]
    deploy = _ara(["deploy", str(REPO / "tests" / "apps" / "calc_app.py")], cwd=workdir, env=env)
    assert deploy.returncode == 0, deploy.stderr

    third = DevServer(home, workdir, env, tmp_path / "data-3")
    devs.append(third)
    assert _current_dev(env, workdir)["api_base_url"] == third.info["api_base_url"]
    third.kill9()  # no clean exit: the record stays until someone reads the registry
    assert third.record.exists()
    assert _current_dev(env, workdir)["api_base_url"] == first.info["api_base_url"]
    assert not third.record.exists()  # pruned

    first.stop()
    assert list((home / ".ara" / "dev-servers").iterdir()) == []
    assert _current_dev(env, workdir) == {}


def test_rotate_against_ara_dev_prints_the_new_key_once_and_keeps_you_in(tmp_path, home, workdir, devs):
    env = base_env(home)
    data_dir = tmp_path / "data"
    dev = DevServer(home, workdir, env, data_dir)
    devs.append(dev)
    old_key = str(dev.info["api_key"])
    rotate = _ara(["auth", "rotate"], cwd=workdir, env=env)
    assert rotate.returncode == 0, rotate.stderr
    out = json.loads(rotate.stdout)
    new_key = out["api_key"]
    assert new_key.startswith("ara_") and new_key != old_key
    assert rotate.stdout.count(new_key) == 1
    assert out["credentials_updated"] is True
    assert json.loads(dev.record.read_text())["api_key"] == new_key
    assert json.loads((data_dir / "dev-credentials.json").read_text())["api_key"] == new_key
    assert not (home / ".ara" / "credentials.json").exists()

    # The next command uses the new key; the old one is refused.
    whoami = _ara(["auth", "whoami"], cwd=workdir, env=env)
    assert whoami.returncode == 0, whoami.stderr
    refused = _ara(["auth", "whoami"], cwd=workdir, env={**env, "ARA_API_KEY": old_key})
    assert refused.returncode == 1

    # A restart of `ara dev` on the same data dir keeps the new key.
    dev.stop()
    again = DevServer(home, workdir, env, data_dir)
    devs.append(again)
    assert again.info["api_key"] == new_key
    deploy = _ara([str(REPO / "tests" / "apps" / "calc_app.py")], cwd=workdir, env=env)  # `ara app.py`
    assert deploy.returncode == 0, deploy.stderr
    assert json.loads(deploy.stdout)["slug"] == "calc-e2e"


def test_rotate_with_a_key_from_the_environment_says_to_export_the_new_one(tmp_path, home, workdir, devs):
    env = base_env(home)
    env["ARA_API_KEY"] = "ara_sk_env_owner_key_0123456789abcdef"
    dev = DevServer(home, workdir, env, tmp_path / "data")
    devs.append(dev)
    rotate = _ara(["auth", "rotate"], cwd=workdir, env=env)
    assert rotate.returncode == 0, rotate.stderr
    out = json.loads(rotate.stdout)
    assert "ARA_API_KEY" in out["warning"]
    assert out["credentials_updated"] is True  # the dev server's record, for shells without ARA_API_KEY
    assert json.loads(dev.record.read_text())["api_key"] == out["api_key"]
    assert rotate.stdout.count(out["api_key"]) == 1
    whoami = _ara(["auth", "whoami"], cwd=workdir, env={**env, "ARA_API_KEY": out["api_key"]})
    assert whoami.returncode == 0, whoami.stderr


def test_ara_local_converts_inputs_and_reports_mistakes(tmp_path, home):
    app_dir = tmp_path / "local-app"
    app_dir.mkdir()
    (app_dir / "app.py").write_text(
        "from ara_sdk import App\n\n"
        'app = App("counting")\n\n\n'
        "@app.local_entrypoint()\n"
        "def main(count: int, label: str = 'n') -> dict:\n"
        "    return {'label': label, 'doubled': count * 2}\n"
    )
    env = base_env(home)
    ok = _ara(["local", "app.py", "--input", "count=2"], cwd=app_dir, env=env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"ok": True, "result": {"label": "n", "doubled": 4}}
    missing = _ara(["local", "app.py"], cwd=app_dir, env=env)
    assert missing.returncode == 1
    assert missing.stderr == "error: the local entrypoint needs count (integer); pass --input count=...\n"
    malformed = _ara(["local", "app.py", "--input", "count2"], cwd=app_dir, env=env)
    assert malformed.returncode == 1
    assert malformed.stderr == "error: --input expects key=value, got 'count2' (e.g. --input a=3)\n"


def test_ara_dev_logs_one_json_line_per_request(tmp_path, home, workdir, devs):
    import urllib.error
    import urllib.request

    env = base_env(home)
    dev = DevServer(home, workdir, env, tmp_path / "data")
    devs.append(dev)
    base = str(dev.info["api_base_url"])
    for _ in range(3):
        with urllib.request.urlopen(f"{base}/healthz?probe=1", timeout=30) as response:
            assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{base}/no-such-route", timeout=30)
    assert missing.value.code == 404
    missing.value.close()
    _, err = dev.stop()
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [
        ("GET", "/healthz", 200),
        ("GET", "/healthz", 200),
        ("GET", "/healthz", 200),
        ("GET", "/no-such-route", 404),
    ]
    assert all(r["level"] == "info" and "timestamp" in r and r["duration_ms"] >= 0 for r in requests)


def test_ara_demo_json_is_pure_json_on_stdout(home, workdir):
    demo = _ara(["demo", "--json"], cwd=workdir, env=base_env(home), timeout=240)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert json.loads(demo.stdout)["status"] == "completed"  # server logs stay on stderr
