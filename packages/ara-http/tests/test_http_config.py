"""Configuration: .env rules, credentials file, dev server discovery, token precedence, JWT refresh."""

import json
import os
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from ara_http import (
    MISSING_CREDENTIALS,
    CredentialsError,
    DevServerInfo,
    MissingCredentialsError,
    clear_dev_server,
    credentials_path,
    load_dotenv,
    read_credentials,
    refresh_supabase_record,
    resolve_base_url,
    resolve_control_token,
    write_credentials,
    write_dev_server,
)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("ARA_API_KEY", "ARA_ACCESS_TOKEN", "ARA_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_dotenv_sets_only_unset_or_empty(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("# c\nA=1\nB = 'two'\nC=\"3\"\nSET=new\nEMPTY=filled\nnoeq\n")
    monkeypatch.setenv("SET", "old")
    monkeypatch.setenv("EMPTY", "")
    for k in ("A", "B", "C"):
        monkeypatch.delenv(k, raising=False)
    applied = load_dotenv(tmp_path)
    assert applied == {"A": "1", "B": "two", "C": "3", "EMPTY": "filled"}
    assert os.environ["SET"] == "old"


def test_credentials_file_permissions(home):
    path = write_credentials({"auth_type": "cli_api_key", "api_key": "k", "api_base_url": "https://x"})
    assert path == credentials_path() == home / ".ara" / "credentials.json"
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    record = read_credentials()
    assert record["api_key"] == "k" and "updated_at" in record
    assert path.read_text().endswith("}\n")
    path.write_text("[1, 2]")
    assert read_credentials() == {}


def test_precedence(monkeypatch):
    with pytest.raises(MissingCredentialsError) as info:
        resolve_control_token()
    assert isinstance(info.value, RuntimeError) and info.value.base_url == "https://api.ara.so"
    assert info.value.args[0] == (
        f"{MISSING_CREDENTIALS} No credentials for https://api.ara.so; to work locally, start a server "
        "with `ara dev` (commands then find it and its key on their own)."
    )
    write_credentials(
        {"auth_type": "cli_api_key", "api_key": "stored", "api_base_url": "https://stored.test"}
    )
    assert resolve_base_url() == "https://stored.test"
    assert resolve_control_token() == "stored"
    write_dev_server(DevServerInfo("http://127.0.0.1:8780", "devkey", os.getpid(), "/tmp"))
    assert resolve_base_url() == "http://127.0.0.1:8780"
    assert resolve_control_token() == "devkey"
    monkeypatch.setenv("ARA_API_BASE_URL", "https://elsewhere.test/")
    assert resolve_base_url() == "https://elsewhere.test"
    assert resolve_control_token() == "stored"  # the dev key only goes to the dev server
    monkeypatch.setenv("ARA_ACCESS_TOKEN", "legacy")
    assert resolve_control_token() == "legacy"
    monkeypatch.setenv("ARA_API_KEY", "env")
    assert resolve_control_token() == "env"
    clear_dev_server()


def test_dead_dev_server_is_ignored():
    write_dev_server(DevServerInfo("http://127.0.0.1:1", "k", 2**22 + 12345, ""))
    assert resolve_base_url() == "https://api.ara.so"


def test_jwt_refresh_within_30_seconds():
    soon = (datetime.now(UTC) + timedelta(seconds=10)).isoformat()
    write_credentials(
        {
            "auth_type": "supabase_jwt",
            "api_base_url": "https://x",
            "supabase_url": "https://sb.test",
            "supabase_anon_key": "anon",
            "access_token": "old",
            "refresh_token": "r1",
            "expires_at": soon,
        }
    )
    requests = []

    def handler(request):
        requests.append(request)
        return httpx.Response(200, json={"access_token": "new", "refresh_token": "r2", "expires_in": 3600})

    token = resolve_control_token(
        refresh=lambda rec: refresh_supabase_record(rec, transport=httpx.MockTransport(handler))
    )
    assert token == "new"
    assert (
        requests[0].url.path == "/auth/v1/token" and requests[0].url.params["grant_type"] == "refresh_token"
    )
    assert requests[0].headers["apikey"] == "anon" and json.loads(requests[0].content) == {
        "refresh_token": "r1"
    }
    stored = read_credentials()
    assert stored["refresh_token"] == "r2" and datetime.fromisoformat(stored["expires_at"]) > datetime.now(
        UTC
    )
    assert resolve_control_token(refresh=lambda rec: pytest.fail("no refresh needed")) == "new"


def test_jwt_without_refresh_metadata():
    write_credentials({"auth_type": "supabase_jwt", "access_token": "old"})
    with pytest.raises(CredentialsError, match="missing refresh metadata"):
        resolve_control_token()


def test_control_plane_auth_refreshes_a_stored_jwt_mid_session():
    from ara_http import ControlPlaneAuth, HttpClient

    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    write_credentials(
        {
            "auth_type": "supabase_jwt",
            "api_base_url": "https://api.test",
            "supabase_url": "https://sb.test",
            "supabase_anon_key": "anon",
            "access_token": "stale",
            "refresh_token": "r1",
            "expires_at": later,
        }
    )
    refreshed = []

    def refresh(record):
        refreshed.append(record["refresh_token"])
        return {
            **record,
            "access_token": "fresh",
            "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        }

    def api(request):
        ok = request.headers["authorization"] == "Bearer fresh"
        return httpx.Response(200 if ok else 401, json={"ok": ok})

    client = HttpClient(
        "https://api.test",
        auth=ControlPlaneAuth("https://api.test", refresh=refresh),
        transport=httpx.MockTransport(api),
    )
    assert client.request("GET", "/apps") == {"ok": True}  # 401 with the stale token, refreshed, retried
    assert refreshed == ["r1"]
    assert read_credentials()["access_token"] == "fresh"
    assert client.request("GET", "/apps") == {"ok": True} and refreshed == ["r1"]
