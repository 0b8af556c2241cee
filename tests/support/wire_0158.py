"""Typed shapes of the request bodies the original ara-sdk 0.1.58 CLI sends for automation jobs,
session files and the session terminal (see docs/wire-automations-sessions.md).

They mirror exactly what was recorded in tests/fixtures/original_0158_calls.json, with unknown
fields forbidden, so that a test can prove every recorded body decodes. The server's own types
(with its validation) live in the packages; these are the reference they must accept.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

ScheduleKind = Literal["every", "cron"]
ExecutionMode = Literal["sandbox_required", "centralized_ok"]
MisfirePolicy = Literal["fire_all", "fire_latest_only", "skip_if_late"]


class JobCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`POST /automations/jobs`. The CLI always sends every key."""

    name: str
    schedule_kind: ScheduleKind
    every_seconds: int | None
    schedule_expr: str | None
    timezone: str = "UTC"
    payload: dict[str, Any]
    execution_mode: ExecutionMode = "sandbox_required"
    misfire_policy: MisfirePolicy = "fire_latest_only"
    max_retries: int = 3
    retry_backoff_seconds: int = 30


class JobUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`PATCH /automations/jobs/{id}`: only the given keys (at least one); also enable/disable."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    payload: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    max_retries: int | msgspec.UnsetType = msgspec.UNSET
    retry_backoff_seconds: int | msgspec.UnsetType = msgspec.UNSET


class Empty(msgspec.Struct, forbid_unknown_fields=True):
    """`{}`: the body of `POST /automations/runs/{run_id}/replay` and `POST /session/heartbeat`."""


class FileWrite(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One item of `writes`: an absolute path under /root/.ara/workspace and the UTF-8 text."""

    path: str
    content: str


class FilesWrite(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`POST /session/files/write`. The CLI sends one item and `restart: false`."""

    writes: list[FileWrite]
    restart: bool = False


class TerminalExec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`POST /session/terminal/exec`: a shell command and its timeout in seconds (the CLI clamps
    to 5-600, default 90)."""

    command: str
    timeout_seconds: int = 90


#: Request body type of each JSON route, by (method, path pattern).
BODIES: dict[tuple[str, str], type[msgspec.Struct]] = {
    ("POST", "/automations/jobs"): JobCreate,
    ("PATCH", "/automations/jobs/{id}"): JobUpdate,
    ("POST", "/automations/runs/{run_id}/replay"): Empty,
    ("POST", "/session/files/write"): FilesWrite,
    ("POST", "/session/terminal/exec"): TerminalExec,
    ("POST", "/session/heartbeat"): Empty,
}


def route_of(method: str, path: str) -> tuple[str, str]:
    """The (method, path pattern) of a recorded request, e.g. `/automations/jobs/job_1` →
    `/automations/jobs/{id}`."""
    if path.startswith("/automations/jobs/"):
        return method, "/automations/jobs/{id}"
    if path.startswith("/automations/runs/") and path.endswith("/replay"):
        return method, "/automations/runs/{run_id}/replay"
    return method, path
