"""Runs you can see: the run list of an app and the event stream of one run.

A run's events are its log lines (`logs` rows with its run id; the row id is the event's sequence
number and its SSE `id`), named by their event type when it is one of `EVENT_TYPES`, else `log`,
(`run.attempt` lines are `run.started` events: one per attempt), then exactly one terminal event
(`run.completed`, `run.failed` or `run.cancelled`, SSE id `end`) built from the finished run.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec

from ..errors import ApiProblem
from ..store import Store, run_views, runs
from .logbus import LogBus
from .runs import public_run

__all__ = ["EVENT_TYPES", "RunEvent", "RunQuery", "RunViews", "TERMINAL_EVENT_ID"]

#: Log event types passed through under their own name (any other line is a `log` event).
EVENT_TYPES = frozenset({"run.queued", "run.started", "model.step", "tool.call", "tool.result"})
#: Log event types renamed: the start of each attempt is a `run.started` event.
RENAMED = {"run.attempt": "run.started"}
#: SSE id of the terminal event; resuming after it yields nothing more.
TERMINAL_EVENT_ID = "end"
STATUSES = ("queued", "running", "completed", "failed", "cancelled")


class RunQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Query of `GET /v1/apps/{app_id}/runs`.

    Attributes:
        status: Only runs with this status.
        agent: Only runs of this agent (or workflow) id.
        kind: Only runs of this kind (`agent`, `command`, `pipeline`, `tool`, `handler`).
        since: Only runs created at or after this ISO 8601 time (UTC when no offset).
        cursor: The `next_cursor` of the previous page.
        limit: Page size, 1-200 (default 50).
    """

    status: Literal["queued", "running", "completed", "failed", "cancelled"] | None = None
    agent: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    kind: Annotated[str, msgspec.Meta(max_length=16)] | None = None
    since: datetime | None = None
    cursor: Annotated[str, msgspec.Meta(max_length=512)] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=200)] = 50


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One event of a run's stream: SSE `id`, `event` name and JSON `data`."""

    id: str
    event: str
    data: dict[str, Any]


def _cursor(row: dict[str, Any]) -> str:
    created: datetime = row["created_at"]
    raw = f"{created.astimezone(UTC).isoformat()}|{row['run_id']}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _parse_cursor(text: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        stamp, _, run_id = raw.partition("|")
        at = datetime.fromisoformat(stamp)
        if not run_id or at.tzinfo is None:
            raise ValueError(raw)
        return at, run_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiProblem(422, "invalid_query", "at `cursor`: not a cursor this server gave") from None


def _listed(row: dict[str, Any]) -> dict[str, Any]:
    out = public_run(row)
    out.pop("trace", None)
    return out


class RunViews:
    """Lists runs and streams the events of one run.

    Args:
        store: The store.
        logbus: Wakes streams when a log line is added on this node.
    """

    def __init__(self, store: Store, logbus: LogBus) -> None:
        self.store, self.logbus = store, logbus

    async def list(self, app_id: str, query: RunQuery) -> tuple[list[dict[str, Any]], str | None]:
        """A page of runs, newest first, and the cursor of the next page (`None` on the last)."""
        since = query.since
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        before = _parse_cursor(query.cursor) if query.cursor else None
        rows = await self.store.run(
            run_views.list_runs,
            app_id,
            status=query.status,
            agent=query.agent,
            kind=query.kind,
            since=since,
            before=before,
            limit=query.limit + 1,
        )
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        return [_listed(r) for r in rows], (_cursor(rows[-1]) if more and rows else None)

    async def exists(self, app_id: str, run_id: str) -> None:
        """Raises `ApiProblem` 404 when the app has no such run."""
        if await self.store.run(runs.get_run, app_id, run_id) is None:
            raise ApiProblem(404, "not_found", f"run {run_id!r} not found")

    async def events(
        self,
        app_id: str,
        run_id: str,
        last_event_id: str | None,
        disconnected: Callable[[], Awaitable[bool]],
        *,
        wait_seconds: float = 1.0,
    ) -> AsyncIterator[RunEvent | None]:
        """The run's events after `last_event_id` (a sequence number, or `end`), ending with the
        terminal event; yields `None` while waiting (a keep-alive opportunity). Each event's data
        repeats its `id` and `event` name, so a reader of the data lines alone loses nothing."""
        if last_event_id == TERMINAL_EVENT_ID:
            return
        after = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
        while not await disconnected():
            row = await self.store.run(runs.get_run, app_id, run_id)
            if row is None:
                return
            lines = await self.store.run(run_views.run_logs_after, app_id, run_id, after)
            for line in lines:
                after = int(line["id"])
                kind = str(line["event_type"])
                name = RENAMED.get(kind, kind if kind in EVENT_TYPES else "log")
                yield RunEvent(
                    str(line["id"]),
                    name,
                    {
                        "id": str(line["id"]),
                        "event": name,
                        "seq": line["id"],
                        "run_id": run_id,
                        "type": kind,
                        "level": line["level"],
                        "message": line["message"],
                        "timestamp": line["created_at"].isoformat(),
                    },
                )
            if lines:
                continue
            if row["status"] in runs.TERMINAL:
                name = f"run.{row['status']}"
                data = {"id": TERMINAL_EVENT_ID, "event": name, "run_id": run_id, "run": public_run(row)}
                yield RunEvent(TERMINAL_EVENT_ID, name, data)
                return
            yield None
            await self.logbus.wait(wait_seconds)
