"""Dispatch: events and schedule firings become runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ara_core import new_run_id

from ..errors import ApiProblem
from ..store import Store, events, new_id, now, runs, schedules
from .logbus import LogBus

__all__ = ["Dispatcher"]


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

    async def event(
        self, app: dict[str, Any], body: dict[str, Any], key: str | None
    ) -> tuple[dict[str, Any], bool]:
        """Record an event and queue a run for every `task` or `run` workflow whose trigger is this
        event type. Idempotent per `key`.

        Returns:
            `(response, new)`: the event response (the stored one on a replay) and whether it is new.

        Raises:
            ApiProblem: 422 `invalid_event` (no `event_type`); 409 `idempotency_conflict`.
        """
        event_type = str(body.get("event_type") or "").strip()
        if not event_type:
            raise ApiProblem(422, "invalid_event", "at `$.event_type`: must be a non-empty string")
        event_id = new_id("evt")
        manifest = app["manifest"]
        hooks = [
            w
            for w in manifest.get("workflows") or []
            if (w.get("trigger") or {}).get("event") == event_type and w.get("mode") in ("task", "run")
        ]
        default_agent = (manifest.get("agent") or {}).get("default_agent_id") or ""
        planned = [(w, new_run_id()) for w in hooks]
        response = {
            "ok": True,
            "event_id": event_id,
            "event_type": event_type,
            "accepted_at": now().isoformat(),
            "matched_workflows": [w.get("id") for w in hooks],
            "runs": [rid for _, rid in planned],
        }
        stored, outcome = await events.record_event(self.store, app["id"], key, body, response)
        if outcome == "conflict":
            raise ApiProblem(
                409, "idempotency_conflict", f"idempotency key {key!r} was already used with a different body"
            )
        if outcome != "new":
            return stored, False
        await self.logbus.log(
            app["id"], None, "info", "event.received", f"{event_type}: {str(body.get('message') or '')[:200]}"
        )
        event_input = {
            "event_type": event_type,
            "message": body.get("message") or "",
            "channel": body.get("channel"),
            "source": body.get("source"),
            "payload": body.get("payload") or {},
            "metadata": body.get("metadata") or {},
            "event_id": event_id,
        }
        for workflow, run_id in planned:
            command = workflow.get("mode") == "run"
            agent_id = str(workflow.get("agent_id") or default_agent)
            await runs.insert_run(
                self.store,
                {
                    "run_id": run_id,
                    "app_id": app["id"],
                    "agent_id": "" if command else agent_id,
                    "workflow_id": workflow.get("id"),
                    "kind": "command" if command else "agent",
                    "mode": "async",
                    "status": "queued",
                    "idempotency_key": f"{key or event_id}:{workflow.get('id')}",
                    "input": event_input if command else {**event_input, "task": workflow.get("task") or ""},
                },
            )
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
        if not await schedules.record_firing(self.store, app["id"], schedule_key, fire_time, row):
            return None
        return run_id
