"""`guarded`: deliberate errors become one line and exit code 1; bugs keep their traceback."""

import json

import httpx
import pytest
from ara_cli._output import guarded
from ara_cli.errors import CliError
from ara_core import AraError, DeclarationError
from ara_http import HttpClient, MissingCredentialsError, RetryPolicy


def _raises(exc: BaseException):
    @guarded
    def command() -> int:
        raise exc

    return command


@pytest.mark.parametrize(
    "exc",
    [
        CliError("bad flag"),
        DeclarationError("bad declaration"),
        MissingCredentialsError("https://api.test"),
        FileNotFoundError(2, "No such file or directory"),
    ],
)
def test_deliberate_errors_print_one_line_and_exit_1(exc, capsys):
    assert _raises(exc)() == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert isinstance(exc, AraError | OSError)


def test_bugs_are_not_swallowed():
    with pytest.raises(ValueError, match="a bug"):
        _raises(ValueError("a bug"))()
    with pytest.raises(KeyError):
        _raises(KeyError("x"))()


def test_api_errors_show_the_servers_message_without_the_body(capsys, monkeypatch):
    monkeypatch.delenv("ARA_SDK_DEBUG_HTTP_ERRORS", raising=False)
    body = {"error": {"code": "forbidden", "message": "viewers cannot run this app"}, "secret": "s3cr3t"}
    client = HttpClient(
        "https://api.test",
        transport=httpx.MockTransport(lambda r: httpx.Response(403, json=body)),
        retry=RetryPolicy(0),
    )

    @guarded
    def command() -> int:
        client.request("POST", "/v1/apps/a/run", json={})
        return 0

    assert command() == 1
    err = capsys.readouterr().err
    assert err == (
        "error: POST /v1/apps/a/run failed (403). Response body hidden by default; "
        "set ARA_SDK_DEBUG_HTTP_ERRORS=true to include it.\n"
        "  server: viewers cannot run this app\n"
    )
    monkeypatch.setenv("ARA_SDK_DEBUG_HTTP_ERRORS", "1")
    assert command() == 1
    err = capsys.readouterr().err
    assert err == f"error: POST /v1/apps/a/run failed (403): {json.dumps(body, separators=(',', ':'))}\n"
