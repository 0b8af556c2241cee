"""The scheduler: fires cron (with time zones and DST), one-shot and every-N-seconds schedules of
active apps as async runs. Each firing is recorded once per (app, schedule, fire time), so several
nodes sharing a database never double-fire."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from cronsim import CronSim, CronSimError

from ..store import Store, apps
from .dispatch import Dispatcher
from .logbus import LogBus

__all__ = ["DueFiring", "Scheduler", "due_firings"]

log = structlog.get_logger("ara_server.scheduler")

#: On start, schedules due within this many seconds before now still fire (then only the latest).
CATCH_UP_SECONDS = 60


@dataclass(frozen=True, slots=True)
class DueFiring:
    """A schedule that is due: its key, the fire time, and the run to queue (without `run_id`)."""

    key: str
    fire_time: datetime
    run: dict[str, Any]


def _latest_cron(expr: str, tz: str, since: datetime, now: datetime) -> datetime | None:
    try:
        sim = CronSim(expr, since.astimezone(ZoneInfo(tz or "UTC")))
    except (CronSimError, ValueError, KeyError):
        return None
    latest = None
    for moment in sim:
        if moment.astimezone(UTC) > now:
            break
        latest = moment.astimezone(UTC)
    return latest


def _due_time(spec: dict[str, Any], since: datetime, now: datetime) -> datetime | None:
    """The latest fire time of `spec` in (since, now], or None. Later misses are skipped (fire latest only)."""
    if spec.get("one_shot_at"):
        try:
            at = datetime.fromisoformat(str(spec["one_shot_at"]).replace("Z", "+00:00"))
        except ValueError:
            return None
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        return at if since < at <= now else None
    if spec.get("every_seconds"):
        step = int(spec["every_seconds"])
        if step <= 0:
            return None
        moment = datetime.fromtimestamp((int(now.timestamp()) // step) * step, UTC)
        return moment if since < moment <= now else None
    expr = str(spec.get("cron") or spec.get("schedule") or "").strip()
    return _latest_cron(expr, str(spec.get("timezone") or "UTC"), since, now) if expr else None


def _schedules(app: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any], dict[str, Any]]]:
    """`(key, timing spec, run)` for every schedule of an app's manifest."""
    manifest = app["manifest"]
    default_agent = str((manifest.get("agent") or {}).get("default_agent_id") or "")
    for wf in manifest.get("workflows") or []:
        trigger = wf.get("trigger") or {}
        expr = str(trigger.get("cron") or trigger.get("schedule") or wf.get("schedule") or "").strip()
        if not expr:
            continue
        spec = {
            "cron": expr,
            "timezone": trigger.get("timezone") or "UTC",
            "one_shot_at": trigger.get("one_shot_at"),
        }
        mode = wf.get("mode") or "task"
        base = {"workflow_id": wf.get("id"), "input": {"task": wf.get("task") or "", "scheduled": True}}
        if mode == "run":
            run = {**base, "kind": "command", "agent_id": ""}
        elif mode == "pipeline":
            run = {**base, "kind": "pipeline", "agent_id": str(wf.get("agent_id") or default_agent)}
        else:
            run = {**base, "kind": "agent", "agent_id": str(wf.get("agent_id") or default_agent)}
        yield f"workflow:{wf.get('id')}", spec, run
    for agent in (manifest.get("agent") or {}).get("agents") or []:
        for sched in agent.get("schedules") or []:
            if sched.get("kind") != "every":
                continue
            target = sched.get("run") or {}
            spec = {"every_seconds": sched.get("every_seconds")}
            if target.get("type") == "tool":
                run = {
                    "kind": "tool",
                    "agent_id": str(agent.get("id")),
                    "workflow_id": sched.get("id"),
                    "input": {
                        "tool_name": target.get("tool_name"),
                        "args": target.get("args") or {},
                        "scheduled": True,
                    },
                }
            else:
                run = {
                    "kind": "agent",
                    "agent_id": str(target.get("agent_id") or agent.get("id")),
                    "workflow_id": sched.get("id"),
                    "input": {**(target.get("input") or {}), "scheduled": True},
                }
            yield f"every:{agent.get('id')}:{sched.get('id')}", spec, run


def due_firings(app: dict[str, Any], since: datetime, now: datetime) -> list[DueFiring]:
    """The schedules of `app` due in (since, now], each at its latest due time."""
    out = []
    for key, spec, run in _schedules(app):
        moment = _due_time(spec, since, now)
        if moment is not None:
            run = {**run, "input": {**run["input"], "schedule_key": key, "fire_time": moment.isoformat()}}
            out.append(DueFiring(key, moment, run))
    return out


class Scheduler:
    """Fires due schedules for one node; call `tick()` periodically (`run_forever` does).

    Args:
        store: The store (shared by every node).
        dispatcher: Queues the runs of firings (default: a new one on `store`).
        catch_up_seconds: On the first tick, how far back due schedules still fire.
    """

    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher | None = None,
        *,
        catch_up_seconds: float = CATCH_UP_SECONDS,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher or Dispatcher(store, LogBus(store))
        self.catch_up = timedelta(seconds=catch_up_seconds)
        self._since: datetime | None = None

    async def tick(self, now: datetime | None = None) -> list[str]:
        """Queue a run for every schedule due since the last tick. Returns the queued run ids."""
        current = (now or datetime.now(UTC)).astimezone(UTC)
        since = self._since or current - self.catch_up
        queued: list[str] = []
        for app in await self.store.run(apps.active_apps):
            for firing in due_firings(app, since, current):
                run_id = await self.dispatcher.firing(app, firing.key, firing.fire_time, firing.run)
                if run_id is not None:
                    queued.append(run_id)
                    log.info(
                        "schedule fired",
                        app=app["slug"],
                        schedule=firing.key,
                        fire_time=firing.fire_time.isoformat(),
                    )
        self._since = current
        return queued

    async def run_forever(self, interval_seconds: float) -> None:
        """Tick every `interval_seconds` until cancelled; wakes the workers when runs were queued."""
        while True:
            try:
                if await self.tick():
                    self.dispatcher.notify()
            except Exception:  # a bad manifest or a database hiccup must not stop the scheduler
                log.exception("scheduler tick failed")
            await asyncio.sleep(interval_seconds)
