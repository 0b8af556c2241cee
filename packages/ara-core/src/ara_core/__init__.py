"""ara_core: the Ara wire contract in plain Python.

Manifest models and validation, id rules, schedules and the authoring helpers, with no network
and no heavy imports: ``pip install ara-core`` gives manifest-only tooling.
"""

from ._coerce import coerce_arguments
from ._guardrail import guardrail_command, task_guardrail_prefix
from ._helpers import (
    DEFAULT_API_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_BACKOFF_SECONDS,
    DEFAULT_SANDBOX_MAX_CONCURRENCY,
    DEFAULT_SUBAGENT_MAX_CONCURRENCY,
    DEFAULT_SUBAGENT_MAX_RETRIES,
    DEFAULT_SUBAGENT_RETRY_BACKOFF_SECONDS,
    DEFAULT_SUBAGENT_TIMEOUT_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    SECRET_DEFINITIONS_KEY,
    agno_adapter,
    check_json,
    command_adapter,
    cron,
    entrypoint,
    event_envelope,
    file,
    git_artifact,
    langchain_adapter,
    langgraph_adapter,
    local_file,
    runtime,
    sandbox,
    strip_private,
    subagent_hook,
    tarball_artifact,
)
from ._ids import PROJECT_NAME_PATTERN, new_run_id, slugify
from ._models import Manifest, manifest_json_schema, validate_manifest
from ._schedules import (
    invoke,
    next_fire_times,
    normalize_schedule_run,
    normalize_schedule_spec,
    schedule,
    scheduler,
    validate_cron,
    validate_timezone,
)
from ._secrets import Secret, SecretDefinition, validate_env_key
from ._signature import function_source, signature_schema
from .errors import ArgumentError, DeclarationError, ManifestError

__all__ = sorted(
    [
        "ArgumentError",
        "DEFAULT_API_BASE_URL",
        "DEFAULT_MAX_RETRIES",
        "DEFAULT_RETRY_BACKOFF_SECONDS",
        "DEFAULT_SANDBOX_MAX_CONCURRENCY",
        "DEFAULT_SUBAGENT_MAX_CONCURRENCY",
        "DEFAULT_SUBAGENT_MAX_RETRIES",
        "DEFAULT_SUBAGENT_RETRY_BACKOFF_SECONDS",
        "DEFAULT_SUBAGENT_TIMEOUT_SECONDS",
        "DEFAULT_TIMEOUT_SECONDS",
        "DeclarationError",
        "Manifest",
        "ManifestError",
        "PROJECT_NAME_PATTERN",
        "SECRET_DEFINITIONS_KEY",
        "Secret",
        "SecretDefinition",
        "agno_adapter",
        "check_json",
        "coerce_arguments",
        "command_adapter",
        "cron",
        "entrypoint",
        "event_envelope",
        "file",
        "function_source",
        "git_artifact",
        "guardrail_command",
        "invoke",
        "langchain_adapter",
        "langgraph_adapter",
        "local_file",
        "manifest_json_schema",
        "new_run_id",
        "next_fire_times",
        "normalize_schedule_run",
        "normalize_schedule_spec",
        "runtime",
        "sandbox",
        "schedule",
        "scheduler",
        "signature_schema",
        "slugify",
        "strip_private",
        "subagent_hook",
        "tarball_artifact",
        "task_guardrail_prefix",
        "validate_cron",
        "validate_env_key",
        "validate_timezone",
        "validate_manifest",
    ]
)
