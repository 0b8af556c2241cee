"""Flags and help as a newcomer meets them: boolean flags, defaults, version, `ara app.py`, bad input."""

from __future__ import annotations

import json
import re
import textwrap
from importlib.metadata import version

import pytest
from ara_cli.__main__ import main
from ara_cli._app import build_app, normalize_args, run_app
from ara_cli._registry import COMMANDS

SUBCOMMANDS = [
    ["auth", "login"],
    ["auth", "whoami"],
    ["auth", "logout"],
    ["auth", "rotate"],
    ["auth", "accept-invite"],
    ["runtime", "capabilities"],
    ["runtime", "tools", "list"],
    ["runtime", "tools", "execute"],
    ["runtime", "control", "call"],
    ["session", "start"],
]


@pytest.mark.parametrize("words", [[c.name] for c in COMMANDS] + SUBCOMMANDS, ids=" ".join)
def test_help_stands_alone_with_flags_as_flags(words, capsys):
    assert main([*words, "--help"]) == 0
    text = capsys.readouterr().out
    assert "Usage:" in text
    assert '[default: ""]' not in text
    assert "[default: False]" not in text and "[default: True]" not in text
    assert "--no-no-" not in text
    assert not re.search(r"--(warm|activate|ensure-runtime-key|no-browser|wait|force) (STR|BOOL)", text)
    for outside in ("spec §", "§", "../shared", "seed 00", "C12", "C16", "C18", "C19", "C22"):
        assert outside not in text, outside


def test_login_shows_no_browser_once(capsys):
    assert main(["auth", "login", "--help"]) == 0
    text = capsys.readouterr().out
    assert text.count("--no-browser") == 1


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag, capsys):
    assert main([flag]) == 0
    assert capsys.readouterr().out == version("ara-cli") + "\n"
    assert run_app([flag]) == 0  # the full parser knows both flags too
    assert capsys.readouterr().out.strip() == version("ara-cli")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["app.py"], ["deploy", "app.py"]),
        (["app.py", "--warm", "true"], ["deploy", "app.py", "--warm"]),
        (["deploy", "app.py", "--warm", "false"], ["deploy", "app.py"]),
        (["deploy", "app.py", "--activate", "false"], ["deploy", "app.py", "--no-activate"]),
        (["deploy", "app.py", "--activate=true"], ["deploy", "app.py", "--activate"]),
        (
            ["setup-auth", "a.py", "--ensure-runtime-key", "false"],
            ["setup-auth", "a.py", "--no-ensure-runtime-key"],
        ),
        (["run", "app.py", "--message", "true"], ["run", "app.py", "--message", "true"]),
        (["deploy", "app.py", "--warm"], ["deploy", "app.py", "--warm"]),
    ],
)
def test_original_spellings_are_normalized(argv, expected):
    assert normalize_args(argv) == expected


@pytest.mark.parametrize(
    ("argv", "kwargs"),
    [
        (["app.py"], {}),
        (["app.py", "--warm", "true", "--activate", "false"], {"warm": True, "activate": False}),
        (["deploy", "app.py", "--no-activate", "--warm"], {"warm": True, "activate": False}),
    ],
)
def test_deploy_booleans_parse(argv, kwargs):
    command, bound, _ = build_app().parse_args(normalize_args(argv))
    assert command.__name__ == "deploy"
    assert bound.kwargs == kwargs


def test_malformed_input_is_an_error_before_any_request(capsys, tmp_path):
    assert main(["run", str(tmp_path / "app.py"), "--input", "a3"]) == 1
    err = capsys.readouterr().err
    assert err == "error: --input expects key=value, got 'a3' (e.g. --input a=3)\n"


LOCAL_APP = textwrap.dedent(
    """
    from __future__ import annotations

    from ara_sdk import App

    app = App("local-types")


    @app.local_entrypoint()
    def main(count: int, ratio: float = 1.0, verbose: bool = False, tags: list | None = None) -> dict:
        return {"twice": count * 2, "ratio": ratio, "verbose": verbose, "tags": tags}
    """
)


@pytest.fixture
def local_app(tmp_path, monkeypatch):
    path = tmp_path / "app.py"
    path.write_text(LOCAL_APP)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARA_OUTPUT", "json")
    return path


def test_local_converts_inputs_to_the_signature_types(local_app, capsys):
    argv = ["local", str(local_app), "--input", "count=2", "--input", "verbose=yes", "--input", 'tags=["a"]']
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"ok": True, "result": {"twice": 4, "ratio": 1.0, "verbose": True, "tags": ["a"]}}


def test_local_reports_a_missing_argument_without_a_traceback(local_app, capsys):
    assert main(["local", str(local_app), "--input", "ratio=2"]) == 1
    err = capsys.readouterr().err
    assert err == "error: the local entrypoint needs count (integer); pass --input count=...\n"


def test_local_reports_a_value_of_the_wrong_type(local_app, capsys):
    assert main(["local", str(local_app), "--input", "count=two"]) == 1
    err = capsys.readouterr().err
    assert "--input" in err and "$.count" in err and "integer" in err and "Traceback" not in err
