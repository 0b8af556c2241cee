"""Dispatch: what a request, an event or a schedule firing runs, and the queued runs they become.

One rule for all three: a workflow runs what `ara_core.dispatch` says (mode ``run`` → a command,
``pipeline`` → its steps, ``task`` → its agent), whatever started it. `run_fields` turns that
target into the columns of a run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ara_core import RunTarget, new_run_id

from ..engine import handler_row
from ..errors import ApiProblem
from ..store import Store, apps, events, new_id, now, schedules
from .logbus import LogBus
from .policy import policy_columns

__all__ = ["Dispatcher", "RequestTarget", "resolve_request", "run_fields"]

#: Entries of the event-targets cache at most (emptied when full).
MAX_CACHED_TARGETS = 4096
#: Longer event types are not cached (the cache's memory stays small).
MAX_CACHED_EVENT_TYPE = 200


@dataclass(frozen=True, slots=True)
class RequestTarget:
    """What a run request names.

    Attributes:
        kind: ``agent``, ``pipeline``, ``command`` or ``handler``.
        agent_id: The agent (``""`` for commands and handlers).
        workflow_id: The workflow (or hook or handler) id the run is recorded under.
        task: The workflow's task text (``""`` when none).
    """

    kind: str
    agent_id: str
    workflow_id: str
    task: str = ""


def resolve_request(app: dict[str, Any], requested: str) -> RequestTarget:
    """The run a request for `requested` (an ``agent_id`` or ``workflow_id``) means.

    In order: empty → the default agent; an agent id → that agent; a workflow id → what the
    workflow runs (its agent, its command or its pipeline); a subagent hook id → its command or
    task; a handler id → the handler.

    Raises:
        ApiProblem: 404 `agent_not_found` when it names none of these.
    """
    view = apps.app_view(app)
    if not requested or view.agent(requested) is not None:
        agent_id = view.resolve_agent(requested)
        if agent_id is not None:
            return RequestTarget("agent", agent_id, requested or agent_id)
    elif (target := view.target(requested)) is not None and target.kind != "tool":
        if target.kind != "agent" or view.agent(target.agent_id) is not None:
            return RequestTarget(target.kind, target.agent_id, target.workflow_id, target.task)
    elif handler_row(view, requested) is not None:
        return RequestTarget("handler", "", requested)
    agents = ", ".join(view.agent_ids()) or "none"
    workflows = ", ".join(w.id for w in view.workflows()) or "none"
    raise ApiProblem(
        404,
        "agent_not_found",
        f"agent {requested!r} not found in app {app['slug']!r}; agents: {agents}; workflows: {workflows}",
    )


def run_fields(target: RunTarget, base_input: dict[str, Any]) -> dict[str, Any]:
    """The run columns (``kind``, ``agent_id``, ``workflow_id``, ``input``) for a dispatch target.

    Agent runs get the workflow's ``task`` in their input; a schedule's own input is merged in; a
    tool call carries ``tool_name`` and ``args``.
    """
    fields: dict[str, Any] = {"workflow_id": target.workflow_id, "kind": target.kind}
    data = dict(base_input)
    if target.kind == "tool":
        fields["agent_id"] = target.agent_id
        data = {"tool_name": target.tool_name, "args": dict(target.args), **data}
    elif target.kind == "command":
        fields["agent_id"] = ""
    else:
        fields["agent_id"] = target.agent_id
        if isinstance(target.input, dict):
            data = {**target.input, **data}  # pyright: ignore[reportUnknownMemberType]
        elif target.input is not None:
            data = {"input": target.input, **data}
        if target.kind == "agent" or target.task:
            data = {"task": target.task, **data}
    fields["input"] = data
    return fields


def _event_runs(
    app: dict[str, Any],
    body: dict[str, Any],
    key: str | None,
    event_id: str,
    event_type: str,
    planned: list[tuple[RunTarget, str]],
) -> list[dict[str, Any]]:
    """The runs rows of an event: one per planned `(target, run id)`."""
    view = apps.app_view(app)
    event_input = {
        "event_type": event_type,
        "message": body.get("message") or "",
        "channel": body.get("channel"),
        "source": body.get("source"),
        "payload": body.get("payload") or {},
        "metadata": body.get("metadata") or {},
        "event_id": event_id,
    }
    rows: list[dict[str, Any]] = []
    for target, run_id in planned:
        row = {
            "run_id": run_id,
            "app_id": app["id"],
            "mode": "async",
            "status": "queued",
            "idempotency_key": f"{key or event_id}:{target.workflow_id}",
            **run_fields(target, event_input),
        }
        rows.append({**row, **policy_columns(view, row)})
    return rows


class Dispatcher:
    """Turns events and schedule firings into queued runs.

    Args:
        store: The store.
        logbus: Where event log lines go.
        notify: Called when runs were queued (wakes the workers).
    """

    def __init__(self, store: Store, logbus: LogBus, notify: Callable[[], None] | None = None) -> None:
        self.store, self.logbus = store, logbus
        self.notify = notify or (lambda: None)
        # (app id, deployed version, event type) -> what the event runs
        self._targets: dict[tuple[str, Any, str], tuple[RunTarget, ...]] = {}

    def _event_targets(self, app: dict[str, Any], event_type: str) -> tuple[RunTarget, ...]:
        """What an event of `event_type` runs in this deployed version of the app (cached per
        version: every deploy sets a new `updated_at`)."""
        key = (app["id"], app.get("updated_at"), event_type)
        targets = self._targets.get(key)
        if targets is None:
            targets = apps.app_view(app).event_targets(event_type)
            if len(event_type) <= MAX_CACHED_EVENT_TYPE and key[1] is not None:
                if len(self._targets) >= MAX_CACHED_TARGETS:
                    self._targets.clear()
                self._targets[key] = targets
        return targets

    async def event(
        self, app: dict[str, Any], body: dict[str, Any], key: str | None
    ) -> tuple[dict[str, Any], bool]:
        """Record an event and queue a run for everything its type triggers: every workflow whose
        trigger names the event (any mode: task, run or pipeline), then every subagent hook for it
        that no workflow already covers. Idempotent per `key`.

        Returns:
            `(response, new)`: the event response (the stored one on a replay) and whether it is new.

        Raises:
            ApiProblem: 422 `invalid_event` (no `event_type`); 409 `idempotency_conflict`.
        """
        raw_type = body.get("event_type")
        event_type = raw_type.strip() if isinstance(raw_type, str) else ""
        if not event_type:
            raise ApiProblem(422, "invalid_event", "at `$.event_type`: must be a non-empty string")
        event_id = new_id("evt")
        targets = self._event_targets(app, event_type)
        planned = [(target, new_run_id()) for target in targets]
        response = {
            "ok": True,
            "event_id": event_id,
            "event_type": event_type,
            "accepted_at": now().isoformat(),
            "matched_workflows": [t.workflow_id for t in targets],
            "runs": [rid for _, rid in planned],
        }
        rows = _event_runs(app, body, key, event_id, event_type, planned) if planned else []
        # the event and its runs commit together: a crash keeps both or neither
        stored, outcome = await events.record_event(
            self.store, app["id"], key, body, response, rows, log_message=events.event_log_message(body)
        )
        if outcome == "conflict":
            raise ApiProblem(
                409, "idempotency_conflict", f"idempotency key {key!r} was already used with a different body"
            )
        if outcome != "new":
            return stored, False
        self.logbus.wake()  # the event's log line was stored with it
        if planned:
            self.notify()
        return stored, True

    async def firing(
        self, app: dict[str, Any], schedule_key: str, fire_time: datetime, run: dict[str, Any]
    ) -> str | None:
        """Queue the run of a schedule firing, once across nodes. Returns its run id, or `None` when
        another node already fired it."""
        run_id = new_run_id()
        row = {
            "run_id": run_id,
            "app_id": app["id"],
            "mode": "async",
            "status": "queued",
            "idempotency_key": f"schedule:{schedule_key}:{fire_time.isoformat()}",
            **run,
        }
        row.update(policy_columns(apps.app_view(app), row))
        if not await schedules.record_firing(self.store, app["id"], schedule_key, fire_time, row):
            return None
        return run_id
