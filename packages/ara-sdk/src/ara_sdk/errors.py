"""Errors of ara_sdk. All are `ara_core.AraError`s and keep the builtin base the original SDK used.

HTTP failures are `ara_http.ApiError` subclasses (re-exported here): `NotFoundError`,
`PermissionDeniedError`, `APIConnectionError`, ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ara_core import AraError

if TYPE_CHECKING:
    from ara_http import (
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
        UnprocessableEntityError,
    )

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "ApiError",
    "AppExistsError",
    "AppLoadError",
    "AppNotDeployedError",
    "AraError",
    "AuthenticationError",
    "BadRequestError",
    "ChatError",
    "ClientError",
    "ConflictError",
    "CredentialsError",
    "InternalServerError",
    "InvalidOptionError",
    "MissingCredentialsError",
    "MissingDeployEnvError",
    "MissingRuntimeKeyError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProjectNameTakenError",
    "RateLimitError",
    "SecretRoutesMissingError",
    "UnprocessableEntityError",
]


_HTTP_ERRORS = frozenset(
    {
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
        "UnprocessableEntityError",
    }
)


def __getattr__(name: str) -> Any:
    # The HTTP error classes live in ara_http; import it (and httpx) only when one is asked for,
    # so `import ara_sdk` stays light.
    if name in _HTTP_ERRORS:
        import ara_http

        return getattr(ara_http, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class AppLoadError(AraError, RuntimeError):
    """An app script could not be loaded; the message says why and how to fix it."""


class ClientError(AraError, RuntimeError):
    """A client call cannot be made or its answer cannot be used; the message says why."""


class ChatError(ClientError):
    """`AraRuntimeClient.chat` failed: `chat() failed (<code>): <body>`, or the stream's error text.

    Attributes:
        status: HTTP status, or `None` (no response, or an `error` event in the stream).
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class InvalidOptionError(AraError, ValueError):
    """A client method was given an option it does not know (e.g. `on_existing="replace"`)."""


class AppNotDeployedError(ClientError):
    """No app with the manifest's slug is visible to this account on the server.

    The message starts with the original SDK's `App '<slug>' not found. Deploy first.` and names
    the server that was asked.

    Attributes:
        slug: The app's slug.
        base_url: The API base URL that was asked.
    """

    def __init__(self, slug: str, base_url: str) -> None:
        self.slug, self.base_url = slug, base_url
        super().__init__(
            f"App '{slug}' not found. Deploy first. It is not deployed on {base_url} "
            "(nor shared with this account): run `ara deploy <app.py>`."
        )


class MissingRuntimeKeyError(ClientError):
    """The app is deployed but no runtime key or app header key was found for it.

    The message starts with the original SDK's text and says where the key was looked for.

    Attributes:
        slug: The app's slug.
        searched: Files that were read, in order.
    """

    def __init__(self, slug: str, searched: list[str]) -> None:
        self.slug, self.searched = slug, list(searched)
        where = ", ".join(searched) if searched else "no key file"
        super().__init__(
            "Missing runtime key. Set ARA_RUNTIME_KEY, ARA_APP_HEADER_KEY, or run deploy/setup-auth first. "
            f"App '{slug}' is deployed, but no runtime key for it was found (looked in {where})."
        )


class AppExistsError(ClientError):
    """`deploy(on_existing="error")` found the app already deployed.

    Attributes:
        app_id: The existing app's id.
    """

    def __init__(self, slug: str, app_id: str) -> None:
        self.app_id = app_id
        super().__init__(f"Project '{slug}' already exists for this account (app_id={app_id}).")


class ProjectNameTakenError(ClientError):
    """Creating the app failed because another account uses its project name (HTTP 409)."""

    def __init__(self) -> None:
        super().__init__(
            "Project name is already taken. Choose a different DNS-safe project_name "
            "(lowercase letters, digits, hyphens) and retry deploy."
        )


class MissingDeployEnvError(ClientError):
    """Deploy needs environment variables that are not set: the keys a job-first app's jobs and
    tools require (`required_env`, `ara.secret("NAME")`), which deploy syncs as an app secret.

    Attributes:
        names: The missing variables, in declaration order.
    """

    def __init__(self, names: list[str]) -> None:
        self.names = list(names)
        super().__init__(
            "Missing required environment variables for deploy-time secret sync: "
            + ", ".join(self.names)
            + ". Export them in the shell that deploys (they are stored as an app secret)."
        )


class SecretRoutesMissingError(ClientError):
    """The server has no app secret routes (404 on `/apps/{app_id}/secrets`)."""

    def __init__(self) -> None:
        super().__init__(
            "This backend lacks the App SDK secret routes (/apps/{app_id}/secrets); "
            "remove runtime(secrets=...) from the app or deploy to a server that supports them."
        )
