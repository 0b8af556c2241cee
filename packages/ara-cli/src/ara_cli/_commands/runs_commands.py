"""`ara runs` (the app's runs as a table, newest first) and the streaming part of `ara run --stream`
(tool calls printed as they happen, then the result)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from .._output import emit_json, guarded, json_wanted, render_run

__all__ = ["format_runs_table", "run_streamed", "runs"]

COLUMNS = ("RUN ID", "STATUS", "AGENT", "KIND", "CREATED", "SECONDS")


def _seconds(run: dict[str, Any]) -> str:
    try:
        start = datetime.fromisoformat(str(run["started_at"]))
        end = datetime.fromisoformat(str(run["finished_at"]))
    except (KeyError, TypeError, ValueError):
        return "-"
    return f"{(end - start).total_seconds():.1f}"


def format_runs_table(runs: list[dict[str, Any]]) -> str:
    """The runs as an aligned text table (one line per run, a header line first)."""
    rows = [
        (
            str(r.get("run_id", "")),
            str(r.get("status", "")),
            str(r.get("workflow_id") or r.get("agent_id") or "-"),
            str(r.get("kind", "")),
            str(r.get("created_at") or "")[:19].replace("T", " "),
            _seconds(r),
        )
        for r in runs
    ]
    widths = [max(len(c), *(len(row[i]) for row in rows)) if rows else len(c) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(COLUMNS)).rstrip()]
    lines += ["  ".join(v.ljust(widths[i]) for i, v in enumerate(row)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


@guarded
def runs(
    app_script: Path,
    /,
    *,
    status: str = "",
    agent: str = "",
    kind: str = "",
    since: str = "",
    limit: int = 20,
    cursor: str = "",
    runtime_key: str = "",
    app_header_key: str = "",
) -> int:
    """List the app's runs, newest first.

    Args:
        app_script: Path of the Python file that defines the `App`.
        status: Only runs with this status (queued, running, completed, failed, cancelled).
        agent: Only runs of this agent or workflow.
        kind: Only runs of this kind (agent, command, pipeline, tool, handler).
        since: Only runs created at or after this ISO 8601 time.
        limit: Runs per page (1-200).
        cursor: The cursor printed under the previous page.
        runtime_key: Runtime key.
        app_header_key: App header key.
    """
    from .app_commands import _client  # pyright: ignore[reportPrivateUsage]

    page = _client(app_script).runs(
        status=status or None,
        agent=agent or None,
        kind=kind or None,
        since=since or None,
        cursor=cursor or None,
        limit=limit,
        runtime_key=runtime_key or None,
        app_header_key=app_header_key or None,
    )
    if json_wanted():
        emit_json(page)
        return 0
    sys.stdout.write(format_runs_table(list(page.get("runs") or [])))
    if page.get("next_cursor"):
        sys.stdout.write(f"more: --cursor {page['next_cursor']}\n")
    return 0


def run_streamed(
    client: Any, agent_id: str, payload: dict[str, Any], runtime_key: str | None, app_header_key: str | None
) -> int:
    """Submit an async run, print each event as it happens (tool calls, attempts), then the result
    like `ara run` does; with JSON output, every event as one compact JSON line instead. Returns 1
    when the run failed or was cancelled."""
    keys = {"runtime_key": runtime_key, "app_header_key": app_header_key}
    submitted = client.run_async(
        agent_id=agent_id or None, input_payload=payload, run_id=payload.get("run_id"), **keys
    )
    run_id = str(submitted.get("run_id") or (submitted.get("run") or {}).get("run_id"))
    final: dict[str, Any] = {}
    for event in client.stream_run(run_id=run_id, **keys):
        name = event.get("event", "")
        if json_wanted():
            sys.stdout.write(json.dumps(event, default=str) + "\n")
        elif name in ("tool.call", "tool.result", "model.step", "run.started", "run.queued"):
            sys.stdout.write(f"[{name}] {event.get('message', '')}\n")
        if name in ("run.completed", "run.failed", "run.cancelled"):
            final = dict(event.get("run") or {})
        sys.stdout.flush()
    status = str(final.get("status", ""))
    if not json_wanted():
        response = {
            "ok": status == "completed",
            "run_id": run_id,
            "status": status,
            "result": final.get("result"),
            "trace": final.get("trace") or [],
            "error": final.get("error"),
        }
        sys.stdout.write(render_run(response))
    return 0 if status == "completed" else 1
