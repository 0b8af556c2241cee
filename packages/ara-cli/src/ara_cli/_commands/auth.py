"""`ara auth login|whoami|logout|rotate`."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import sys
import time
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlparse

from ara_core import AraError
from cyclopts import App

from .._output import emit, guarded
from ..errors import CliError

__all__ = ["OAUTH_PROVIDERS", "auth_app", "pkce_pair"]

auth_app = App(name="auth", help="login/whoami/logout/rotate for CLI auth", help_format="markdown")

#: OAuth providers accepted by `ara auth login --provider`.
OAUTH_PROVIDERS = (
    "google",
    "github",
    "gitlab",
    "azure",
    "bitbucket",
    "discord",
    "facebook",
    "linkedin_oidc",
    "notion",
    "slack",
    "spotify",
    "twitch",
    "twitter",
)
DEFAULT_OAUTH_PORT = 53682


def pkce_pair() -> tuple[str, str]:
    """Return `(verifier, challenge)`: 64 random bytes url-safe base64, and the unpadded url-safe
    base64 of its SHA-256 (method `s256`)."""
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(64)).decode().rstrip("=")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def _client(base_url: str, token: str | None = None) -> Any:
    from ara_http import BearerAuth, HttpClient

    return HttpClient(base_url, auth=BearerAuth(token) if token else None)


def _base_url(flag: str) -> str:
    from ara_http import resolve_base_url

    return flag.strip().rstrip("/") or resolve_base_url()


def _whoami(base_url: str, token: str) -> dict[str, Any]:
    response = _client(base_url, token).request("GET", "/auth/cli/whoami")
    return response if isinstance(response, dict) else {"response": response}


@auth_app.command
@guarded
def login(
    *,
    api_base_url: str = "",
    api_key: str = "",
    provider: str = "google",
    timeout_seconds: int = 180,
    no_browser: bool = False,
    auth_flow: Literal["auto", "localhost", "poll"] = "auto",
    supabase_url: str = "",
    supabase_anon_key: str = "",
) -> int:
    """Log in: store an API key, or sign in with an OAuth provider.

    Credentials go to `~/.ara/credentials.json` (mode 0600).

    Args:
        api_base_url: API base URL (default: `ARA_API_BASE_URL`, the stored one, or api.ara.so).
        api_key: Store this API key instead of signing in through a browser.
        provider: OAuth provider, e.g. `google` or `github`.
        timeout_seconds: How long to wait for the browser sign-in.
        no_browser: Print the sign-in URL without opening a browser.
        auth_flow: `localhost` (callback on 127.0.0.1), `poll` (device polling) or `auto` (both).
        supabase_url: Auth server URL (skips `GET /auth/cli/config` when given with the anon key).
        supabase_anon_key: Auth server public key.
    """
    from ara_http import ApiError, credentials_path, write_credentials

    base = _base_url(api_base_url)
    if api_key.strip():
        key = api_key.strip()
        write_credentials({"auth_type": "cli_api_key", "api_base_url": base, "api_key": key})
        user: Any = None
        try:
            user = _whoami(base, key).get("user")
        except ApiError:
            sys.stderr.write("Warning: could not verify API key against server; stored locally anyway.\n")
        emit(
            {
                "ok": True,
                "status": "logged_in",
                "auth_type": "cli_api_key",
                "api_base_url": base,
                "user": user,
                "credentials_path": str(credentials_path()),
            }
        )
        return 0

    chosen = provider.strip().lower()
    if chosen not in OAUTH_PROVIDERS:  # before any network call
        raise CliError(
            f"ara auth: unsupported OAuth provider {provider!r}; choose one of: {', '.join(OAUTH_PROVIDERS)}"
        )
    try:
        record = _oauth_login(
            base, chosen, timeout_seconds, not no_browser, auth_flow, supabase_url, supabase_anon_key
        )
    except AraError as exc:
        raise CliError(f"ara auth: login failed ({exc})") from None
    write_credentials(record)
    user = record.get("user")
    try:
        user = _whoami(record["api_base_url"], record["access_token"]).get("user") or user
    except ApiError:
        pass
    emit(
        {
            "ok": True,
            "status": "logged_in",
            "api_base_url": record["api_base_url"],
            "expires_at": record["expires_at"],
            "user": user,
            "credentials_path": str(credentials_path()),
        }
    )
    return 0


def _oauth_login(
    base: str, provider: str, timeout: int, open_browser: bool, flow: str, supabase_url: str, anon_key: str
) -> dict[str, Any]:
    api_base = base
    if not (supabase_url.strip() and anon_key.strip()):
        config = _client(base).request("GET", "/auth/cli/config", auth=None)
        config = config if isinstance(config, dict) else {}
        supabase_url = supabase_url.strip() or str(config.get("supabase_url") or "")
        anon_key = anon_key.strip() or str(config.get("supabase_anon_key") or "")
        api_base = str(config.get("api_base_url") or base).rstrip("/")
        if not supabase_url or not anon_key:
            raise CliError("ara auth: could not resolve Supabase auth config.")
    supabase_url = supabase_url.rstrip("/")
    verifier, challenge = pkce_pair()
    if flow == "poll":
        grant = _poll_flow(base, provider, challenge, timeout, open_browser)
    elif flow == "localhost":
        grant = _localhost_flow(supabase_url, provider, challenge, timeout, open_browser)
    else:
        try:
            grant = _localhost_flow(supabase_url, provider, challenge, timeout, open_browser)
        except AraError:
            sys.stderr.write("Warning: localhost callback failed; falling back to polling login flow.\n")
            grant = _poll_flow(base, provider, challenge, timeout, open_browser)
    from ara_http import expires_at_iso, supabase_token_request

    tokens = supabase_token_request(
        supabase_url=supabase_url,
        supabase_anon_key=anon_key,
        grant_type="pkce",
        body={"auth_code": grant["code"], "code_verifier": verifier, "redirect_uri": grant["redirect_uri"]},
    )
    if not isinstance(tokens, dict) or not tokens.get("access_token") or not tokens.get("refresh_token"):
        raise CliError("ara auth: login failed, missing access or refresh token.")
    return {
        "auth_type": "supabase_jwt",
        "api_base_url": api_base,
        "supabase_url": supabase_url,
        "supabase_anon_key": anon_key,
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "expires_at": expires_at_iso(tokens),
        "user": tokens.get("user") or {},
    }


def _oauth_port() -> int:
    raw = os.environ.get("ARA_CLI_OAUTH_PORT", "").strip()
    if not raw:
        return DEFAULT_OAUTH_PORT
    try:
        port = int(raw)
    except ValueError:
        raise CliError(f"Invalid ARA_CLI_OAUTH_PORT value: {raw!r}") from None
    if not 1 <= port <= 65535:
        raise CliError(f"Invalid ARA_CLI_OAUTH_PORT value: {raw!r} (must be 1-65535)")
    return port


def _show_url(url: str, provider: str, open_browser: bool) -> None:
    sys.stderr.write(f"Open this URL to sign in with {provider}:\n{url}\n")
    sys.stderr.flush()
    if open_browser:
        try:
            webbrowser.open(url)
        except webbrowser.Error:
            pass


def _localhost_flow(
    supabase_url: str, provider: str, challenge: str, timeout: int, open_browser: bool
) -> dict[str, str]:
    port = _oauth_port()
    state = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    redirect_uri = f"http://127.0.0.1:{port}/auth/callback"
    result: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            parsed = urlparse(self.path)
            if parsed.path != "/auth/callback":
                self.send_error(404)
                return
            query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
            if query.get("error"):
                result["error"] = query.get("error_description") or query["error"]
            elif query.get("state") != state:
                self.send_error(400, "state mismatch")
                return
            else:
                result["code"] = query.get("code", "")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"ara: sign-in complete. You can close this window.\n")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server API)
            pass

    try:
        httpd = HTTPServer(("127.0.0.1", port), Handler)
    except OSError as exc:
        raise CliError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror})") from None
    httpd.timeout = 0.5
    query = urlencode(
        {
            "provider": provider,
            "redirect_to": redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "s256",
            "state": state,
        }
    )
    _show_url(f"{supabase_url}/auth/v1/authorize?{query}", provider, open_browser)
    deadline = time.monotonic() + max(30, timeout)
    try:
        while not result and time.monotonic() < deadline:
            httpd.handle_request()
    finally:
        httpd.server_close()
    if "error" in result:
        raise CliError(f"OAuth login failed: {result['error']}")
    if not result.get("code"):
        raise CliError("timed out waiting for the browser sign-in; retry, or use `ara auth login --api-key`")
    return {"code": result["code"], "state": state, "redirect_uri": redirect_uri}


def _poll_flow(base: str, provider: str, challenge: str, timeout: int, open_browser: bool) -> dict[str, str]:
    client = _client(base)
    started = client.request(
        "POST",
        "/auth/cli/device/start",
        auth=None,
        json={
            "provider": provider,
            "code_challenge": challenge,
            "code_challenge_method": "s256",
            "timeout_seconds": timeout,
        },
    )
    if not isinstance(started, dict):
        raise CliError("device login start returned no session")
    url = str(started.get("authorize_url") or started.get("verification_uri") or "")
    session_id, poll_token = str(started.get("session_id") or ""), str(started.get("poll_token") or "")
    if not url or not session_id or not poll_token:
        raise CliError("device login start response is missing authorize_url, session_id or poll_token")
    try:
        interval = min(10, max(1, int(started.get("interval_seconds") or 2)))
    except (TypeError, ValueError):
        interval = 2
    _show_url(url, provider, open_browser)
    deadline = time.monotonic() + max(30, timeout)
    warned: set[str] = set()
    while time.monotonic() < deadline:
        status = client.request(
            "GET",
            f"/auth/cli/device/status?{urlencode({'session_id': session_id, 'poll_token': poll_token})}",
            auth=None,
        )
        status = status if isinstance(status, dict) else {}
        state = str(status.get("status") or "").lower()
        if state == "approved":
            if not status.get("auth_code") or not status.get("redirect_uri"):
                raise CliError("device login approved without auth_code or redirect_uri")
            return {
                "code": str(status["auth_code"]),
                "state": str(status.get("state") or ""),
                "redirect_uri": str(status["redirect_uri"]),
            }
        if state in ("error", "failed", "denied"):
            raise CliError(
                f"OAuth login failed: {status.get('error_description') or status.get('error') or state}"
            )
        if state == "expired":
            raise CliError("the sign-in session expired; run `ara auth login` again")
        if state == "consumed":
            raise CliError("the sign-in session was already used; run `ara auth login` again")
        if state not in ("pending", "waiting", "queued") and state not in warned:
            warned.add(state)
            sys.stderr.write(f"Warning: unexpected device login status {state!r}; still waiting.\n")
        time.sleep(interval)
    raise CliError("timed out waiting for the browser sign-in; retry, or use `ara auth login --api-key`")


@auth_app.command(name="accept-invite")
@guarded
def accept_invite(token: str, /, *, api_base_url: str = "") -> int:
    """Accept an app invite: trade its token for your own API key and log in with it.

    The owner's `ara invite` prints an `invite_token`; the invitee runs this once (the token is single
    use). The key is stored in `~/.ara/credentials.json` like `ara auth login --api-key`.

    Args:
        token: The invite token (`ara_inv_...`).
        api_base_url: API base URL (default: resolved as for every command).
    """
    from ara_http import credentials_path, write_credentials

    base = _base_url(api_base_url)
    result = _client(base).request(
        "POST", "/auth/cli/invites/accept", json={"token": token.strip()}, auth=None
    )
    key = str((result or {}).get("api_key") or "")
    if not key:
        raise CliError("the server accepted the invite but returned no API key")
    write_credentials({"auth_type": "cli_api_key", "api_base_url": base, "api_key": key})
    emit(
        {
            "ok": True,
            "status": "logged_in",
            "app_id": result.get("app_id"),
            "role": result.get("role"),
            "email": result.get("email"),
            "api_base_url": base,
            "credentials_path": str(credentials_path()),
        }
    )
    return 0


@auth_app.command
@guarded
def whoami(*, api_base_url: str = "") -> int:
    """Show who the stored or environment credentials belong to.

    Args:
        api_base_url: API base URL (default: resolved as for every command).
    """
    from ara_http import CredentialsError, read_credentials, resolve_control_token

    base = _base_url(api_base_url)
    try:
        token = resolve_control_token()
    except CredentialsError:
        raise CliError("ara auth: not logged in. Run `ara auth login` or set ARA_API_KEY.") from None
    result = _whoami(base, token)
    if os.environ.get("ARA_API_KEY") or os.environ.get("ARA_ACCESS_TOKEN"):
        source = "env"
    else:
        record = read_credentials()
        source = str(record.get("auth_type") or ("cli_api_key" if record.get("api_key") else "cli_jwt"))
    emit({**result, "auth_source": source})
    return 0


@auth_app.command
@guarded
def logout() -> int:
    """Delete the stored CLI credentials (`~/.ara/credentials.json`)."""
    from ara_http import credentials_path

    path = credentials_path()
    path.unlink(missing_ok=True)
    emit({"ok": True, "status": "logged_out"})
    return 0


@auth_app.command
@guarded
def rotate(*, api_base_url: str = "") -> int:
    """Rotate your API key (`POST /apps/api-key/rotate`); the old key stops working at once.

    The new key is printed once, and stored where the old one was: the record of a running
    `ara dev` (and its `dev-credentials.json`, so a restart keeps working), or a stored
    `ara auth login --api-key` login. A key from the environment (`ARA_API_KEY`) cannot be updated
    for you: the output says to export the new one (the `ara dev` record is still updated when the
    server runs with that key).

    Args:
        api_base_url: API base URL (default: resolved as for every command).
    """
    from ara_http import (
        credentials_path,
        read_credentials,
        read_dev_server,
        resolve_control_token,
        write_credentials,
        write_dev_server,
    )
    from msgspec.structs import replace

    base = _base_url(api_base_url)
    from_env = bool(
        os.environ.get("ARA_API_KEY", "").strip() or os.environ.get("ARA_ACCESS_TOKEN", "").strip()
    )
    token = resolve_control_token(base_url=base)
    dev = read_dev_server()
    dev = dev if dev is not None and dev.api_key == token and dev.api_base_url == base else None
    response = _client(base, token).request("POST", "/apps/api-key/rotate")
    response = response if isinstance(response, dict) else {}
    new_key = str(response.get("api_key") or "")
    if not new_key:
        raise CliError("the server rotated the key but returned no new key; log in again")
    out: dict[str, Any] = {
        "ok": True,
        "status": "rotated",
        "api_key": new_key,
        "key_prefix": response.get("key_prefix"),
        "key_identifier": response.get("key_identifier"),
        "credentials_updated": False,
    }
    if from_env:
        out["warning"] = "Your key comes from the environment: export ARA_API_KEY with the new api_key above."
    if dev is not None:  # the running `ara dev` server's key: other shells find the new one
        out["credentials_updated"] = True
        out["credentials_path"] = str(write_dev_server(replace(dev, api_key=new_key)))
        if dev.data_dir:
            from .server import update_stored_owner_key

            stored = update_stored_owner_key(Path(dev.data_dir), old_key=dev.api_key, new_key=new_key)
            if stored is not None:
                out["dev_credentials_path"] = str(stored)
    elif not from_env:
        record = read_credentials()
        if record.get("auth_type", "cli_api_key" if record.get("api_key") else "") == "cli_api_key":
            record["api_key"] = new_key
            write_credentials(record)
            out["credentials_updated"] = True
            out["credentials_path"] = str(credentials_path())
        else:
            out["warning"] = "You are logged in with a browser session: keep the new api_key above safe."
    emit(out)
    return 0
