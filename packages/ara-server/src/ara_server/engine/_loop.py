"""The run of an agent: prompt function, then the agent loop with sandboxed tools."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ara_core import ArgumentError, coerce_arguments

from ._providers import ModelError, ModelProvider, RunContext, provider_from_env
from ._sandbox import run_function

__all__ = ["MAX_MODEL_TURNS", "RunOutcome", "execute_agent_run"]

#: Model turns allowed per run before it fails.
MAX_MODEL_TURNS = 16

EventSink = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(slots=True)
class RunOutcome:
    """The result of `execute_agent_run` (docs/architecture.md)."""

    status: Literal["completed", "failed"]
    output_text: str
    instructions: str
    trace: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        """`[{"name", "arguments", "result", "error"}]` from the trace."""
        return [
            {"name": e["tool"], "arguments": e["arguments"], "result": e["result"], "error": e["error"]}
            for e in self.trace
            if e["type"] == "tool_call"
        ]


def _now() -> str:
    return datetime.now(UTC).isoformat()


class _Trace:
    def __init__(self, sink: EventSink | None) -> None:
        self.entries: list[dict[str, Any]] = []
        self.sink = sink

    async def add(self, entry: dict[str, Any]) -> None:
        entry = {"seq": len(self.entries), **entry}
        self.entries.append(entry)
        if self.sink is not None:
            await self.sink(entry)


def _agent_row(manifest: Mapping[str, Any], agent_id: str) -> dict[str, Any] | None:
    for row in (manifest.get("agent") or {}).get("agents") or []:
        if isinstance(row, dict) and row.get("id") == agent_id:
            return row
    return None


async def execute_agent_run(
    manifest: Mapping[str, Any],
    agent_id: str,
    run_input: Mapping[str, Any],
    *,
    workdir: Path,
    provider: ModelProvider | None = None,
    tool_timeout_seconds: float = 30.0,
    env: Mapping[str, str] | None = None,
    on_event: EventSink | None = None,
    max_turns: int = MAX_MODEL_TURNS,
) -> RunOutcome:
    """Run one agent of an app to completion (docs/architecture.md).

    The agent's prompt function (if any) runs in a sandbox with the input and gives the
    instructions; then the model proposes tool calls, each tool runs from its manifest source in a
    sandbox (arguments converted to the tool schema's types), and the results go back to the model
    until it answers. A tool error, a timeout, an unknown tool, bad arguments or a model failure
    ends the run as `failed` with the error in the trace.

    Args:
        manifest: The app manifest.
        agent_id: The agent to run (must exist).
        run_input: The run input.
        workdir: The app's working directory (its shipped files live there).
        provider: Model provider (default: `provider_from_env()`).
        tool_timeout_seconds: Limit per tool or prompt call, in seconds.
        env: Environment for sandboxed code (runtime env, secrets).
        on_event: Awaited with every trace entry as it is recorded.
        max_turns: Model turns allowed.

    Returns:
        The outcome; never raises for failures of the app's code or the model.

    Raises:
        KeyError: `agent_id` is not an agent of the manifest (callers check first).
    """
    row = _agent_row(manifest, agent_id)
    if row is None:
        raise KeyError(agent_id)
    model = provider or provider_from_env()
    trace = _Trace(on_event)
    data = dict(run_input)
    instructions = str(row.get("instructions") or row.get("task") or "")
    factory = row.get("prompt_factory")
    if isinstance(factory, dict) and factory.get("source"):
        started = _now()
        res = await run_function(
            source=factory["source"],
            function_name=factory["function_name"],
            mode="prompt",
            payload=data,
            workdir=workdir,
            timeout_seconds=tool_timeout_seconds,
            env=env,
        )
        entry = {
            "type": "prompt_factory",
            "function_name": factory["function_name"],
            "ok": res.ok,
            "started_at": started,
            "duration_ms": round(res.duration_ms, 2),
        }
        if not res.ok:
            entry["error"] = res.error
            await trace.add(entry)
            return RunOutcome(
                "failed", "", instructions, trace.entries, f"prompt function failed: {res.error}"
            )
        if not isinstance(res.result, str):
            entry["ok"] = False
            entry["error"] = f"TypeError: prompt function returned {type(res.result).__name__}, expected str"
            await trace.add(entry)
            return RunOutcome("failed", "", instructions, trace.entries, entry["error"])
        instructions = res.result
        await trace.add(entry)
    tools = [
        t
        for t in (manifest.get("agent") or {}).get("tools") or []
        if isinstance(t, dict) and t.get("function")
    ]
    by_name = {t["function"]["name"]: t for t in tools}
    ctx = RunContext(run_input=data, instructions=instructions, tools=tools)
    user = str(data.get("message") or "") or json.dumps(data, ensure_ascii=False)
    if data.get("message") and len(data) > 1:
        user += "\n\nInput: " + json.dumps(
            {k: v for k, v in data.items() if k != "message"}, ensure_ascii=False, default=str
        )
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": instructions},
        {"role": "user", "content": user},
    ]
    for _ in range(max_turns):
        started, t0 = _now(), time.perf_counter()
        try:
            turn = await model.complete(messages, ctx)
        except ModelError as exc:
            await trace.add(
                {
                    "type": "model",
                    "provider": model.name,
                    "model": model.model,
                    "tool_calls": [],
                    "error": str(exc),
                    "started_at": started,
                    "duration_ms": _ms(t0),
                }
            )
            return RunOutcome("failed", "", instructions, trace.entries, str(exc))
        model_entry: dict[str, Any] = {
            "type": "model",
            "provider": model.name,
            "model": model.model,
            "tool_calls": [c.name for c in turn.tool_calls],
            "started_at": started,
            "duration_ms": _ms(t0),
        }
        if not turn.tool_calls:
            model_entry["text"] = turn.text or ""
            await trace.add(model_entry)
            return RunOutcome("completed", turn.text or "", instructions, trace.entries)
        await trace.add(model_entry)
        messages.append(
            {
                "role": "assistant",
                "content": turn.text or None,
                "tool_calls": [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                    }
                    for c in turn.tool_calls
                ],
            }
        )
        for call in turn.tool_calls:
            started, t0 = _now(), time.perf_counter()
            entry: dict[str, Any] = {
                "type": "tool_call",
                "tool": call.name,
                "call_id": call.id,
                "arguments": call.arguments,
                "result": None,
                "error": None,
                "started_at": started,
            }
            tool = by_name.get(call.name)
            if tool is None:
                entry.update(
                    error=f"LookupError: unknown tool {call.name!r}; the app's tools are {sorted(by_name)}",
                    duration_ms=_ms(t0),
                )
                await trace.add(entry)
                return RunOutcome("failed", "", instructions, trace.entries, entry["error"])
            try:
                args = coerce_arguments(tool["function"].get("parameters"), call.arguments)
            except ArgumentError as exc:
                entry.update(error=f"ArgumentError: {exc}", duration_ms=_ms(t0))
                await trace.add(entry)
                return RunOutcome("failed", "", instructions, trace.entries, f"{call.name}: {exc}")
            entry["arguments"] = args
            res = await run_function(
                source=tool.get("source") or "",
                function_name=tool.get("function_name") or call.name,
                mode="tool",
                payload=args,
                workdir=workdir,
                timeout_seconds=tool_timeout_seconds,
                env=env,
            )
            entry.update(
                result=res.result if res.ok else None, error=res.error, duration_ms=round(res.duration_ms, 2)
            )
            if res.logs:
                entry["logs"] = res.logs
            await trace.add(entry)
            if not res.ok:
                return RunOutcome(
                    "failed", "", instructions, trace.entries, f"tool {call.name} failed: {res.error}"
                )
            ctx.results.append((call.name, res.result))
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": call.id,
                    "content": json.dumps(res.result, ensure_ascii=False),
                }
            )
    return RunOutcome(
        "failed", "", instructions, trace.entries, f"the model did not answer within {max_turns} turns"
    )


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)
