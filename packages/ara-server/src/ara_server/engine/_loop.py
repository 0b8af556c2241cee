"""The agent loop — the only one in ara-server: app runs and `/chat` both use `agent_loop`.

The model proposes tool calls, a `Toolbox` runs them, the results go back to the model until it
answers. `execute_agent_run` is the app-run flavour: the agent's prompt function (if any) gives the
instructions and the app's tools run from their manifest source in a sandbox.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from ara_core import ArgumentError, ManifestView, ToolRow, coerce_arguments, view_of
from msgspec import UnsetType

from ._providers import ModelError, ModelProvider, RunContext, provider_from_env
from ._sandbox import run_function

__all__ = [
    "MAX_MODEL_TURNS",
    "AppToolbox",
    "EventSink",
    "RunOutcome",
    "ToolResult",
    "Toolbox",
    "Trace",
    "agent_loop",
    "execute_agent_run",
    "tool_source",
]

#: Model turns allowed per run before it fails.
MAX_MODEL_TURNS = 16

#: Awaited with every trace entry as it is recorded.
EventSink = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(slots=True)
class RunOutcome:
    """How a run (or one agent turn of it) ended.

    Attributes:
        status: ``completed``, ``failed`` or ``cancelled``.
        output_text: The answer text (``""`` when failed).
        trace: The trace entries, in order (each has ``seq`` and ``type``).
        error: Why it failed (``None`` when completed).
        instructions: The instructions the agent ran with (agent runs only).
        extra: More result fields (e.g. ``exit_code`` of a command run).
        retryable: Another attempt might succeed (``False`` e.g. for an agent the manifest lacks).
    """

    status: Literal["completed", "failed", "cancelled"]
    output_text: str = ""
    trace: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    instructions: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    retryable: bool = True

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        """`[{"name", "arguments", "result", "error"}]` from the trace."""
        return [
            {"name": e["tool"], "arguments": e["arguments"], "result": e["result"], "error": e["error"]}
            for e in self.trace
            if e.get("type") == "tool_call"
        ]

    @property
    def result(self) -> dict[str, Any]:
        """The run's stored result: ``{"output_text", "tool_calls", **extra}``."""
        return {"output_text": self.output_text, "tool_calls": self.tool_calls, **self.extra}


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)


class Trace:
    """The trace of one run: entries numbered in order, each passed to the sink as it is added."""

    def __init__(self, sink: EventSink | None = None) -> None:
        self.entries: list[dict[str, Any]] = []
        self.sink = sink

    async def add(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Record `entry` (a ``seq`` is put first) and pass it to the sink; returns the entry."""
        entry = {"seq": len(self.entries), **entry}
        self.entries.append(entry)
        if self.sink is not None:
            await self.sink(entry)
        return entry


@dataclass(slots=True)
class ToolResult:
    """What one tool call gave.

    Attributes:
        ok: The tool returned a value.
        result: That value (``None`` when not ok).
        error: ``"<ErrorType>: <message>"`` when not ok.
        arguments: The arguments as the tool received them (after conversion to its schema).
        logs: What the tool printed (stdout and stderr).
        duration_ms: Wall time in milliseconds.
        fatal: A failure that ends the run (app tools); a non-fatal failure goes back to the model.
    """

    ok: bool
    result: Any = None
    error: str | None = None
    arguments: dict[str, Any] | None = None
    logs: str = ""
    duration_ms: float = 0.0
    fatal: bool = True


class Toolbox(Protocol):
    """The tools an agent loop may call."""

    @property
    def specs(self) -> list[dict[str, Any]]:
        """OpenAI-style tool definitions ``[{"type": "function", "function": {...}}]``, in order."""
        ...

    async def call(self, call_id: str, name: str, arguments: dict[str, Any]) -> ToolResult:
        """Run one tool; failures are returned, never raised."""
        ...


def tool_source(view: ManifestView, tool: ToolRow) -> tuple[str, str]:
    """`(source, function name)` of a tool: its own source, else (older apps) its handler's."""
    source = tool.source if isinstance(tool.source, str) else ""
    function_name = tool.function_name if isinstance(tool.function_name, str) else tool.name
    if not source and isinstance(tool.handler_id, str):
        block = view.manifest.agent
        handlers = (
            () if isinstance(block, UnsetType) or isinstance(block.handlers, UnsetType) else block.handlers
        )
        for handler in handlers:
            if handler.id == tool.handler_id and isinstance(handler.source, str):
                name = handler.function_name if isinstance(handler.function_name, str) else handler.id
                return handler.source, name
    return source, function_name


def _tool_spec(tool: ToolRow) -> dict[str, Any]:
    if not isinstance(tool.function, UnsetType):
        fn = tool.function
        return {
            "type": "function",
            "function": {"name": fn.name, "description": fn.description, "parameters": fn.parameters},
        }
    params = tool.parameters if isinstance(tool.parameters, dict) else {"type": "object", "properties": {}}
    description = tool.description if isinstance(tool.description, str) else ""
    return {
        "type": "function",
        "function": {"name": tool.name, "description": description, "parameters": params},
    }


class AppToolbox:
    """The app's tools, each run from its manifest source in a fresh sandbox.

    Args:
        view: The app's manifest view.
        workdir: The app's working directory.
        timeout_seconds: Limit per call, in seconds.
        env: Environment of the sandboxed code.
        python: Interpreter of the app's environment (default the server's).
        cancel: Set it to end a running call.
    """

    def __init__(
        self,
        view: ManifestView,
        *,
        workdir: Path,
        timeout_seconds: float,
        env: Mapping[str, str] | None = None,
        python: str | None = None,
        cancel: Any = None,
    ) -> None:
        self.view, self.workdir, self.timeout = view, workdir, timeout_seconds
        self.env, self.python, self.cancel = env, python, cancel
        self._specs = [_tool_spec(t) for t in view.tools() if t.name]

    @property
    def specs(self) -> list[dict[str, Any]]:
        """The app's tools as the model sees them."""
        return self._specs

    async def call(self, call_id: str, name: str, arguments: dict[str, Any]) -> ToolResult:
        """Run tool `name` with `arguments` converted to its schema's types."""
        t0 = time.perf_counter()
        tool = self.view.tool(name)
        if tool is None:
            names = sorted(self.view.tool_names())
            return ToolResult(
                False,
                error=f"LookupError: unknown tool {name!r}; the app's tools are {names}",
                duration_ms=_ms(t0),
            )
        schema = tool.function.parameters if not isinstance(tool.function, UnsetType) else tool.parameters
        try:
            args = coerce_arguments(schema if isinstance(schema, dict) else None, arguments)
        except ArgumentError as exc:
            return ToolResult(False, error=f"ArgumentError: {exc}", arguments=arguments, duration_ms=_ms(t0))
        source, function_name = tool_source(self.view, tool)
        res = await run_function(
            source=source,
            function_name=function_name,
            mode="tool",
            payload=args,
            workdir=self.workdir,
            timeout_seconds=self.timeout,
            env=self.env,
            python=self.python,
            cancel=self.cancel,
        )
        return ToolResult(
            res.ok,
            result=res.result if res.ok else None,
            error=res.error,
            arguments=args,
            logs=res.logs,
            duration_ms=round(res.duration_ms, 2),
        )


def _user_message(data: Mapping[str, Any]) -> str:
    user = str(data.get("message") or "") or json.dumps(dict(data), ensure_ascii=False, default=str)
    if data.get("message") and len(data) > 1:
        user += "\n\nInput: " + json.dumps(
            {k: v for k, v in data.items() if k != "message"}, ensure_ascii=False, default=str
        )
    return user


async def agent_loop(
    model: ModelProvider,
    *,
    instructions: str,
    run_input: Mapping[str, Any],
    tools: Toolbox,
    trace: Trace,
    user_message: str | None = None,
    max_turns: int = MAX_MODEL_TURNS,
) -> RunOutcome:
    """Talk to the model until it answers, running the tools it asks for.

    Every model turn and tool call becomes a trace entry (``model``, ``tool_call``; a tool call
    carries what the tool printed under ``logs``). A fatal tool failure, a model failure or
    `max_turns` turns without an answer end the loop as ``failed``.

    Args:
        model: The model provider.
        instructions: The system prompt.
        run_input: The run input (facts for the provider; the user message when `user_message`
            is not given).
        tools: The tools the model may call.
        trace: Where entries go.
        user_message: The user's text (default: built from `run_input`).
        max_turns: Model turns allowed.

    Returns:
        The outcome; never raises for failures of tools or the model.
    """
    data = dict(run_input)
    ctx = RunContext(run_input=data, instructions=instructions, tools=tools.specs)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": instructions},
        {"role": "user", "content": user_message if user_message is not None else _user_message(data)},
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
            return RunOutcome("failed", "", trace.entries, str(exc), instructions)
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
            return RunOutcome("completed", turn.text or "", trace.entries, None, instructions)
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
            started = _now()
            res = await tools.call(call.id, call.name, dict(call.arguments))
            entry: dict[str, Any] = {
                "type": "tool_call",
                "tool": call.name,
                "call_id": call.id,
                "arguments": res.arguments if res.arguments is not None else call.arguments,
                "result": res.result if res.ok else None,
                "error": None if res.ok else res.error,
                "started_at": started,
                "duration_ms": res.duration_ms,
            }
            if res.logs:
                entry["logs"] = res.logs
            await trace.add(entry)
            if not res.ok and res.fatal:
                error = res.error or "tool failed"
                if error.startswith("ArgumentError: "):
                    error = f"{call.name}: {error.removeprefix('ArgumentError: ')}"
                elif not error.startswith("LookupError: "):
                    error = f"tool {call.name} failed: {error}"
                return RunOutcome("failed", "", trace.entries, error, instructions)
            output = res.result if res.ok else f"error: {res.error}"
            ctx.results.append((call.name, output))
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": call.id,
                    "content": json.dumps(output, ensure_ascii=False, default=str),
                }
            )
    return RunOutcome(
        "failed", "", trace.entries, f"the model did not answer within {max_turns} turns", instructions
    )


async def execute_agent_run(
    manifest: ManifestView | Mapping[str, Any],
    agent_id: str,
    run_input: Mapping[str, Any],
    *,
    workdir: Path,
    provider: ModelProvider | None = None,
    tool_timeout_seconds: float = 30.0,
    env: Mapping[str, str] | None = None,
    on_event: EventSink | None = None,
    max_turns: int = MAX_MODEL_TURNS,
    python: str | None = None,
    instructions: str | None = None,
    trace: Trace | None = None,
    cancel: Any = None,
) -> RunOutcome:
    """Run one agent of an app to completion.

    The agent's prompt function (if any) runs in a sandbox with the input and gives the
    instructions; then `agent_loop` runs with the app's tools (each from its manifest source in a
    sandbox, arguments converted to the tool schema's types). A tool error, a timeout, an unknown
    tool, bad arguments or a model failure ends the run as ``failed`` with the error in the trace.

    Args:
        manifest: The app's manifest view (or the manifest document).
        agent_id: The agent to run (must exist).
        run_input: The run input.
        workdir: The app's working directory (its shipped files live there).
        provider: Model provider (default: `provider_from_env()`).
        tool_timeout_seconds: Limit per tool or prompt call, in seconds.
        env: Environment for sandboxed code (runtime env, secrets, ``ARA_*``).
        on_event: Awaited with every trace entry as it is recorded (ignored when `trace` is given).
        max_turns: Model turns allowed.
        python: Interpreter of the app's environment (default the server's).
        instructions: Instructions to use when the agent has no prompt function (default: the
            agent's own).
        trace: Trace to add to (default: a new one).
        cancel: An `asyncio.Event` that ends running sandboxed calls when set.

    Returns:
        The outcome; never raises for failures of the app's code or the model.

    Raises:
        KeyError: `agent_id` is not an agent of the manifest (callers check first).
    """
    view = manifest if isinstance(manifest, ManifestView) else view_of(manifest)
    row = view.agent(agent_id)
    if row is None:
        raise KeyError(agent_id)
    model = provider or provider_from_env()
    trace = trace or Trace(on_event)
    data = dict(run_input)
    text = instructions if instructions is not None else view.instructions(agent_id)
    factory = row.prompt_factory
    if not isinstance(factory, UnsetType) and factory.source:
        started = _now()
        res = await run_function(
            source=factory.source,
            function_name=factory.function_name,
            mode="prompt",
            payload=data,
            workdir=workdir,
            timeout_seconds=tool_timeout_seconds,
            env=env,
            python=python,
            cancel=cancel,
        )
        entry: dict[str, Any] = {
            "type": "prompt_factory",
            "function_name": factory.function_name,
            "ok": res.ok,
            "started_at": started,
            "duration_ms": round(res.duration_ms, 2),
        }
        if res.logs:
            entry["logs"] = res.logs
        if not res.ok:
            entry["error"] = res.error
            await trace.add(entry)
            return RunOutcome("failed", "", trace.entries, f"prompt function failed: {res.error}", text)
        if not isinstance(res.result, str):
            entry["ok"] = False
            entry["error"] = f"TypeError: prompt function returned {type(res.result).__name__}, expected str"
            await trace.add(entry)
            return RunOutcome("failed", "", trace.entries, entry["error"], text)
        text = res.result
        await trace.add(entry)
    tools = AppToolbox(
        view, workdir=workdir, timeout_seconds=tool_timeout_seconds, env=env, python=python, cancel=cancel
    )
    return await agent_loop(
        model, instructions=text, run_input=data, tools=tools, trace=trace, max_turns=max_turns
    )
