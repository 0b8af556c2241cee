"""The `ara` process: one-shot commands run without the cyclic collector and freeze the heap at exit,
and still write their output, run exit handlers and return their exit code."""

import subprocess
import sys
from pathlib import Path

import pytest
from ara_cli._registry import COMMANDS, is_one_shot


@pytest.mark.parametrize(
    "args",
    [
        ["run", "app.py", "--agent", "a"],
        ["deploy", "app.py"],
        ["up", "app.py"],
        ["app.py", "--warm", "true"],
        ["run-status", "app.py", "--run-id", "r", "--wait"],
        ["keys", "list", "app.py"],
        ["init", "my-app"],
    ],
)
def test_one_shot_commands(args: list[str]) -> None:
    assert is_one_shot(args)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["dev"],
        ["server"],
        ["demo"],
        ["logs", "app.py"],
        ["local", "app.py"],
        ["auth", "login"],
        ["bogus"],
    ],
)
def test_serving_streaming_and_user_code_commands_keep_the_collector(args: list[str]) -> None:
    assert not is_one_shot(args)


def test_every_one_shot_command_is_an_app_or_project_command() -> None:
    assert {c.group for c in COMMANDS if c.one_shot} <= {"app", "project"}


_PROBE = """
import atexit, gc, sys
from ara_cli.__main__ import main
atexit.register(
    lambda: sys.stderr.write(f"atexit gc_enabled={gc.isenabled()} frozen={gc.get_freeze_count() > 0}\\n")
)
sys.argv = ["ara", *sys.argv[1:]]
code = main()
sys.stdout.write("tail of stdout, unflushed")
sys.exit(code)
"""


def _ara(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _PROBE, *args], cwd=tmp_path, capture_output=True, text=True, check=False
    )


def test_a_one_shot_process_runs_without_the_collector_and_exits_normally(tmp_path: Path) -> None:
    proc = _ara(tmp_path, "init", "my-app", "--directory", str(tmp_path / "my-app"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "my-app" / "app.py").is_file()
    assert proc.stdout.endswith("tail of stdout, unflushed")
    assert "atexit gc_enabled=False frozen=True" in proc.stderr


def test_a_failing_one_shot_process_keeps_its_exit_code_and_message(tmp_path: Path) -> None:
    proc = _ara(tmp_path, "run", str(tmp_path / "missing.py"), "--agent", "a")
    assert proc.returncode == 1
    assert "error:" in proc.stderr and "missing.py" in proc.stderr
    assert "atexit gc_enabled=False frozen=True" in proc.stderr


def test_other_commands_keep_the_collector(tmp_path: Path) -> None:
    proc = _ara(tmp_path, "local", str(tmp_path / "missing.py"))
    assert proc.returncode == 1
    assert "atexit gc_enabled=True frozen=True" in proc.stderr


def test_main_called_in_process_changes_nothing(tmp_path: Path) -> None:
    code = (
        "import gc\n"
        "from ara_cli.__main__ import main\n"
        "main(['init', 'x-app', '--directory', 'x-app'])\n"
        "print(gc.isenabled(), gc.get_freeze_count())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert proc.stdout.split()[-2:] == ["True", "0"]
