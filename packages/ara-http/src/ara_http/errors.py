"""Errors of ara_http: one class per kind of HTTP failure, all under `ara_core.AraError`.

```
AraError
└── ApiError (RuntimeError)                  any failed call; `.method`, `.path`, `.status`, `.body`
    ├── APIStatusError                       the server answered with a non-2xx status
    │   ├── BadRequestError                  400
    │   ├── AuthenticationError              401
    │   ├── PermissionDeniedError            403
    │   ├── NotFoundError                    404
    │   ├── ConflictError                    409
    │   ├── UnprocessableEntityError         422
    │   ├── RateLimitError                   429 (`.retry_after` in seconds)
    │   └── InternalServerError              500 and above
    └── APIConnectionError                   no answer: DNS, refused, reset (`.host`)
        └── APITimeoutError                  no answer in time
```

Messages keep the original SDK's texts: `<METHOD> <path> failed (<status>). Response body hidden
by default; set ARA_SDK_DEBUG_HTTP_ERRORS=true to include it.`, with the debug flag
`<METHOD> <path> failed (<status>): <body>`, and `<METHOD> <path> failed (network): <reason>` where
the reason names the host that could not be reached.
"""

from __future__ import annotations

import json
import os
from typing import cast

from ara_core import AraError

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "CredentialsError",
    "InternalServerError",
    "MissingCredentialsError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "SupabaseAuthError",
    "UnprocessableEntityError",
    "debug_http_errors",
    "status_error",
]


def debug_http_errors() -> bool:
    """Whether `ARA_SDK_DEBUG_HTTP_ERRORS` asks for response bodies in errors (`1,true,yes,on`)."""
    return os.environ.get("ARA_SDK_DEBUG_HTTP_ERRORS", "").strip().lower() in ("1", "true", "yes", "on")


class ApiError(AraError, RuntimeError):
    """An HTTP call failed. Catch a subclass to handle one kind of failure.

    Args:
        method: HTTP method, e.g. `"GET"`.
        path: Request path with any query string, e.g. `"/apps?x=1"`.
        status: HTTP status, or `None` when no response arrived.
        body: Response body text (`""` when no response arrived).
        reason: Why no response arrived (used when `status` is `None`).

    Attributes:
        method: HTTP method.
        path: Request path (with any query string).
        status: HTTP status, or `None` for network errors.
        body: Response body text; kept even when the message hides it.
    """

    def __init__(self, method: str, path: str, status: int | None, body: str = "", reason: str = "") -> None:
        self.method, self.path, self.status, self.body = method, path, status, body
        if status is None:
            message = f"{method} {path} failed (network): {reason}"
        elif debug_http_errors():
            message = f"{method} {path} failed ({status}): {body}"
        else:
            message = (
                f"{method} {path} failed ({status}). Response body hidden by default; "
                "set ARA_SDK_DEBUG_HTTP_ERRORS=true to include it."
            )
        super().__init__(message)

    @property
    def body_shown(self) -> bool:
        """Whether the message already includes the response body (`ARA_SDK_DEBUG_HTTP_ERRORS`)."""
        return self.status is not None and debug_http_errors()

    @property
    def server_message(self) -> str:
        """The `error.message` of an ara-server JSON error body (written for users, no secrets), or `""`."""
        return _error_field(self.body, "message")

    @property
    def server_code(self) -> str:
        """The `error.code` of an ara-server JSON error body (e.g. `"not_found"`), or `""`."""
        return _error_field(self.body, "code")


def _error_field(body: str, field: str) -> str:
    if not body:
        return ""
    try:
        decoded: object = json.loads(body)
    except ValueError:
        return ""
    error = cast("dict[str, object]", decoded).get("error") if isinstance(decoded, dict) else None
    value = cast("dict[str, object]", error).get(field) if isinstance(error, dict) else None
    return value if isinstance(value, str) else ""


class APIStatusError(ApiError):
    """The server answered with a non-2xx status (`.status` is an `int`)."""

    status: int

    def __init__(self, method: str, path: str, status: int, body: str = "") -> None:
        super().__init__(method, path, status, body)


class BadRequestError(APIStatusError):
    """400: the request was malformed."""


class AuthenticationError(APIStatusError):
    """401: the API key, token or runtime key is missing, invalid or revoked."""


class PermissionDeniedError(APIStatusError):
    """403: the credential is valid but its role does not allow this."""


class NotFoundError(APIStatusError):
    """404: no such app, run, secret or route."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the current state (e.g. a project name already taken)."""


class UnprocessableEntityError(APIStatusError):
    """422: the body was understood but invalid; ara-server names the JSON path in the message."""


class RateLimitError(APIStatusError):
    """429: too many requests.

    Attributes:
        retry_after: Seconds the server asked to wait (`Retry-After`), or `None`.
    """

    def __init__(
        self, method: str, path: str, status: int, body: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(method, path, status, body)
        self.retry_after = retry_after


class InternalServerError(APIStatusError):
    """500 and above: the server failed."""


class APIConnectionError(ApiError):
    """No response arrived: the host is unknown, refused the connection, or dropped it.

    Args:
        method: HTTP method.
        path: Request path.
        host: `host[:port]` that was tried.
        reason: What went wrong; the message names the host.

    Attributes:
        host: `host[:port]` that was tried.
    """

    def __init__(self, method: str, path: str, *, host: str, reason: str) -> None:
        super().__init__(method, path, None, "", reason)
        self.host = host


class APITimeoutError(APIConnectionError):
    """No response arrived within the timeout."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
}


def status_error(
    method: str, path: str, status: int, body: str = "", retry_after: float | None = None
) -> APIStatusError:
    """The error for a non-2xx response: the subclass for `status`, else `APIStatusError`.

    Args:
        method: HTTP method.
        path: Request path with any query string.
        status: HTTP status (not 2xx).
        body: Response body text.
        retry_after: Seconds from `Retry-After`, kept on a `RateLimitError`.

    Returns:
        The error, not raised.
    """
    if status == 429:
        return RateLimitError(method, path, status, body, retry_after)
    if status >= 500:
        return InternalServerError(method, path, status, body)
    return _BY_STATUS.get(status, APIStatusError)(method, path, status, body)


class CredentialsError(AraError, RuntimeError):
    """Stored credentials cannot be used (e.g. a login without refresh data); the message says what to do."""


class SupabaseAuthError(CredentialsError):
    """A Supabase token request (login or refresh) failed: `Supabase auth request failed (<code>): <body>`.

    Attributes:
        status: HTTP status, or `None` when no response arrived.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class MissingCredentialsError(CredentialsError):
    """No control-plane credential was found for the API the command was about to call.

    The message starts with the original SDK's text (`Missing required env var: ARA_API_KEY. No
    credentials found. Set ARA_API_KEY or run `ara auth login`.`), then names the server that was
    tried and says that `ara dev` starts a local one.

    Args:
        base_url: The API base URL a credential was needed for.

    Attributes:
        base_url: The API base URL a credential was needed for.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        super().__init__(
            "Missing required env var: ARA_API_KEY. No credentials found. Set ARA_API_KEY or run "
            f"`ara auth login`. No credentials for {base_url or 'the API'}; to work locally, start a "
            "server with `ara dev` (commands then find it and its key on their own)."
        )
