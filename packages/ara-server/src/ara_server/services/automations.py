"""Automation jobs: schedules an account creates at run time (`/automations/*`, the session tools
`automation_create/list/update/delete`, `ara runtime automation …`).

A job runs in one of the account's apps (where it is owner or member): `app_agent_call` payloads
(`app_id` — default the account's only app —, `agent_id`, `input`) run that agent with `input`;
`agent_turn` payloads (`message`, optional `agent_id`, `app_id`) run the agent with
`{"message": ...}`. Jobs are fired by the scheduler's tick, once per due time across nodes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from cronsim import CronSim, CronSimError

from ..errors import ApiProblem
from ..store import Store, apps, new_id, now
from ..store import automations as store
from .policy import policy_columns
from .runs import resolve_agent

__all__ = [
    "AutomationRun",
    "AutomationService",
    "Job",
    "JobCreate",
    "JobUpdate",
    "ReplayRequest",
    "due_times",
]

#: Ids of jobs and automation runs as they appear in paths.
ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
#: Channels ara-server can deliver a job's result to (none: results stay on the run).
DELIVERABLE_CHANNELS: frozenset[str] = frozenset()
#: Most due times one job fires in one tick (`fire_all` after a long pause).
MAX_FIRINGS_PER_TICK = 100
#: A due time more than this late is skipped under `skip_if_late`, in seconds.
LATE_SECONDS = 60
PAYLOAD_KINDS = ("app_agent_call", "app_tool_call", "agent_turn")

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Retries = Annotated[int, msgspec.Meta(ge=0, le=100)]
Backoff = Annotated[int, msgspec.Meta(ge=0, le=86_400)]
ExecutionMode = Literal["sandbox_required", "centralized_ok"]
MisfirePolicy = Literal["fire_all", "fire_latest_only", "skip_if_late"]


class JobCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`POST /automations/jobs`.

    Attributes:
        name: 1-200 characters.
        schedule_kind: `every` (with `every_seconds` >= 1) or `cron` (with `schedule_expr`, a
            5-field cron expression in `timezone`).
        every_seconds: Interval in seconds (1 to 31,536,000), or null for cron.
        schedule_expr: The cron expression, or null for every.
        timezone: IANA time zone of a cron expression (default `UTC`).
        payload: What to run: `{"kind": "app_agent_call", "app_id"?, "agent_id"?, "input"?}` or
            `{"kind": "agent_turn", "message", "agent_id"?, "app_id"?}`; `deliver`/`channel` are kept.
        execution_mode: `sandbox_required` (default) or `centralized_ok`; every run is sandboxed.
        misfire_policy: `fire_latest_only` (default), `fire_all` or `skip_if_late`.
        max_retries: Retries of a failed run (0-100, default 3).
        retry_backoff_seconds: Base of the exponential backoff between retries (0-86400, default 30).
    """

    name: Name
    schedule_kind: Literal["every", "cron"]
    every_seconds: Annotated[int, msgspec.Meta(ge=1, le=31_536_000)] | None = None
    schedule_expr: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    timezone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "UTC"
    payload: dict[str, Any]
    execution_mode: ExecutionMode = "sandbox_required"
    misfire_policy: MisfirePolicy = "fire_latest_only"
    max_retries: Retries = 3
    retry_backoff_seconds: Backoff = 30


class JobUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`PATCH /automations/jobs/{id}`: only the keys given change (`payload` replaces the payload)."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    payload: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    max_retries: Retries | msgspec.UnsetType = msgspec.UNSET
    retry_backoff_seconds: Backoff | msgspec.UnsetType = msgspec.UNSET


class ReplayRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`POST /automations/runs/{run_id}/replay`: an empty object (or no body)."""


class Job(msgspec.Struct, kw_only=True):
    """An automation job as the server answers it (times ISO 8601 UTC)."""

    id: str
    name: str
    enabled: bool
    app_id: str
    schedule_kind: str
    every_seconds: int | None
    schedule_expr: str | None
    timezone: str
    payload: dict[str, Any]
    execution_mode: str
    misfire_policy: str
    max_retries: int
    retry_backoff_seconds: int
    delivery: Literal["none", "unsupported"]
    next_run_at: str | None
    created_at: str
    updated_at: str


class AutomationRun(msgspec.Struct, kw_only=True):
    """One firing (or replay) of a job; `state` is queued, running, succeeded, failed, skipped or
    cancelled; `run_id` is the run it started, if any."""

    id: str
    job_id: str
    job_name: str
    state: str
    scheduled_for: str
    started_at: str | None
    finished_at: str | None
    attempt: int
    app_id: str | None
    run_id: str | None
    error: str | None
    replay_of: str | None
    created_at: str


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    return str(value)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def due_times(
    job: dict[str, Any], since: datetime, until: datetime, limit: int = MAX_FIRINGS_PER_TICK
) -> list[datetime]:
    """The due times of a job in (since, until], oldest first, at most the latest `limit`.

    `every` jobs are due at the multiples of `every_seconds` since the Unix epoch; `cron` jobs as
    cronsim says in the job's time zone.
    """
    out: list[datetime] = []
    if job["schedule_kind"] == "every":
        step = int(job.get("every_seconds") or 0)
        if step <= 0:
            return []
        last = (int(until.timestamp()) // step) * step
        first = (int(since.timestamp()) // step + 1) * step
        start = max(first, last - step * (limit - 1))
        out = [datetime.fromtimestamp(s, UTC) for s in range(start, last + 1, step)]
        return [m for m in out if since < m <= until]
    try:
        sim = CronSim(str(job["schedule_expr"]), since.astimezone(ZoneInfo(job["timezone"] or "UTC")))
    except (CronSimError, ValueError, KeyError, ZoneInfoNotFoundError):
        return []
    for moment in sim:
        moment = moment.astimezone(UTC)
        if moment > until:
            break
        if moment > since:
            out.append(moment)
            out = out[-limit:]
    return out


def _next_run(job: dict[str, Any], at: datetime) -> datetime | None:
    if not job["enabled"]:
        return None
    if job["schedule_kind"] == "every":
        step = int(job.get("every_seconds") or 0)
        return datetime.fromtimestamp((int(at.timestamp()) // step + 1) * step, UTC) if step > 0 else None
    try:
        return next(
            iter(CronSim(str(job["schedule_expr"]), at.astimezone(ZoneInfo(job["timezone"]))))
        ).astimezone(UTC)
    except (CronSimError, ValueError, KeyError, StopIteration, ZoneInfoNotFoundError):
        return None


def public_job(job: dict[str, Any]) -> Job:
    """The wire shape of a job row."""
    payload = dict(job["payload"])
    channel = payload.get("channel")
    delivery: Literal["none", "unsupported"] = (
        "unsupported" if payload.get("deliver") and channel not in DELIVERABLE_CHANNELS else "none"
    )
    return Job(
        id=job["id"],
        name=job["name"],
        enabled=bool(job["enabled"]),
        app_id=job["app_id"],
        schedule_kind=job["schedule_kind"],
        every_seconds=job["every_seconds"],
        schedule_expr=job["schedule_expr"],
        timezone=job["timezone"],
        payload=payload,
        execution_mode=job["execution_mode"],
        misfire_policy=job["misfire_policy"],
        max_retries=int(job["max_retries"]),
        retry_backoff_seconds=int(job["retry_backoff_seconds"]),
        delivery=delivery,
        next_run_at=_iso(_next_run(job, now())),
        created_at=_iso(job["created_at"]) or "",
        updated_at=_iso(job["updated_at"]) or "",
    )


def public_automation_run(row: dict[str, Any]) -> AutomationRun:
    """The wire shape of an automation run (as `store.automations` lists it)."""
    return AutomationRun(
        id=row["id"],
        job_id=row["job_id"],
        job_name=row["job_name"],
        state=row["state"],
        scheduled_for=_iso(row["scheduled_for"]) or "",
        started_at=_iso(row["started_at"]),
        finished_at=_iso(row["finished_at"]),
        attempt=int(row["attempt"]),
        app_id=row["app_id"],
        run_id=row["run_id"],
        error=row["error"],
        replay_of=row["replay_of"],
        created_at=_iso(row["created_at"]) or "",
    )


def _invalid(path: str, message: str) -> ApiProblem:
    return ApiProblem(422, "invalid_body", f"at `{path}`: {message}")


class AutomationService:
    """Automation jobs of accounts, and their firings.

    Args:
        store: The store.
        default_timeout_seconds: Run timeout when the agent's policy sets none, in seconds.
        notify: Called when a replay queued a run (wakes the workers).
    """

    def __init__(
        self,
        store: Store,
        *,
        default_timeout_seconds: float = 600.0,
        notify: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.notify = notify or (lambda: None)
        self.default_timeout_seconds = default_timeout_seconds
        self._since: datetime | None = None

    # ------------------------------------------------------------------------------ checking
    async def _writable_apps(self, account_id: str) -> list[dict[str, Any]]:
        rows = await self.store.run(apps.list_apps, account_id)
        return [a for a in rows if a.get("role") in ("owner", "member")]

    async def _target(self, account_id: str, payload: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The app and agent a payload runs (422 naming the payload key otherwise)."""
        kind = payload.get("kind", "agent_turn" if "message" in payload else None)
        if kind not in PAYLOAD_KINDS:
            raise _invalid("$.payload.kind", f"must be one of {', '.join(PAYLOAD_KINDS)} (got {kind!r})")
        if kind == "agent_turn" and not isinstance(payload.get("message"), str):
            raise _invalid("$.payload.message", "an agent_turn payload needs a message string")
        if kind == "app_agent_call" and not isinstance(payload.get("input", {}), dict):
            raise _invalid("$.payload.input", "must be a JSON object")
        if kind == "app_tool_call":
            if not isinstance(payload.get("tool_name"), str) or not payload["tool_name"]:
                raise _invalid("$.payload.tool_name", "an app_tool_call payload needs a tool_name")
            if not isinstance(payload.get("args", {}), dict):
                raise _invalid("$.payload.args", "must be a JSON object")
        app_id, agent_id = payload.get("app_id"), payload.get("agent_id")
        if app_id is not None and not isinstance(app_id, str):
            raise _invalid("$.payload.app_id", "must be a string")
        if agent_id is not None and not isinstance(agent_id, str):
            raise _invalid("$.payload.agent_id", "must be a string")
        writable = await self._writable_apps(account_id)
        if app_id:
            app = next((a for a in writable if a["id"] == app_id or a["slug"] == app_id), None)
            if app is None:
                raise _invalid("$.payload.app_id", f"no app {app_id!r} where you are owner or member")
        elif len(writable) == 1:
            app = writable[0]
        else:
            raise _invalid(
                "$.payload.app_id",
                f"name the app to run in (you are owner or member of {len(writable)} apps)",
            )
        if kind == "app_tool_call":
            tool = str(payload["tool_name"])
            if apps.app_view(app).tool(tool) is None:
                raise _invalid("$.payload.tool_name", f"app {app['slug']!r} has no tool {tool!r}")
            return app, ""
        try:
            agent = resolve_agent(app, agent_id or "")
        except ApiProblem as exc:
            raise _invalid("$.payload.agent_id", exc.message) from None
        return app, agent

    @staticmethod
    def _check_schedule(body: JobCreate) -> None:
        if body.schedule_kind == "every":
            if body.every_seconds is None:
                raise _invalid("$.every_seconds", "an every job needs every_seconds >= 1")
            return
        if body.schedule_expr is None:
            raise _invalid("$.schedule_expr", "a cron job needs a cron expression")
        try:
            zone = ZoneInfo(body.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise _invalid("$.timezone", f"unknown time zone {body.timezone!r}") from None
        try:
            CronSim(body.schedule_expr, datetime.now(zone))
        except (CronSimError, ValueError) as exc:
            raise _invalid("$.schedule_expr", f"not a valid cron expression: {exc}") from None

    # ------------------------------------------------------------------------------ jobs
    async def create(self, account_id: str, body: JobCreate) -> Job:
        """Create a job (enabled). Raises `ApiProblem` 422 naming the JSON path."""
        self._check_schedule(body)
        app, _ = await self._target(account_id, body.payload)
        at = now()
        row = {
            "id": new_id("job"),
            "account_id": account_id,
            "app_id": app["id"],
            "name": body.name,
            "enabled": True,
            "schedule_kind": body.schedule_kind,
            "every_seconds": body.every_seconds if body.schedule_kind == "every" else None,
            "schedule_expr": body.schedule_expr if body.schedule_kind == "cron" else None,
            "timezone": body.timezone,
            "payload": body.payload,
            "execution_mode": body.execution_mode,
            "misfire_policy": body.misfire_policy,
            "max_retries": body.max_retries,
            "retry_backoff_seconds": body.retry_backoff_seconds,
            "created_at": at,
            "updated_at": at,
        }
        async with self.store.begin() as conn:
            await store.insert_job(conn, row)
        return public_job(row)

    async def list_jobs(self, account_id: str) -> list[Job]:
        """The account's jobs, oldest first."""
        return [public_job(j) for j in await self.store.run(store.list_jobs, account_id)]

    def _missing(self, job_id: str) -> ApiProblem:
        return ApiProblem(404, "not_found", f"automation job {job_id!r} not found")

    async def update(self, account_id: str, job_id: str, body: JobUpdate) -> Job:
        """Change a job. Raises `ApiProblem` 404 (unknown or another account's), 422."""
        if not ID.match(job_id) or await self.store.run(store.get_job, account_id, job_id) is None:
            raise self._missing(job_id)
        values: dict[str, Any] = {
            f: getattr(body, f) for f in body.__struct_fields__ if getattr(body, f) is not msgspec.UNSET
        }
        if not values:
            raise _invalid(
                "$", "give at least one of name, enabled, payload, max_retries, retry_backoff_seconds"
            )
        if "payload" in values:
            app, _ = await self._target(account_id, values["payload"])
            values["app_id"] = app["id"]
        values["updated_at"] = now()
        row = await self.store.run(store.update_job, account_id, job_id, values)
        if row is None:
            raise self._missing(job_id)
        return public_job(row)

    async def delete(self, account_id: str, job_id: str) -> None:
        """Delete a job (its runs stay listed). Raises `ApiProblem` 404."""
        if not ID.match(job_id) or not await self.store.run(store.delete_job, account_id, job_id):
            raise self._missing(job_id)

    async def runs(self, account_id: str, state: str | None = None) -> list[AutomationRun]:
        """The account's automation runs, newest first (at most 100). Raises 422 for an unknown state."""
        if state is not None and state not in store.RUN_STATES:
            raise ApiProblem(
                422, "invalid_query", f"at `state`: must be one of {', '.join(store.RUN_STATES)}"
            )
        rows = await self.store.run(store.list_automation_runs, account_id, state)
        return [public_automation_run(r) for r in rows]

    async def replay(self, account_id: str, run_id: str) -> AutomationRun:
        """Run an automation run's job again, now, with its current payload.

        Raises:
            ApiProblem: 404 (unknown run); 409 `job_deleted`.
        """
        original = (
            await self.store.run(store.automation_run, account_id, run_id) if ID.match(run_id) else None
        )
        if original is None:
            raise ApiProblem(404, "not_found", f"automation run {run_id!r} not found")
        job = await self.store.run(store.get_job, account_id, original["job_id"])
        if job is None:
            raise ApiProblem(409, "job_deleted", f"the job of automation run {run_id!r} was deleted")
        fired = await self._fire(job, now(), replay_of=run_id)
        if fired is None:  # pragma: no cover - replays have no firing key, so never collide
            raise ApiProblem(409, "conflict", "replay collided with another firing; retry")
        self.notify()
        got = await self.store.run(store.automation_run, account_id, fired[0])
        assert got is not None
        return public_automation_run(got)

    # ------------------------------------------------------------------------------ firing
    async def _fire(
        self, job: dict[str, Any], moment: datetime, *, replay_of: str | None = None, skip: bool = False
    ) -> tuple[str, str | None] | None:
        """Record one firing of `job` at `moment` and queue its run. Returns `(automation run id,
        run id or None)`, or `None` when this due time was already fired (by this or another node)."""
        arun: dict[str, Any] = {
            "id": new_id("arun"),
            "account_id": job["account_id"],
            "job_id": job["id"],
            "job_name": job["name"],
            "firing_key": None if replay_of else f"{job['id']}:{moment.isoformat()}",
            "state": "queued",
            "scheduled_for": moment,
            "app_id": job["app_id"],
            "run_id": None,
            "error": None,
            "replay_of": replay_of,
            "created_at": now(),
        }
        run: dict[str, Any] | None = None
        if skip:
            arun["state"], arun["error"] = (
                "skipped",
                f"more than {LATE_SECONDS} s late (misfire_policy skip_if_late)",
            )
        else:
            try:
                app, agent_id = await self._target(job["account_id"], dict(job["payload"]))
            except ApiProblem as exc:
                arun["state"], arun["error"] = "failed", exc.message
            else:
                payload = dict(job["payload"])
                kind = payload.get("kind", "agent_turn" if "message" in payload else None)
                if kind == "agent_turn":
                    run_input: dict[str, Any] = {"message": payload.get("message", "")}
                elif kind == "app_tool_call":
                    run_input = {"tool_name": payload["tool_name"], "args": dict(payload.get("args") or {})}
                else:
                    run_input = dict(payload.get("input") or {})
                run_input["automation"] = {
                    "job_id": job["id"],
                    "automation_run_id": arun["id"],
                    "scheduled_for": moment.isoformat(),
                    "max_retries": int(job["max_retries"]),
                    "retry_backoff_seconds": int(job["retry_backoff_seconds"]),
                }
                run = {
                    "run_id": new_id("run"),
                    "app_id": app["id"],
                    "agent_id": agent_id,
                    "workflow_id": agent_id or f"automation-{job['id']}",
                    "kind": "tool" if kind == "app_tool_call" else "agent",
                    "mode": "async",
                    "status": "queued",
                    "input": run_input,
                    "idempotency_key": f"automation:{arun['id']}",
                }
                run.update(
                    policy_columns(
                        apps.app_view(app), run, default_timeout_seconds=self.default_timeout_seconds
                    )
                )
                run["max_attempts"] = 1 + int(job["max_retries"])
                arun["run_id"] = run["run_id"]
        if not await store.record_job_firing(self.store, arun, run):
            return None
        return str(arun["id"]), (str(run["run_id"]) if run is not None else None)

    async def tick(self, current: datetime | None = None, *, catch_up_seconds: float = 60.0) -> list[str]:
        """Fire every enabled job due since the last tick (on the first, since `catch_up_seconds`
        ago, but never before the job was created). Returns the ids of the runs queued."""
        until = _utc(current or now())
        since = self._since or until - timedelta(seconds=catch_up_seconds)
        fired: list[str] = []
        for job in await self.store.run(store.enabled_jobs):
            if job.get("app_status") != "active":
                continue
            start = max(since, _utc(job["created_at"]))
            times = due_times(job, start, until)
            if not times:
                continue
            policy = job["misfire_policy"]
            chosen = times if policy == "fire_all" else times[-1:]
            for moment in chosen:
                late = (until - moment).total_seconds() > LATE_SECONDS
                got = await self._fire(job, moment, skip=policy == "skip_if_late" and late)
                if got is not None and got[1] is not None:
                    fired.append(got[1])
        self._since = until
        return fired

    # ------------------------------------------------------------------------------ session tools
    async def _create_from_schedule(self, account_id: str, args: dict[str, Any]) -> dict[str, Any]:
        """`automation_create` with a `scheduler.create` payload; `upsert: true` replaces the
        account's job of the same name (its runs stay listed)."""
        known = {"name", "schedule_kind", "every_seconds", "schedule_expr", "timezone", "execution_kind"}
        known |= {"agent_id", "input", "tool_name", "tool_args", "app_id", "upsert"}
        unknown = sorted(set(args) - known)
        if unknown:
            raise _invalid(f"$.args.{unknown[0]}", "unknown field")
        if args["execution_kind"] not in ("app_agent_call", "app_tool_call"):
            raise _invalid("$.args.execution_kind", "must be app_agent_call or app_tool_call")
        body = _convert(_schedule_job(args), JobCreate)
        replaced: list[str] = []
        if args.get("upsert") is True:
            for old in await self.store.run(store.list_jobs, account_id):
                if old["name"] == body.name:
                    await self.delete(account_id, old["id"])
                    replaced.append(old["id"])
        job = msgspec.to_builtins(await self.create(account_id, body))
        return {"job": job, "replaced": replaced} if args.get("upsert") is True else {"job": job}

    async def tool(self, account_id: str, name: str, args: dict[str, Any]) -> Any:
        """The session tools `automation_create` (the `POST /automations/jobs` body),
        `automation_list`, `automation_update` (`id` plus the PATCH body) and `automation_delete`
        (`id`). Raises `ApiProblem` as the routes do."""
        if name == "automation_list":
            return {"jobs": [msgspec.to_builtins(j) for j in await self.list_jobs(account_id)]}
        if name == "automation_create":
            if "execution_kind" in args:  # the shape `ara_sdk.scheduler.create(...)` builds
                return await self._create_from_schedule(account_id, args)
            body = _convert(args, JobCreate)
            return {"job": msgspec.to_builtins(await self.create(account_id, body))}
        job_id = args.get("id") or args.get("job_id")
        if not isinstance(job_id, str):
            raise _invalid("$.args.id", "the job id is required")
        if name == "automation_update":
            rest = {k: v for k, v in args.items() if k not in ("id", "job_id")}
            job = await self.update(account_id, job_id, _convert(rest, JobUpdate))
            return {"job": msgspec.to_builtins(job)}
        await self.delete(account_id, job_id)
        return {"ok": True, "id": job_id, "deleted": True}


def _schedule_job(args: dict[str, Any]) -> dict[str, Any]:
    """The `POST /automations/jobs` body of a `scheduler.create` payload: `name`, `schedule_kind`,
    `schedule_expr` + `timezone` or `every_seconds`, `execution_kind` (`app_agent_call` with
    `agent_id`/`input`, or `app_tool_call` with `tool_name`/`tool_args`), optional `app_id`."""
    kind = args.get("execution_kind")
    payload: dict[str, Any] = {"kind": kind}
    if kind == "app_agent_call":
        payload["agent_id"] = args.get("agent_id")
        if args.get("input") is not None:
            payload["input"] = args["input"]
    elif kind == "app_tool_call":
        payload["tool_name"] = args.get("tool_name")
        payload["args"] = args.get("tool_args") or {}
    if args.get("app_id"):
        payload["app_id"] = args["app_id"]
    body = {
        k: args[k]
        for k in ("name", "schedule_kind", "every_seconds", "schedule_expr", "timezone")
        if k in args
    }
    return {**body, "payload": payload}


def _convert(data: Any, into: type[Any]) -> Any:
    try:
        return msgspec.convert(data, into, strict=True)
    except msgspec.ValidationError as exc:
        text = str(exc)
        if " - at `" in text:
            message, _, path = text.rpartition(" - at `")
            text = f"at `{path.rstrip('`')}`: {message}"
        raise ApiProblem(422, "invalid_body", text) from None
