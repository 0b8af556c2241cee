"""Schedules: `invoke`, `schedule`, `scheduler`, the normalisers, strict cron
validation with cronsim, and the next fire times of any schedule.

cronsim and zoneinfo are imported by the functions that use them: most manifests have no schedule,
and importing both would add about 10 ms to every `import ara_core`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from ._ids import slugify
from .errors import DeclarationError

__all__ = [
    "invoke",
    "next_fire_times",
    "normalize_schedule_run",
    "normalize_schedule_spec",
    "schedule",
    "scheduler",
    "validate_cron",
    "validate_timezone",
]

MIN_EVERY_SECONDS = 60


def validate_cron(expr: str, *, where: str = "schedule") -> str:
    """Check a 5-field cron expression strictly (cronsim); return it stripped.

    Raises:
        DeclarationError: Not 5 fields or not valid cron, e.g. `0 25 * * *`.
    """
    text = " ".join(str(expr or "").split())
    if len(text.split(" ")) != 5:
        raise DeclarationError(
            f"{where}: invalid cron expression {text!r}: "
            "expected 5 fields (minute hour day month weekday), e.g. '0 9 * * 1-5'"
        )
    from cronsim import CronSim, CronSimError

    try:
        CronSim(text, datetime(2000, 1, 1))
    except CronSimError as exc:
        raise DeclarationError(f"{where}: invalid cron expression {text!r}: {exc}") from None
    return text


def validate_timezone(name: str, *, where: str = "schedule") -> str:
    """Check an IANA time zone name (e.g. `Europe/London`); return it.

    Raises:
        DeclarationError: Unknown zone.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    tz = str(name or "UTC").strip() or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise DeclarationError(
            f"{where}: unknown time zone {tz!r}; use an IANA name such as 'UTC' or 'Europe/London'"
        ) from None
    return tz


def _iso_utc(value: Any, where: str) -> str:
    text = str(value or "").strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise DeclarationError(f"{where}: one_shot_at must be an ISO-8601 date-time, got {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Invoke:
    """Run targets for schedules."""

    @staticmethod
    def agent(agent_id: str, *, input: Any = None) -> dict[str, Any]:
        """`{"type": "agent", "agent_id"}` plus `input` when not `None` (JSON-serialisable).

        Raises:
            DeclarationError: Empty id, or an input that is not JSON-serialisable.
        """
        aid = str(agent_id or "").strip()
        if not aid:
            raise DeclarationError("invoke.agent(...) requires non-empty agent id")
        out: dict[str, Any] = {"type": "agent", "agent_id": aid}
        if input is not None:
            try:
                json.dumps(input)
            except (TypeError, ValueError):
                raise DeclarationError("invoke.agent(..., input=...) must be JSON-serializable") from None
            out["input"] = input
        return out

    @staticmethod
    def tool(tool_name: str, *, args: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """`{"type": "tool", "tool_name", "args"}`.

        Raises:
            DeclarationError: Empty name or non-JSON args.
        """
        name = str(tool_name or "").strip()
        if not name:
            raise DeclarationError("invoke.tool(...) requires non-empty tool name")
        values = dict(args or {})
        try:
            json.dumps(values)
        except (TypeError, ValueError):
            raise DeclarationError("invoke.tool(..., args=...) must be JSON-serializable") from None
        return {"type": "tool", "tool_name": name, "args": values}


invoke = _Invoke()


def normalize_schedule_run(run: Any) -> dict[str, Any]:
    """Normalise a schedule's `run` target.

    Raises:
        DeclarationError: Not a dict, an agent run without `agent_id`, or an unknown type.
    """
    if not isinstance(run, Mapping):
        raise DeclarationError("schedule run must be a dict built by invoke.agent(...) or invoke.tool(...)")
    run = cast("Mapping[str, Any]", run)
    kind = str(run.get("type") or "").strip()
    if kind == "agent":
        return invoke.agent(str(run.get("agent_id") or ""), input=run.get("input"))
    if kind == "tool":
        args: object = run.get("args")
        return invoke.tool(
            str(run.get("tool_name") or run.get("tool") or ""),
            args=cast("Mapping[str, Any]", args) if isinstance(args, Mapping) else {},
        )
    raise DeclarationError("schedule run type must be 'agent' or 'tool'")


def normalize_schedule_spec(spec: Any) -> dict[str, Any]:
    """Normalise a schedule spec: `{"id", "kind": "cron"|"every", ...}`.

    Cron specs need `cron` (or `expr`), get `timezone` (default UTC) and optional `one_shot_at`
    (normalised to `YYYY-MM-DDTHH:MM:SSZ`); every specs need `every_seconds` (or `seconds`) >= 60.
    Beyond the original, cron expressions and time zones are validated.

    Raises:
        DeclarationError: Any rule above broken; the message names the field.
    """
    if not isinstance(spec, Mapping):
        raise DeclarationError("schedule spec must be a dict")
    spec = cast("Mapping[str, Any]", spec)
    sid = str(spec.get("id") or "").strip()
    if not sid:
        raise DeclarationError("schedule id is required")
    kind = str(spec.get("kind") or "").strip()
    where = f"schedule {sid!r}"
    if kind == "cron":
        expr = validate_cron(str(spec.get("cron") or spec.get("expr") or ""), where=where)
        out: dict[str, Any] = {
            "id": sid,
            "kind": "cron",
            "cron": expr,
            "timezone": validate_timezone(str(spec.get("timezone") or "UTC"), where=where),
        }
        one_shot = _iso_utc(spec["one_shot_at"], where) if spec.get("one_shot_at") else None
    elif kind == "every":
        raw = spec.get("every_seconds", spec.get("seconds"))
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise DeclarationError(f"{where}: every schedule needs an integer every_seconds")
        if raw < MIN_EVERY_SECONDS:
            raise DeclarationError("every schedule minimum interval is 60 seconds")
        out = {"id": sid, "kind": "every", "every_seconds": raw}
        one_shot = None
    else:
        raise DeclarationError(f"{where}: schedule kind must be 'cron' or 'every'")
    out["run"] = normalize_schedule_run(spec.get("run"))
    if one_shot is not None:  # after `run`, as the original SDK orders it
        out["one_shot_at"] = one_shot
    return out


def _target(run: Mapping[str, Any]) -> str:
    return str(
        run.get("agent_id")
        or run.get("tool_name")
        or {"agent": "agent", "tool": "tool"}.get(str(run.get("type")), "run")
    )


class _Schedule:
    """Schedule spec builders."""

    @staticmethod
    def cron(
        *, expr: str, run: Mapping[str, Any], id: str | None = None, timezone: str = "UTC"
    ) -> dict[str, Any]:
        """A cron schedule; id defaults to `<target>-<slugify(expr)[:24] or "cron">`."""
        sid = id or f"{_target(run)}-{slugify(expr)[:24] or 'cron'}"
        return normalize_schedule_spec(
            {"id": sid, "kind": "cron", "cron": expr, "timezone": timezone, "run": run}
        )

    @staticmethod
    def every(*, seconds: int, run: Mapping[str, Any], id: str | None = None) -> dict[str, Any]:
        """An every-N-seconds schedule; id defaults to `<target>-every-<seconds>s`."""
        sid = id or f"{_target(run)}-every-{seconds}s"
        return normalize_schedule_spec({"id": sid, "kind": "every", "every_seconds": seconds, "run": run})


schedule = _Schedule()


class _Scheduler:
    """`automation_create` payloads from schedule specs."""

    @staticmethod
    def create(spec: Mapping[str, Any], *, app_id: str | None = None) -> dict[str, Any]:
        """`{"tool": "automation_create", "args": {...}}` for a schedule spec."""
        s = normalize_schedule_spec(spec)
        args: dict[str, Any] = {"name": s["id"], "schedule_kind": s["kind"]}
        if s["kind"] == "cron":
            args["schedule_expr"] = s["cron"]
            args["timezone"] = s["timezone"]
        else:
            args["every_seconds"] = s["every_seconds"]
        run = s["run"]
        if run["type"] == "agent":
            args["execution_kind"] = "app_agent_call"
            args["agent_id"] = run["agent_id"]
            if run.get("input") is not None:
                args["input"] = run["input"]
        else:
            args["execution_kind"] = "app_tool_call"
            args["tool_name"] = run["tool_name"]
            if run.get("args"):
                args["tool_args"] = run["args"]
        if app_id and str(app_id).strip():
            args["app_id"] = str(app_id).strip()
        return {"tool": "automation_create", "args": args}

    @staticmethod
    def upsert(spec: Mapping[str, Any], *, app_id: str | None = None) -> dict[str, Any]:
        """As `create`, plus `"upsert": true`."""
        out = _Scheduler.create(spec, app_id=app_id)
        out["args"]["upsert"] = True
        return out


scheduler = _Scheduler()


def next_fire_times(spec: Mapping[str, Any], *, after: datetime, count: int = 5) -> list[datetime]:
    """The next `count` fire times of a schedule after `after`, as aware UTC datetimes.

    Cron schedules are computed in their time zone (DST transitions included) by cronsim; a cron
    schedule with `one_shot_at` fires once at that instant; `every` schedules fire every
    `every_seconds` from `after`.

    Args:
        spec: A schedule spec (normalised or not) or a trigger dict with `cron`/`schedule`.
        after: Start point; naive datetimes are taken as UTC.
        count: How many times to list.

    Returns:
        Up to `count` datetimes in UTC, ascending.
    """
    start = after if after.tzinfo else after.replace(tzinfo=UTC)
    if spec.get("one_shot_at"):
        at = datetime.fromisoformat(str(spec["one_shot_at"]).replace("Z", "+00:00"))
        return [at.astimezone(UTC)] if at > start and count > 0 else []
    if spec.get("kind") == "every" or spec.get("every_seconds"):
        step = timedelta(seconds=int(spec.get("every_seconds") or spec.get("seconds") or 0))
        return [(start + step * (i + 1)).astimezone(UTC) for i in range(count)]
    from zoneinfo import ZoneInfo

    from cronsim import CronSim

    expr = validate_cron(str(spec.get("cron") or spec.get("schedule") or spec.get("expr") or ""))
    zone = ZoneInfo(validate_timezone(str(spec.get("timezone") or "UTC")))
    sim = CronSim(expr, start.astimezone(zone))
    return [next(sim).astimezone(UTC) for _ in range(count)]
