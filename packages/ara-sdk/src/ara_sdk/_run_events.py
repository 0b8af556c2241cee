"""Runs you can see, for `AraClient` and `AsyncAraClient`: the run list of an app and the event
stream of one run (`GET /v1/apps/{app_id}/runs`, `GET /v1/apps/{app_id}/runs/{run_id}/events`).

The stream is resumable: each event carries its `id`; after a dropped connection the iterator
reconnects with `Last-Event-ID` and the server sends only the events after it, then exactly one
terminal event (`run.completed`, `run.failed` or `run.cancelled`, id `end`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, cast

from ara_http import APIConnectionError

from ._api import CALLS, Call, Flow

if TYPE_CHECKING:
    from ._client import AraClient, AsyncAraClient, _ClientBase

__all__ = ["TERMINAL_EVENTS", "RunEvent", "RunPage", "aiter_run_events", "iter_run_events", "runs_flow"]

#: Names of the event that ends a run's stream.
TERMINAL_EVENTS = frozenset({"run.completed", "run.failed", "run.cancelled"})
#: Reconnections after a dropped stream before the error is raised.
DEFAULT_RECONNECTS = 3


class RunEvent(TypedDict):
    """One event of a run: `id` (a sequence number, or `end` for the terminal event), `event`
    (`run.queued`, `run.started`, `model.step`, `tool.call`, `tool.result`, `log`, or a terminal
    name), `run_id`; log-based events add `type`, `level`, `message`, `timestamp`; the terminal
    event adds `run` (the finished run)."""

    id: str
    event: str
    run_id: str
    type: NotRequired[str]
    level: NotRequired[str]
    message: NotRequired[str]
    timestamp: NotRequired[str]
    run: NotRequired[dict[str, Any]]


class RunPage(TypedDict):
    """A page of `runs` (newest first; each `run_id`, `agent_id`, `workflow_id`, `kind`, `status`,
    `attempt`, `created_at`, `started_at`, `finished_at`, and `result`/`error` when set) and the
    `next_cursor` to pass for the next page (`None` on the last)."""

    ok: bool
    runs: list[dict[str, Any]]
    next_cursor: str | None


def runs_flow(
    client: _ClientBase, query: Mapping[str, Any], runtime_key: str | None, app_header_key: str | None
) -> Flow[RunPage]:
    """The flow of `GET /v1/apps/{app_id}/runs` with the filters in `query`."""
    app_id, auth = yield from client._runtime_target(runtime_key, app_header_key)  # pyright: ignore[reportPrivateUsage]
    return (yield from client._app_call(CALLS.list_runs(app_id, query, auth)))  # pyright: ignore[reportPrivateUsage]


def _events_call(
    client: _ClientBase, run_id: str, last: str | None, runtime_key: str | None, app_header_key: str | None
) -> Flow[Call]:
    app_id, auth = yield from client._runtime_target(runtime_key, app_header_key)  # pyright: ignore[reportPrivateUsage]
    return CALLS.stream_run(app_id, run_id, auth, last)


def iter_run_events(
    client: AraClient,
    run_id: str,
    *,
    last_event_id: str | None,
    runtime_key: str | None,
    app_header_key: str | None,
    reconnects: int = DEFAULT_RECONNECTS,
) -> Iterator[RunEvent]:
    """Yield a run's events until its terminal event, reconnecting with `Last-Event-ID` after a
    dropped connection (at most `reconnects` times in a row)."""
    last, failures = last_event_id, 0
    while last != "end":
        call = client._api.drive(_events_call(client, run_id, last, runtime_key, app_header_key))  # pyright: ignore[reportPrivateUsage]
        try:
            for row in client._api.stream(call):  # pyright: ignore[reportPrivateUsage]
                event = cast(RunEvent, row)
                last, failures = str(event.get("id") or last), 0
                yield event
                if event.get("event") in TERMINAL_EVENTS:
                    return
            return
        except APIConnectionError:
            failures += 1
            if failures > reconnects:
                raise


async def aiter_run_events(
    client: AsyncAraClient,
    run_id: str,
    *,
    last_event_id: str | None,
    runtime_key: str | None,
    app_header_key: str | None,
    reconnects: int = DEFAULT_RECONNECTS,
) -> AsyncIterator[RunEvent]:
    """As `iter_run_events`, asynchronously."""
    last, failures = last_event_id, 0
    while last != "end":
        call = await client._api.drive(_events_call(client, run_id, last, runtime_key, app_header_key))  # pyright: ignore[reportPrivateUsage]
        try:
            async for row in client._api.stream(call):  # pyright: ignore[reportPrivateUsage]
                event = cast(RunEvent, row)
                last, failures = str(event.get("id") or last), 0
                yield event
                if event.get("event") in TERMINAL_EVENTS:
                    return
            return
        except APIConnectionError:
            failures += 1
            if failures > reconnects:
                raise
