import subprocess
import sys

from ara_cli.__main__ import main
from ara_cli._registry import COMMANDS, render_help


def test_top_level_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "App commands (require <app_script.py>):" in out
    for command in COMMANDS:
        assert command.name in out


def test_help_does_not_import_cyclopts_httpx_or_the_sdk():
    code = (
        "import sys\n"
        "from ara_cli.__main__ import main\n"
        "main(['--help'])\n"
        "heavy = [m for m in ('cyclopts', 'httpx', 'ara_sdk', 'ara_server', 'msgspec', 'rich')"
        " if m in sys.modules]\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr == "[]"


def test_bare_ara_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "Usage: ara <command>" in capsys.readouterr().err


def test_unknown_command_and_flag_exit_2(capsys):
    assert main(["bogus"]) == 2
    assert "Run 'ara --help' for usage." in capsys.readouterr().err
    assert main(["run", "app.py", "--nope"]) == 2
    assert "Run 'ara run --help' for usage." in capsys.readouterr().err


def test_render_help_aligns_aliases():
    assert "deploy, up" in render_help()


def test_help_keeps_the_original_substrings():
    # spec §5.1 step 1 and C19
    text = render_help()
    assert "auth      login/whoami/logout for CLI auth" in text
    assert "runtime   runtime capabilities, tools, skills, and control APIs" in text
    assert "rotate" in text
