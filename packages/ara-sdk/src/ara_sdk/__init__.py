"""ara_sdk: write Ara apps in Python and operate them.

`App` and its decorators declare agents, tools and schedules; `AraClient` deploys and runs them
against api.ara.so or any ara-server; the helpers build runtime profiles, secrets and schedules.
"""

from ara_core import (
    DEFAULT_API_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_BACKOFF_SECONDS,
    DEFAULT_SUBAGENT_MAX_CONCURRENCY,
    DEFAULT_SUBAGENT_MAX_RETRIES,
    DEFAULT_SUBAGENT_RETRY_BACKOFF_SECONDS,
    DEFAULT_SUBAGENT_TIMEOUT_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
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

from ._app import App, define_app, fastapi_endpoint
from ._client import AraClient, AsyncAraClient
from ._loader import load_app
from ._runtime_client import AraRuntimeClient
from .errors import AppLoadError

__all__ = [
    "App",
    "AppLoadError",
    "AraClient",
    "AraRuntimeClient",
    "AsyncAraClient",
    "DEFAULT_API_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RETRY_BACKOFF_SECONDS",
    "DEFAULT_SUBAGENT_MAX_CONCURRENCY",
    "DEFAULT_SUBAGENT_MAX_RETRIES",
    "DEFAULT_SUBAGENT_RETRY_BACKOFF_SECONDS",
    "DEFAULT_SUBAGENT_TIMEOUT_SECONDS",
    "DEFAULT_TIMEOUT_SECONDS",
    "Secret",
    "SecretDefinition",
    "agno_adapter",
    "command_adapter",
    "cron",
    "define_app",
    "entrypoint",
    "event_envelope",
    "fastapi_endpoint",
    "file",
    "git_artifact",
    "invoke",
    "langchain_adapter",
    "langgraph_adapter",
    "load_app",
    "local_file",
    "runtime",
    "sandbox",
    "schedule",
    "scheduler",
    "subagent_hook",
    "tarball_artifact",
]
