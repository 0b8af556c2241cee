"""ara_sdk: write Ara apps in Python and operate them.

`App` and its decorators declare agents, tools and schedules (or `Job` and `@tool`, the job-first
style); `AraClient` deploys and runs them against api.ara.so or any ara-server; the helpers build
runtime profiles, secrets and schedules.

Importing `ara_sdk` loads no HTTP stack: `AraClient`, `AsyncAraClient`, `AraRuntimeClient` and
`core` are imported on first use.
"""

import typing as _typing

from ara_core import (
    DEFAULT_API_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_BACKOFF_SECONDS,
    DEFAULT_SUBAGENT_MAX_CONCURRENCY,
    DEFAULT_SUBAGENT_MAX_RETRIES,
    DEFAULT_SUBAGENT_RETRY_BACKOFF_SECONDS,
    DEFAULT_SUBAGENT_TIMEOUT_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    AraError,
    Secret,
    SecretDefinition,
    agno_adapter,
    command_adapter,
    cron,
    entrypoint,
    event_envelope,
    file,
    git_artifact,
    invoke,
    langchain_adapter,
    langgraph_adapter,
    local_file,
    runtime,
    sandbox,
    schedule,
    scheduler,
    subagent_hook,
    tarball_artifact,
)

from ._app import App, ProjectNameError, define_app, fastapi_endpoint
from ._cli_bridge import run_auth_cli, run_cli, run_runtime_cli
from ._definitions import DecoratorStackError
from ._job import Automation, Job, connectors, env, secret, tool
from ._loader import load_app
from .errors import (
    AppExistsError,
    AppLoadError,
    AppNotDeployedError,
    ChatError,
    ClientError,
    InvalidOptionError,
    MissingDeployEnvError,
    MissingRuntimeKeyError,
    ProjectNameTakenError,
    SecretRoutesMissingError,
)

if _typing.TYPE_CHECKING:
    from . import core
    from ._api import AraApi, AsyncAraApi
    from ._client import AraClient, AsyncAraClient
    from ._runtime_client import AraRuntimeClient
    from ._webhooks import sign_webhook
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
        UnprocessableEntityError,
    )

_LAZY = {
    "AraClient": "._client",
    "AsyncAraClient": "._client",
    "AraRuntimeClient": "._runtime_client",
    "AraApi": "._api",
    "AsyncAraApi": "._api",
    "APIConnectionError": ".errors",
    "APIStatusError": ".errors",
    "APITimeoutError": ".errors",
    "ApiError": ".errors",
    "AuthenticationError": ".errors",
    "BadRequestError": ".errors",
    "ConflictError": ".errors",
    "CredentialsError": ".errors",
    "InternalServerError": ".errors",
    "MissingCredentialsError": ".errors",
    "NotFoundError": ".errors",
    "PermissionDeniedError": ".errors",
    "RateLimitError": ".errors",
    "UnprocessableEntityError": ".errors",
    "sign_webhook": "._webhooks",
}


def __getattr__(name: str) -> _typing.Any:
    """Import the clients (and with them the HTTP stack) on first use."""
    import importlib

    if name == "core":
        return importlib.import_module(".core", __name__)
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module 'ara_sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "ApiError",
    "App",
    "AppExistsError",
    "AppLoadError",
    "AppNotDeployedError",
    "AraApi",
    "AraClient",
    "AraError",
    "AraRuntimeClient",
    "AsyncAraApi",
    "AsyncAraClient",
    "AuthenticationError",
    "Automation",
    "BadRequestError",
    "ChatError",
    "ClientError",
    "ConflictError",
    "CredentialsError",
    "DEFAULT_API_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RETRY_BACKOFF_SECONDS",
    "DEFAULT_SUBAGENT_MAX_CONCURRENCY",
    "DEFAULT_SUBAGENT_MAX_RETRIES",
    "DEFAULT_SUBAGENT_RETRY_BACKOFF_SECONDS",
    "DEFAULT_SUBAGENT_TIMEOUT_SECONDS",
    "DEFAULT_TIMEOUT_SECONDS",
    "DecoratorStackError",
    "InternalServerError",
    "InvalidOptionError",
    "Job",
    "MissingCredentialsError",
    "MissingDeployEnvError",
    "MissingRuntimeKeyError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProjectNameError",
    "ProjectNameTakenError",
    "RateLimitError",
    "Secret",
    "SecretDefinition",
    "SecretRoutesMissingError",
    "UnprocessableEntityError",
    "agno_adapter",
    "command_adapter",
    "connectors",
    "core",
    "cron",
    "define_app",
    "entrypoint",
    "env",
    "event_envelope",
    "fastapi_endpoint",
    "file",
    "git_artifact",
    "invoke",
    "langchain_adapter",
    "langgraph_adapter",
    "load_app",
    "local_file",
    "run_auth_cli",
    "run_cli",
    "run_runtime_cli",
    "runtime",
    "sandbox",
    "schedule",
    "scheduler",
    "secret",
    "sign_webhook",
    "subagent_hook",
    "tarball_artifact",
    "tool",
]
