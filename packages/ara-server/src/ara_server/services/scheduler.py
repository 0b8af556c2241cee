"""The scheduler: fires cron (with time zones and DST), one-shot and every-N-seconds schedules of
active apps as async runs. Each firing is recorded once per (app, schedule, fire time), so several
nodes sharing a database never double-fire."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from ara_core import ScheduleSpec
from cronsim import CronSim, CronSimError

from ..store import Store, apps
from .automations import AutomationService
from .dispatch import Dispatcher, run_fields
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


def _due_time(spec: ScheduleSpec, since: datetime, now: datetime) -> datetime | None:
    """The latest fire time of `spec` in (since, now], or None.

    Later misses are skipped (fire latest only).
    """
    if spec.kind == "at":
        return spec.at if spec.at is not None and since < spec.at <= now else None
    if spec.kind == "every":
        step = spec.every_seconds or 0
        if step <= 0:
            return None
        moment = datetime.fromtimestamp((int(now.timestamp()) // step) * step, UTC)
        return moment if since < moment <= now else None
    return _latest_cron(spec.expr, spec.timezone, since, now) if spec.expr else None


def due_firings(app: dict[str, Any], since: datetime, now: datetime) -> list[DueFiring]:
    """The schedules of `app` due in (since, now], each at its latest due time.

    The schedules and what each runs come from the app's manifest view (`ManifestView.schedules`),
    mapped to runs by the same rule as events and requests (`run_fields`).
    """
    out: list[DueFiring] = []
    for spec in apps.app_view(app).schedules():
        moment = _due_time(spec, since, now)
        if moment is None:
            continue
        run = run_fields(
            spec.target, {"scheduled": True, "schedule_key": spec.key, "fire_time": moment.isoformat()}
        )
        out.append(DueFiring(spec.key, moment, run))
    return out


class Scheduler:
    """Fires due schedules for one node; call `tick()` periodically (`run_forever` does).

    Args:
        store: The store (shared by every node).
        dispatcher: Queues the runs of firings (default: a new one on `store`).
        catch_up_seconds: On the first tick, how far back due schedules still fire.
        automations: Fires the accounts' automation jobs on each tick (default: none).
    """

    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher | None = None,
        *,
        catch_up_seconds: float = CATCH_UP_SECONDS,
        automations: AutomationService | None = None,
    ) -> None:
        self.store = store
        self.automations = automations
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
        if self.automations is not None:
            queued += await self.automations.tick(current, catch_up_seconds=self.catch_up.total_seconds())
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
