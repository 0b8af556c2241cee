"""ara_http: the HTTP layer of ara — httpx clients, auth, configuration resolution, errors, SSE.

The only package that imports httpx (enforced by import-linter).
"""

from ._auth import expires_at_iso, refresh_supabase_record, supabase_token_request
from ._config import (
    MISSING_CREDENTIALS,
    ControlPlaneAuth,
    DevServerInfo,
    clear_dev_server,
    credentials_path,
    dev_server_path,
    dev_servers_dir,
    load_dotenv,
    read_credentials,
    read_dev_server,
    resolve_base_url,
    resolve_control_token,
    write_credentials,
    write_dev_server,
    write_private_json,
)
from ._transport import (
    USE_CLIENT_AUTH,
    AppHeaderKeyAuth,
    AsyncHttpClient,
    BearerAuth,
    HttpClient,
    RetryPolicy,
)
from .errors import ApiError, debug_http_errors

__all__ = [
    "ApiError",
    "AppHeaderKeyAuth",
    "AsyncHttpClient",
    "BearerAuth",
    "ControlPlaneAuth",
    "DevServerInfo",
    "HttpClient",
    "MISSING_CREDENTIALS",
    "RetryPolicy",
    "USE_CLIENT_AUTH",
    "clear_dev_server",
    "credentials_path",
    "debug_http_errors",
    "dev_server_path",
    "dev_servers_dir",
    "expires_at_iso",
    "load_dotenv",
    "read_credentials",
    "read_dev_server",
    "refresh_supabase_record",
    "resolve_base_url",
    "resolve_control_token",
    "supabase_token_request",
    "write_credentials",
    "write_dev_server",
    "write_private_json",
]
