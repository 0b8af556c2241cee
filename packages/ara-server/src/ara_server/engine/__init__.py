"""The run engine of ara-server: sandboxed prompt functions and tools, and the agent loop."""

from ._loop import MAX_MODEL_TURNS, RunOutcome, execute_agent_run
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
from ._sandbox import SandboxResult, run_function

__all__ = [
    "MAX_MODEL_TURNS",
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
