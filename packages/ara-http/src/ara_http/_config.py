"""Where requests go and with which credentials: `.env`, `~/.ara/credentials.json`,
the local `ara dev` server, and the environment."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Generator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import msgspec
from ara_core import DEFAULT_API_BASE_URL

from .errors import CredentialsError, MissingCredentialsError

__all__ = [
    "ControlPlaneAuth",
    "DevServerInfo",
    "MISSING_CREDENTIALS",
    "clear_dev_server",
    "credentials_path",
    "dev_server_path",
    "dev_servers_dir",
    "load_dotenv",
    "read_credentials",
    "read_dev_server",
    "resolve_base_url",
    "resolve_control_token",
    "runtime_keys_path",
    "write_credentials",
    "write_dev_server",
    "write_private_json",
]

#: How the message of `MissingCredentialsError` starts (the original SDK's text, kept for its tests).
MISSING_CREDENTIALS = (
    "Missing required env var: ARA_API_KEY. No credentials found. Set ARA_API_KEY or run `ara auth login`."
)
REFRESH_MARGIN_SECONDS = 30


def load_dotenv(cwd: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Load `<cwd>/.env` without overriding set variables.

    Each non-blank, non-`#` line with `=`: key stripped; value stripped, then leading/trailing `'`
    and then `"` stripped; set only when the variable is unset or empty.

    Args:
        cwd: Directory holding `.env` (default: the current directory).

    Returns:
        The variables that were set.
    """
    path = Path(cwd or os.getcwd()) / ".env"
    applied: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return applied
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip().removeprefix("export ").strip()
        value = value.strip().strip("'").strip('"')
        if key and not os.environ.get(key):
            os.environ[key] = value
            applied[key] = value
    return applied


def credentials_path() -> Path:
    """`~/.ara/credentials.json`."""
    return Path.home() / ".ara" / "credentials.json"


def runtime_keys_path() -> Path:
    """`~/.ara/runtime-keys.json`: runtime keys by app directory and slug.

    Shape: `{"<dir>": {"<slug>": "<key>"}}`.
    """
    return Path.home() / ".ara" / "runtime-keys.json"


def dev_servers_dir() -> Path:
    """`~/.ara/dev-servers/`: one record per running `ara dev` server (docs/decisions.md)."""
    return Path.home() / ".ara" / "dev-servers"


def dev_server_path(pid: int | None = None) -> Path:
    """`~/.ara/dev-servers/<pid>.json`: the record of the `ara dev` process `pid` (default: this one)."""
    return dev_servers_dir() / f"{os.getpid() if pid is None else pid}.json"


def write_private_json(path: Path, record: Mapping[str, Any]) -> None:
    """Write JSON (indent 2 + newline) atomically with mode 0600; the directory gets 0700 (best effort)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(path.parent, 0o700)
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(dict(record), fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data: object = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return cast("dict[str, Any]", data) if isinstance(data, dict) else {}


def read_credentials() -> dict[str, Any]:
    """The stored CLI credentials; `{}` when missing or unreadable."""
    return _read_json(credentials_path())


def write_credentials(record: Mapping[str, Any]) -> Path:
    """Save CLI credentials with `updated_at` (ISO UTC), mode 0600. Returns the path."""
    path = credentials_path()
    write_private_json(path, {**dict(record), "updated_at": datetime.now(UTC).isoformat()})
    return path


class DevServerInfo(msgspec.Struct, frozen=True):
    """How to reach a running `ara dev` server.

    Attributes:
        api_base_url: `http://127.0.0.1:<port>`.
        api_key: The owner's API key.
        pid: Process id of `ara dev`.
        data_dir: Its data directory.
        started_at: When it started, in seconds since the epoch; the newest live server wins.
    """

    api_base_url: str
    api_key: str
    pid: int
    data_dir: str = ""
    started_at: float = 0.0


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dev_record(path: Path) -> DevServerInfo | None:
    data = _read_json(path)
    try:
        return DevServerInfo(
            str(data["api_base_url"]).rstrip("/"),
            str(data.get("api_key") or ""),
            int(data["pid"]),
            str(data.get("data_dir") or ""),
            float(data.get("started_at") or 0.0),
        )
    except (KeyError, TypeError, ValueError):
        return None


def read_dev_server() -> DevServerInfo | None:
    """The newest live `ara dev` server, or `None` when none runs.

    Records whose process is gone (or that cannot be read) are deleted on the way, so a crashed
    `ara dev` leaves nothing behind for long.
    """
    live: list[DevServerInfo] = []
    try:
        paths = sorted(dev_servers_dir().glob("*.json"))
    except OSError:
        return None
    for path in paths:
        info = _dev_record(path)
        if info is None or not _alive(info.pid):
            path.unlink(missing_ok=True)
            continue
        live.append(info)
    return max(live, key=lambda i: (i.started_at, i.pid), default=None)


def write_dev_server(info: DevServerInfo) -> Path:
    """Record a running `ara dev` server in its own file (mode 0600); other servers' records stay."""
    path = dev_server_path(info.pid)
    write_private_json(path, msgspec.structs.asdict(info))
    return path


def clear_dev_server(pid: int | None = None) -> None:
    """Remove the record of the `ara dev` process `pid` (default: this process) and no other."""
    dev_server_path(pid).unlink(missing_ok=True)


def resolve_base_url(environ: Mapping[str, str] | None = None) -> str:
    """The API base URL, without a trailing `/`.

    1. `ARA_API_BASE_URL`;
    2. the newest live `ara dev` server (`~/.ara/dev-servers/<pid>.json` whose pid runs);
    3. `api_base_url` of `~/.ara/credentials.json`;
    4. `https://api.ara.so`.
    """
    env = os.environ if environ is None else environ
    if env.get("ARA_API_BASE_URL", "").strip():
        return env["ARA_API_BASE_URL"].strip().rstrip("/")
    dev = read_dev_server()
    if dev:
        return dev.api_base_url
    stored = str(read_credentials().get("api_base_url") or "").strip()
    return (stored or DEFAULT_API_BASE_URL).rstrip("/")


def _parse_expiry(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


RefreshFn = Callable[[dict[str, Any]], dict[str, Any]]


class ControlPlaneAuth(httpx.Auth):
    """`httpx.Auth` for control-plane calls that resolves the bearer token on every request.

    A long-lived client therefore picks up a stored JWT that is refreshed within 30 s of its expiry,
    and a new `ara auth login`. On a 401 it forces one refresh of a stored JWT and retries once.

    Args:
        base_url: The API base URL the token is for (the `ara dev` key only goes to its server).
        refresh: As in `resolve_control_token`.
    """

    def __init__(self, base_url: str, *, refresh: RefreshFn | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.refresh = refresh

    def _token(self, *, force_refresh: bool = False) -> str:
        if force_refresh:
            record = read_credentials()
            if record.get("auth_type") == "supabase_jwt" and not any(
                os.environ.get(n, "").strip() for n in ("ARA_API_KEY", "ARA_ACCESS_TOKEN")
            ):
                record["expires_at"] = None  # makes resolve_control_token refresh it now
                write_credentials(record)
        return resolve_control_token(base_url=self.base_url, refresh=self.refresh)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Set the bearer; after a 401 with a stored JWT, refresh it and retry once."""
        request.headers["Authorization"] = f"Bearer {self._token()}"
        response = yield request
        if response.status_code == 401 and read_credentials().get("auth_type") == "supabase_jwt":
            request.headers["Authorization"] = f"Bearer {self._token(force_refresh=True)}"
            yield request


def resolve_control_token(
    environ: Mapping[str, str] | None = None,
    *,
    base_url: str | None = None,
    refresh: RefreshFn | None = None,
) -> str:
    """The control-plane bearer token, including the key of a running `ara dev`.

    1. `ARA_API_KEY`;
    2. `ARA_ACCESS_TOKEN`;
    3. the `ara dev` owner key, when the resolved base URL is the live dev server's;
    4. `~/.ara/credentials.json`: a `supabase_jwt` record is refreshed (with `refresh`) when its
       `expires_at` is missing, unparseable or within 30 s, and saved; otherwise its `api_key`.

    Args:
        environ: Environment mapping (default `os.environ`).
        base_url: The resolved base URL (default: `resolve_base_url(environ)`).
        refresh: Called with the stored JWT record, returns the refreshed record (see
            `ara_http.refresh_supabase_record`); default: that function.

    Returns:
        The token.

    Raises:
        MissingCredentialsError: No credential; the message names the base URL and says to start
            `ara dev` or run `ara auth login` (a `RuntimeError`).
        CredentialsError: A stored JWT without refresh metadata (a `RuntimeError`).
    """
    env = os.environ if environ is None else environ
    for name in ("ARA_API_KEY", "ARA_ACCESS_TOKEN"):
        if env.get(name, "").strip():
            return env[name].strip()
    dev = read_dev_server()
    resolved = (base_url or resolve_base_url(env)).rstrip("/")
    if dev and dev.api_key and dev.api_base_url == resolved:
        return dev.api_key
    record = read_credentials()
    if record.get("auth_type") == "supabase_jwt":
        expires = _parse_expiry(record.get("expires_at"))
        if expires is None or expires - datetime.now(UTC) <= timedelta(seconds=REFRESH_MARGIN_SECONDS):
            if not record.get("refresh_token") or not record.get("supabase_url"):
                raise CredentialsError(
                    "Stored CLI credentials are missing refresh metadata; run `ara auth login` again."
                )
            if refresh is None:
                from ._auth import refresh_supabase_record

                refresh = refresh_supabase_record
            record = refresh(record)
            write_credentials(record)
        token = str(record.get("access_token") or "")
        if token:
            return token
    if str(record.get("api_key") or "").strip():
        return str(record["api_key"]).strip()
    raise MissingCredentialsError(resolved)
