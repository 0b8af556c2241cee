"""Runs: starting them (sync inline, async queued), executing agent, pipeline, tool and command runs,
and the wire shape of a run."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ara_core import new_run_id
from sqlalchemy.exc import IntegrityError

from ..engine import ModelProvider, RunOutcome
from ..errors import ApiProblem
from ..settings import Settings
from ..store import Store, apps, runs
from .dispatch import RequestTarget, resolve_request
from .execution import Execution
from .logbus import LogBus
from .policy import policy_columns

if TYPE_CHECKING:
    from .lifecycle import Lifecycle

__all__ = ["RunService", "public_run", "resolve_agent"]


def public_run(row: dict[str, Any]) -> dict[str, Any]:
    """The wire shape of a stored run."""
    out: dict[str, Any] = {
        "run_id": row["run_id"],
        "app_id": row["app_id"],
        "agent_id": row["agent_id"],
        "workflow_id": row.get("workflow_id") or row["agent_id"],
        "kind": row.get("kind") or "agent",
        "status": row["status"],
        "attempt": int(row.get("attempt") or 0),
        "created_at": _iso(row.get("created_at")),
        "started_at": _iso(row.get("started_at")),
        "finished_at": _iso(row.get("finished_at")),
    }
    if row.get("result") is not None:
        out["result"] = row["result"]
    if row.get("error"):
        out["error"] = row["error"]
    if row.get("trace"):
        out["trace"] = row["trace"]
    if row.get("cancel_requested") and row["status"] == "running":
        out["cancel_requested"] = True
    return out


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else value


def resolve_agent(app: dict[str, Any], requested: str) -> str:
    """The agent a run request names (see `resolve_request`); ``""`` for a command, pipeline or
    handler workflow.

    Raises:
        ApiProblem: 404 `agent_not_found`.
    """
    return resolve_request(app, requested).agent_id


class RunService:
    """Runs agents for one server node.

    Args:
        settings: Server settings.
        store: The store.
        logbus: Where run log lines go (default: a new one on `store`).
        provider: Model provider (default: from the environment, per run).
        notify: Called when a run was queued (wakes the workers).

    Attributes:
        lifecycle: Claims, executes, retries and cancels runs (set by the composition root).
    """

    lifecycle: Lifecycle

    def __init__(
        self,
        settings: Settings,
        store: Store,
        logbus: LogBus | None = None,
        provider: ModelProvider | None = None,
        notify: Callable[[], None] | None = None,
    ) -> None:
        self.settings, self.store, self.provider = settings, store, provider
        self.logbus = logbus or LogBus(store)
        self.notify = notify or (lambda: None)
        self.execution = Execution(settings, store, self.logbus, provider)

    async def log(self, app_id: str, run_id: str | None, level: str, event_type: str, message: str) -> None:
        """Append a log line (see `LogBus.log`)."""
        await self.logbus.log(app_id, run_id, level, event_type, message)

    async def _update(self, run_id: str, **values: Any) -> None:
        await self.store.run(runs.update_run, run_id, **values)

    async def get(self, app_id: str, run_id: str) -> dict[str, Any] | None:
        """A run of an app, or `None`."""
        return await self.store.run(runs.get_run, app_id, run_id)

    def _row(self, app: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
        """A new runs row with the lifecycle columns of its app's manifest."""
        return {
            **row,
            **policy_columns(
                apps.app_view(app), row, default_timeout_seconds=self.settings.run_timeout_seconds
            ),
        }

    async def run_sync(
        self,
        app: dict[str, Any],
        agent_id: str,
        run_input: dict[str, Any],
        *,
        target: RequestTarget | None = None,
    ) -> dict[str, Any]:
        """Start a sync run of `agent_id` (or of `target`, a workflow or handler) and wait for its
        end. The run id is `run_input["run_id"]` or new.

        The run goes through the same lifecycle as an async run: it is stored already claimed by
        this node (running, attempt 1, under a lease, in the one transaction that inserts it) when
        it can start, else queued for any node's workers (e.g. when its concurrency limit is
        reached); it is retried as its subagent declares, and reclaimed by another node if this one
        dies. Asking again with the same run id waits for the same run (no second run).

        Returns:
            The finished run row.

        Raises:
            ApiProblem: 409 `run_exists` when the run id belongs to a run of another agent or app.
        """
        run_id = str(run_input.get("run_id") or new_run_id())
        values = self._row(
            app,
            {
                "run_id": run_id,
                "app_id": app["id"],
                "agent_id": agent_id,
                "mode": "sync",
                "status": "queued",
                "input": run_input,
                **_target_fields(target),
            },
        )
        claimed: dict[str, Any] | None = None
        try:
            row, claimed = await self.store.write(
                runs.insert_run_claimed, values, self.lifecycle.claiming_node, self.settings.lease_seconds
            )
            created = True
        except IntegrityError:  # the run id exists: the same run asked again, or another one
            row, created = await runs.insert_run(self.store, values)
        if not created and (row["app_id"] != app["id"] or row["agent_id"] != agent_id):
            raise ApiProblem(409, "run_exists", f"run {run_id!r} already exists; use a new run_id")
        if created:
            done = await self.lifecycle.run_here_or_wait(app, run_id, claimed)
        else:
            done = await self.lifecycle.wait(app["id"], run_id)
        return done or row

    async def cancel(self, app_id: str, run_id: str) -> tuple[str, dict[str, Any] | None]:
        """Cancel a run (see `Lifecycle.cancel`). Returns `(state, run row)`: state `cancelled`,
        `requested`, `finished` or `missing`."""
        outcome = await self.lifecycle.cancel(app_id, run_id)
        return outcome.state, outcome.row

    async def submit(
        self,
        app: dict[str, Any],
        agent_id: str,
        run_input: dict[str, Any],
        *,
        run_id: str | None,
        idempotency_key: str | None,
        callback: dict[str, Any] | None,
        target: RequestTarget | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Queue an async run of `agent_id` (or of `target`, a workflow or handler), idempotent per
        key. Returns `(run row, created)`."""
        row, created = await runs.insert_run(
            self.store,
            self._row(
                app,
                {
                    "run_id": run_id or new_run_id(),
                    "app_id": app["id"],
                    "agent_id": agent_id,
                    "mode": "async",
                    "status": "queued",
                    "input": run_input,
                    "idempotency_key": idempotency_key,
                    "callback": callback,
                    **_target_fields(target),
                },
            ),
        )
        if created:
            await self.log(app["id"], row["run_id"], "info", "run.queued", f"agent {agent_id} queued")
            self.notify()
        return row, created

    async def execute(self, app: dict[str, Any], run: dict[str, Any]) -> RunOutcome:
        """Run one attempt of `run` of `app` with the engine's executor for its kind (see
        `Execution.outcome`); the lifecycle records the outcome."""
        return await self.execution.outcome(app, run)


def _target_fields(target: RequestTarget | None) -> dict[str, Any]:
    """Run columns of a requested workflow or handler (nothing for a plain agent run)."""
    if target is None:
        return {}
    return {"kind": target.kind, "workflow_id": target.workflow_id}
