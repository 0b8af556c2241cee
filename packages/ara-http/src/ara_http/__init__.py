"""ara_http: the HTTP layer of ara — httpx clients, auth, configuration resolution, errors, SSE.

The only package that imports httpx (enforced by import-linter).
"""

import sys as _sys
import types as _types

if "httpx" not in _sys.modules:  # pragma: no branch
    # The httpx package imports its command-line entry point (`httpx._main`: click, rich and
    # pygments when installed) at import time. A library never uses it, and it costs tens of
    # milliseconds at every CLI start: an empty stand-in makes httpx fall back to its stub `main`.
    _sys.modules.setdefault("httpx._main", _types.ModuleType("httpx._main"))

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
    runtime_keys_path,
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
from .errors import (
    APIConnectionError,
    ApiError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    CredentialsError,
    InternalServerError,
    MissingCredentialsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    SupabaseAuthError,
    UnprocessableEntityError,
    debug_http_errors,
    status_error,
)

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "ApiError",
    "AppHeaderKeyAuth",
    "AsyncHttpClient",
    "AuthenticationError",
    "BadRequestError",
    "BearerAuth",
    "ConflictError",
    "ControlPlaneAuth",
    "CredentialsError",
    "DevServerInfo",
    "HttpClient",
    "InternalServerError",
    "MISSING_CREDENTIALS",
    "MissingCredentialsError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RetryPolicy",
    "SupabaseAuthError",
    "USE_CLIENT_AUTH",
    "UnprocessableEntityError",
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
    "runtime_keys_path",
    "status_error",
    "supabase_token_request",
    "write_credentials",
    "write_dev_server",
    "write_private_json",
]
