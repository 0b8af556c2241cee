"""The run engine of ara-server: sandboxed prompt functions and tools, and the agent loop."""

from ._artifacts import ArtifactError, artifact_dir, ensure_artifact
from ._chat import chat_events
from ._envs import AppEnvironment, PackageInstallError, ensure_environment, environment_key
from ._executors import (
    ExecutionContext,
    Executor,
    RunSink,
    RunSpec,
    command_path,
    execute_run,
    executor_for,
    handler_row,
    run_startup,
)
from ._isolation import PROTECTIONS, IsolationStatus, IsolationUnavailable
from ._limits import SandboxLimits, SandboxPolicy
from ._loop import MAX_MODEL_TURNS, RunOutcome, Toolbox, ToolResult, Trace, agent_loop, execute_agent_run
from ._providers import (
    ModelError,
    ModelProvider,
    ModelTurn,
    OfflineProvider,
    OpenAICompatibleProvider,
    RunContext,
    ToolCall,
    provider_from_env,
)
from ._reaper import ReapReport, reap_orphans
from ._sandbox import (
    ProcessResult,
    SandboxResult,
    close_warm_sandboxes,
    configure_sandbox,
    isolation_status,
    require_isolation,
    run_command,
    run_function,
    run_sandboxed,
    sandbox_policy,
    warm_sandbox_stats,
)
from ._warm import WarmPool, WarmPoolStats

__all__ = [
    "AppEnvironment",
    "ArtifactError",
    "ExecutionContext",
    "Executor",
    "PackageInstallError",
    "RunSink",
    "RunSpec",
    "ToolResult",
    "Toolbox",
    "Trace",
    "agent_loop",
    "artifact_dir",
    "chat_events",
    "command_path",
    "ensure_artifact",
    "ensure_environment",
    "environment_key",
    "execute_run",
    "executor_for",
    "handler_row",
    "run_startup",
    "MAX_MODEL_TURNS",
    "PROTECTIONS",
    "IsolationStatus",
    "IsolationUnavailable",
    "ProcessResult",
    "ReapReport",
    "SandboxLimits",
    "SandboxPolicy",
    "WarmPool",
    "WarmPoolStats",
    "close_warm_sandboxes",
    "configure_sandbox",
    "warm_sandbox_stats",
    "isolation_status",
    "reap_orphans",
    "require_isolation",
    "run_command",
    "run_sandboxed",
    "sandbox_policy",
    "ModelError",
    "ModelProvider",
    "ModelTurn",
    "OfflineProvider",
    "OpenAICompatibleProvider",
    "RunContext",
    "RunOutcome",
    "SandboxResult",
    "ToolCall",
    "execute_agent_run",
    "provider_from_env",
    "run_function",
]
