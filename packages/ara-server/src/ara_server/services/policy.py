"""Execution settings of a run, read from the app manifest: timeout, retries, backoff and the
concurrency limit of its subagent (or agent)."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ExecutionPolicy", "backoff_seconds", "execution_policy", "policy_columns"]


@dataclass(frozen=True, slots=True)
class ExecutionPolicy:
    """How one run executes.

    Attributes:
        timeout_seconds: Limit of one attempt, in seconds.
        max_retries: Attempts after the first when an attempt fails (0 = no retry).
        retry_backoff_seconds: Base of the exponential backoff between attempts, in seconds.
        max_concurrency: Running runs allowed at once for `concurrency_key` across all nodes
            (`None` = no limit).
        concurrency_key: `<app id>:<subagent or agent id>`, or `None` without a limit.
    """

    timeout_seconds: float
    max_retries: int = 0
    retry_backoff_seconds: float = 0.0
    max_concurrency: int | None = None
    concurrency_key: str | None = None

    @property
    def max_attempts(self) -> int:
        """`1 + max_retries`."""
        return 1 + self.max_retries


def backoff_seconds(failed_attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """The delay before the attempt after `failed_attempt` (1-based): exponential with full jitter,
    `uniform(0, min(cap, base * 2 ** (failed_attempt - 1)))`, in seconds."""
    if base <= 0 or failed_attempt < 1:
        return 0.0
    ceiling = min(cap, base * 2.0 ** min(failed_attempt - 1, 60))
    return (rng or random).uniform(0.0, ceiling)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _governing(manifest: Mapping[str, Any], agent_id: str, workflow_id: str) -> tuple[str, dict[str, Any]]:
    """The subagent (or agent) row whose `runtime` and `sandbox` govern a run, and its id."""
    block = _dict(manifest.get("agent"))
    names = {n for n in (agent_id, workflow_id) if n}
    for sub in block.get("subagents") or []:
        if not isinstance(sub, dict):
            continue
        hooks = {str(_dict(h).get("id") or "") for h in sub.get("hooks") or []}
        if names & {str(sub.get("id") or ""), str(sub.get("workflow_id") or "")} or workflow_id in hooks:
            return str(sub.get("id") or sub.get("workflow_id")), sub
    for agent in block.get("agents") or []:
        if isinstance(agent, dict) and agent.get("id") and agent.get("id") in names:
            return str(agent["id"]), agent
    for workflow in manifest.get("workflows") or []:
        if isinstance(workflow, dict) and workflow.get("id") == workflow_id:
            return workflow_id, workflow
    return agent_id or workflow_id, {}


def execution_policy(
    manifest: Mapping[str, Any],
    app_id: str,
    agent_id: str,
    workflow_id: str,
    *,
    default_timeout_seconds: float,
) -> ExecutionPolicy:
    """The execution settings of a run of `agent_id` / `workflow_id`.

    Read from the subagent whose id or workflow id (or one of whose hooks) matches the run, else
    the agent row, else the workflow: `runtime.timeout_seconds` (default `default_timeout_seconds`),
    `runtime.max_retries` (default 0), `runtime.retry_backoff_seconds` (default 0),
    `sandbox.max_concurrency` (default no limit). Values that are not numbers are ignored (the
    deploy reports them).
    """
    name, row = _governing(manifest, agent_id, workflow_id)
    runtime, sandbox = _dict(row.get("runtime")), _dict(row.get("sandbox"))
    timeout = _number(runtime.get("timeout_seconds"))
    retries = _number(runtime.get("max_retries"))
    backoff = _number(runtime.get("retry_backoff_seconds"))
    limit = _number(sandbox.get("max_concurrency"))
    max_concurrency = max(1, int(limit)) if limit is not None else None
    return ExecutionPolicy(
        timeout_seconds=timeout if timeout is not None and timeout > 0 else default_timeout_seconds,
        max_retries=max(0, min(int(retries), 100)) if retries is not None else 0,
        retry_backoff_seconds=max(0.0, backoff) if backoff is not None else 0.0,
        max_concurrency=max_concurrency,
        concurrency_key=f"{app_id}:{name}" if max_concurrency is not None and name else None,
    )


def policy_columns(
    manifest: Mapping[str, Any], row: Mapping[str, Any], *, default_timeout_seconds: float = 600.0
) -> dict[str, Any]:
    """The lifecycle columns a new runs row needs (`max_attempts`, `concurrency_key`,
    `max_concurrency`), from the manifest of its app. Merge them into the row before inserting."""
    policy = execution_policy(
        manifest,
        str(row["app_id"]),
        str(row.get("agent_id") or ""),
        str(row.get("workflow_id") or ""),
        default_timeout_seconds=default_timeout_seconds,
    )
    return {
        "max_attempts": policy.max_attempts,
        "concurrency_key": policy.concurrency_key,
        "max_concurrency": policy.max_concurrency,
    }
