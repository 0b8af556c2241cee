"""Execution settings of a run, read from the app manifest: timeout, retries, backoff and the
concurrency limit of its subagent (or agent)."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ara_core import ManifestView, SubagentSettings, view_of
from msgspec import UnsetType

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


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _governing(view: ManifestView, agent_id: str, workflow_id: str) -> tuple[str, SubagentSettings | None]:
    """The settings of the subagent (or agent) that govern a run, and its id: the first subagent
    whose id or workflow id is the run's agent or workflow id (or one of whose hooks is the run's
    workflow), else the agent row of that id; `None` settings for a plain workflow."""
    names = {n for n in (agent_id, workflow_id) if n}
    block = view.manifest.agent
    rows = () if isinstance(block, UnsetType) or isinstance(block.subagents, UnsetType) else block.subagents
    for row in rows:
        settings = view.subagent(row.id)
        if settings is None:
            continue
        if names & {settings.id, settings.workflow_id} or any(h.id == workflow_id for h in settings.hooks):
            return settings.id, settings
    for name in (agent_id, workflow_id):
        if name and view.agent(name) is not None:
            return name, view.subagent(name)
    return agent_id or workflow_id, None


def execution_policy(
    manifest: ManifestView | Mapping[str, Any],
    app_id: str,
    agent_id: str,
    workflow_id: str,
    *,
    default_timeout_seconds: float,
) -> ExecutionPolicy:
    """The execution settings of a run of `agent_id` / `workflow_id`.

    Read from the subagent whose id or workflow id (or one of whose hooks) matches the run, else
    the agent row (`ManifestView.subagent`): its `runtime.timeout_seconds` (else the app-wide
    `runtime_profile.execution`; default `default_timeout_seconds`), `runtime.max_retries`
    (default 0), `runtime.retry_backoff_seconds` (default 0), `sandbox.max_concurrency` (default
    no limit). A plain workflow gets the defaults.

    Args:
        manifest: The app's manifest view (`store.apps.app_view(app)`), or the manifest document.

    Raises:
        ara_core.ManifestError: A manifest document does not decode (stored manifests were
            validated at deploy).
    """
    view = manifest if isinstance(manifest, ManifestView) else view_of(manifest)
    name, settings = _governing(view, agent_id, workflow_id)
    if settings is None:
        return ExecutionPolicy(timeout_seconds=default_timeout_seconds)
    timeout = _number(settings.timeout_seconds)
    retries = _number(settings.max_retries)
    backoff = _number(settings.retry_backoff_seconds)
    limit = _number(settings.max_concurrency)
    max_concurrency = max(1, int(limit)) if limit is not None else None
    return ExecutionPolicy(
        timeout_seconds=timeout if timeout is not None and timeout > 0 else default_timeout_seconds,
        max_retries=max(0, min(int(retries), 100)) if retries is not None else 0,
        retry_backoff_seconds=max(0.0, backoff) if backoff is not None else 0.0,
        max_concurrency=max_concurrency,
        concurrency_key=f"{app_id}:{name}" if max_concurrency is not None and name else None,
    )


def policy_columns(
    manifest: ManifestView | Mapping[str, Any],
    row: Mapping[str, Any],
    *,
    default_timeout_seconds: float = 600.0,
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
