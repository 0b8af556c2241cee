import json

import pytest
from ara_cli._inputs import build_payload, parse_input_json, parse_pairs
from ara_cli.errors import CliError
from inline_snapshot import snapshot


def test_pairs_split_at_the_first_equals_and_later_duplicates_win():
    pairs = parse_pairs([" b =x=y", "a=1", "a=2", "c= spaced ", "d="])
    assert pairs == {"b": "x=y", "a": "2", "c": " spaced ", "d": ""}


@pytest.mark.parametrize("item", ["a3", "=x", " =x"])
def test_malformed_pairs_are_errors_naming_the_flag(item):
    with pytest.raises(CliError) as info:
        parse_pairs([item], flag="--metadata")
    assert str(info.value).startswith(f"--metadata expects key=value, got {item!r}")


def test_input_json_object_and_file(tmp_path):
    assert parse_input_json('{"x": 1}') == {"x": 1}
    path = tmp_path / "in.json"
    path.write_text(json.dumps({"message": "hi"}))
    assert parse_input_json(f"@{path}") == {"message": "hi"}


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("[1, 2]", "must decode to a JSON object, got list"),
        ("{nope", "must be valid JSON"),
        ("@/does/not/exist.json", "--input-json file not found: /does/not/exist.json"),
    ],
)
def test_input_json_errors_are_clear(raw, fragment):
    with pytest.raises(CliError, match=None) as info:
        parse_input_json(raw)
    assert fragment in str(info.value)


def test_payload_prefers_input_json_and_message_overrides():
    assert build_payload(["a=1"], '{"b": 2}', "") == {"b": 2}
    assert build_payload(["a=1"], "", "hello") == {"a": "1", "message": "hello"}


def test_readable_rendering_and_json_switch(monkeypatch, capsys):
    from ara_cli._output import emit, render_text

    text = render_text(
        {
            "ok": True,
            "slug": "demo",
            "next": {"cmd": "ara run"},
            "keys": [],
            "items": [{"a": 1}, 2],
            "none": None,
        }
    )
    assert (
        text == "ok: yes\nslug: demo\nnext:\n  cmd: ara run\nkeys: (none)\nitems:\n  - a: 1\n  - 2\nnone: -\n"
    )
    monkeypatch.setenv("ARA_OUTPUT", "json")
    emit({"ok": True})
    assert capsys.readouterr().out == '{\n  "ok": true\n}\n'
    monkeypatch.setenv("ARA_OUTPUT", "text")
    emit({"ok": True})
    assert capsys.readouterr().out == "ok: yes\n"


def test_global_json_flag_is_stripped(monkeypatch, capsys):
    from ara_cli.__main__ import main

    monkeypatch.delenv("ARA_OUTPUT", raising=False)
    assert main(["init", "--json", "Bad_Name"]) == 1
    import os

    assert os.environ["ARA_OUTPUT"] == "json"


def test_log_processor_redacts_secrets():
    from ara_cli._logging import redact_secrets

    event = redact_secrets(
        None,
        "info",
        {
            "event": "deploy",
            "api_key": "ara_sk_x",
            "Authorization": "Bearer y",
            "runtime_key": "ara_rk_z",
            "client_secret": "s",
            "slug": "demo",
        },
    )
    assert event == snapshot(
        {
            "event": "deploy",
            "api_key": "***",
            "Authorization": "***",
            "runtime_key": "***",
            "client_secret": "***",
            "slug": "demo",
        }
    )
