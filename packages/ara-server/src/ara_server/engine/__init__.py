"""The run engine of ara-server: sandboxed prompt functions and tools, and the agent loop."""

from ._artifacts import ArtifactError, artifact_dir, copy_artifact, ensure_artifact
from ._builds import unsandboxed_build_warnings
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
    "IsolationStatus",
    "IsolationUnavailable",
    "MAX_MODEL_TURNS",
    "ModelError",
    "ModelProvider",
    "ModelTurn",
    "OfflineProvider",
    "OpenAICompatibleProvider",
    "PROTECTIONS",
    "PackageInstallError",
    "ProcessResult",
    "ReapReport",
    "RunContext",
    "RunOutcome",
    "RunSink",
    "RunSpec",
    "SandboxLimits",
    "SandboxPolicy",
    "SandboxResult",
    "ToolCall",
    "ToolResult",
    "Toolbox",
    "Trace",
    "WarmPool",
    "WarmPoolStats",
    "agent_loop",
    "artifact_dir",
    "chat_events",
    "close_warm_sandboxes",
    "command_path",
    "configure_sandbox",
    "copy_artifact",
    "ensure_artifact",
    "ensure_environment",
    "environment_key",
    "execute_agent_run",
    "execute_run",
    "executor_for",
    "handler_row",
    "isolation_status",
    "provider_from_env",
    "reap_orphans",
    "require_isolation",
    "run_command",
    "run_function",
    "run_sandboxed",
    "run_startup",
    "sandbox_policy",
    "unsandboxed_build_warnings",
    "warm_sandbox_stats",
]
