"""Executors: how each kind of run executes, behind one protocol.

A worker builds an `ExecutionContext` for a claimed run and awaits
``executor_for(run.kind).execute(ctx)`` (or `execute_run`, which adds the run timeout). Kinds:

* ``agent`` — the agent loop (or the agent's command adapter, when its runtime declares one);
* ``pipeline`` — a pipeline workflow's steps in order, each with its own timeout; ``tool`` — one
  scheduled tool call, run as a one-step pipeline;
* ``command`` — a run-mode workflow's or hook's shell command in the sandbox;
* ``handler`` — an ``agent.handlers[]`` function called with 0, 1 or 2 arguments.

Executors never touch the store: everything they need is in the context, everything they report
goes through its sink, and the outcome is returned.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ara_core import HandlerRow, ManifestView, PipelineStep, StartupSpec, task_guardrail_prefix
from msgspec import UnsetType

from ._loop import AppToolbox, RunOutcome, Trace, execute_agent_run
from ._providers import ModelProvider
from ._sandbox import run_function, run_sandboxed

__all__ = [
    "ExecutionContext",
    "Executor",
    "RunSink",
    "RunSpec",
    "command_path",
    "execute_run",
    "executor_for",
    "handler_row",
    "run_startup",
]

#: Output lines of a command written to the app log per run (the trace keeps the text too).
MAX_LOGGED_LINES = 200
#: Characters of command output kept in the trace and the result.
MAX_OUTPUT_CHARS = 8000
PROFILE_MARK = "# ara-server: keep the app's PATH in login shells"


class RunSink(Protocol):
    """Where an executor reports while it runs."""

    async def trace(self, entry: dict[str, Any]) -> None:
        """A trace entry was recorded."""
        ...

    async def log(self, level: str, event_type: str, message: str) -> None:
        """Append a line to the app log (``ara logs``)."""
        ...


@dataclass(frozen=True, slots=True)
class RunSpec:
    """The run being executed.

    Attributes:
        run_id: The run id.
        app_id: The app's id.
        app_slug: The app's slug.
        kind: ``agent``, ``pipeline``, ``tool``, ``command`` or ``handler``.
        workflow_id: The workflow, hook, schedule or handler id it runs under.
        agent_id: The agent (``""`` for commands and handlers).
        input: The run input (for event runs, the event).
        attempt: 1 for the first attempt, then 2, 3, ...
        idempotency_key: The key side effects are de-duplicated by (default: the run id).
    """

    run_id: str
    app_id: str
    app_slug: str
    kind: str
    workflow_id: str
    agent_id: str
    input: Mapping[str, Any]
    attempt: int = 1
    idempotency_key: str = ""


@dataclass(slots=True)
class ExecutionContext:
    """Everything an executor needs.

    Attributes:
        view: The app's manifest view (of the deployed version the run belongs to).
        run: The run.
        workdir: The app's working directory (its files are there).
        env: Environment of sandboxed code: the runtime env, secrets and ``ARA_*`` (``ARA_APP_ID``,
            ``ARA_APP_SLUG``, ``ARA_RUN_ID``, ``ARA_ATTEMPT``, ``ARA_IDEMPOTENCY_KEY``).
        sink: Where trace entries and log lines go.
        timeout_seconds: Limit of the whole run in seconds (`execute_run` applies it; a command
            gets it as its own limit); ``None`` for none.
        tool_timeout_seconds: Limit per tool or prompt call, in seconds (default 30).
        step_timeout_seconds: Limit per pipeline step, in seconds (default: `tool_timeout_seconds`
            for tool steps, the run's limit for agent steps).
        provider: The model provider (default: from the environment).
        python: Interpreter of the app's environment (its ``python_packages``); ``None`` for the
            server's.
        cancel: Set it to end the run's sandboxed processes.
    """

    view: ManifestView
    run: RunSpec
    workdir: Path
    env: Mapping[str, str]
    sink: RunSink
    timeout_seconds: float | None = None
    tool_timeout_seconds: float = 30.0
    step_timeout_seconds: float | None = None
    provider: ModelProvider | None = None
    python: str | None = None
    cancel: asyncio.Event | None = None
    _trace: Trace | None = field(default=None, repr=False)

    @property
    def trace(self) -> Trace:
        """The run's trace (entries also go to the sink)."""
        if self._trace is None:
            self._trace = Trace(self.sink.trace)
        return self._trace


class Executor(Protocol):
    """Executes one kind of run."""

    async def execute(self, ctx: ExecutionContext) -> RunOutcome:
        """Run `ctx.run` to its end; failures of the app's code are outcomes, never exceptions."""
        ...


def command_path(python: str | None) -> str:
    """`PATH` for app commands: the app environment's `bin`, the server interpreter's directory
    (so ``python``/``python3`` resolve as they do for the server), then the server's `PATH`."""
    dirs = [str(Path(python).parent)] if python else []
    dirs.append(str(Path(sys.executable).parent))
    dirs += [d for d in os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(os.pathsep) if d]
    seen: dict[str, None] = {}
    for d in dirs:
        seen.setdefault(d, None)
    return os.pathsep.join(seen)


def _login_profile(workdir: Path) -> None:
    """Make login shells (``bash -lc``, as the guardrail launcher uses) keep ``ARA_PATH``.

    A login shell resets `PATH` from the system profile, so `python` of the app's environment would
    vanish; ``$HOME`` of sandboxed code is the working directory, whose ``.bash_profile`` restores
    it (an app that ships its own ``.bash_profile`` keeps it).
    """
    profile = workdir / ".bash_profile"
    text = (
        f"{PROFILE_MARK}\n"
        'if [ -n "${ARA_PATH:-}" ]; then export PATH="$ARA_PATH"; fi\n'
        'if [ -f "$HOME/.profile" ]; then . "$HOME/.profile"; fi\n'
    )
    try:
        if profile.exists() and not profile.read_text(errors="replace").startswith(PROFILE_MARK):
            return
        if not profile.exists() or profile.read_text() != text:
            workdir.mkdir(parents=True, exist_ok=True)
            profile.write_text(text)
    except OSError:
        return


async def _run_shell(
    ctx: ExecutionContext,
    command: str,
    *,
    env: Mapping[str, str],
    event_type: str,
    timeout: float | None,
    stdin: bytes | None = None,
    cwd: Path | None = None,
) -> tuple[dict[str, Any], int | None, str, str, str | None]:
    """Run `command` with bash in the sandbox; its stdout lines go to the app log.

    Returns:
        `(trace entry, exit code, stdout, stderr, error)`; `error` is ``None`` on exit status 0.
    """
    workdir = cwd or ctx.workdir
    await asyncio.to_thread(_login_profile, ctx.workdir)
    path = command_path(ctx.python)
    full_env = {**env, "PATH": path, "ARA_PATH": path}
    started = time.perf_counter()
    res = await run_sandboxed(
        ["bash", "-c", command],
        workdir=workdir,
        env=full_env,
        stdin=stdin,
        timeout_seconds=timeout,
        python=ctx.python,
        cancel=ctx.cancel,
    )
    out = res.stdout.decode("utf-8", "replace")
    err = res.stderr.decode("utf-8", "replace")
    for line in out.splitlines()[-MAX_LOGGED_LINES:]:
        await ctx.sink.log("info", event_type, line[:2000])
    for line in err.splitlines()[-MAX_LOGGED_LINES:]:
        await ctx.sink.log("warning", event_type, line[:2000])
    error: str | None = None
    if res.error is not None:
        error = res.error
    elif res.timed_out:
        error = f"command timed out after {timeout:g} s" if timeout else "command timed out"
    elif res.cancelled:
        error = "command was cancelled"
    elif res.exit_code != 0:
        error = f"command exited with status {res.exit_code}: {err.strip()[-500:]}"
    entry = {
        "type": "command",
        "workflow_id": ctx.run.workflow_id,
        "exit_code": res.exit_code,
        "stdout": out[-MAX_OUTPUT_CHARS:],
        "stderr": err[-MAX_OUTPUT_CHARS:],
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    return entry, res.exit_code, out, err, error


# ----------------------------------------------------------------------------------- commands


class CommandExecutor:
    """A run-mode workflow's or a hook's shell command (``bash -c``) in the app's sandbox.

    The command gets the run's environment plus ``ARA_EVENT`` (the run input as JSON),
    ``ARA_WORKFLOW_ID`` and, for a subagent's hook, the subagent's ``ARA_SUBAGENT_ID``,
    ``ARA_TIMEOUT_SECONDS``, ``ARA_MAX_RETRIES`` and ``ARA_RETRY_BACKOFF_SECONDS``; `PATH` finds the
    app environment's ``python`` first, also in login shells. Exit status 0 completes the run.
    """

    async def execute(self, ctx: ExecutionContext) -> RunOutcome:
        """Run the command; its output lines go to the app log (``hook.output``)."""
        run = ctx.run
        target = ctx.view.target(run.workflow_id)
        command = target.command if target is not None else ""
        if not command:
            error = f"workflow {run.workflow_id!r} has no command"
            entry = await ctx.trace.add({"type": "command", "workflow_id": run.workflow_id, "error": error})
            return RunOutcome("failed", "", [entry], error, extra={"exit_code": None})
        env = {
            **ctx.env,
            "ARA_EVENT": json.dumps(dict(run.input), default=str),
            "ARA_WORKFLOW_ID": run.workflow_id,
        }
        hook = next((h for h in ctx.view.hooks if h.id == run.workflow_id), None)
        if hook is not None and (settings := ctx.view.subagent(hook.subagent_id)) is not None:
            env["ARA_SUBAGENT_ID"] = settings.id
            for name, value in (
                ("ARA_TIMEOUT_SECONDS", settings.timeout_seconds),
                ("ARA_MAX_RETRIES", settings.max_retries),
                ("ARA_RETRY_BACKOFF_SECONDS", settings.retry_backoff_seconds),
            ):
                if value is not None:
                    env[name] = f"{value:g}" if isinstance(value, float) else str(value)
        entry, code, out, _err, error = await _run_shell(
            ctx, command, env=env, event_type="hook.output", timeout=ctx.timeout_seconds
        )
        await ctx.trace.add(entry)
        return RunOutcome(
            "failed" if error else "completed",
            out[-MAX_OUTPUT_CHARS:],
            ctx.trace.entries,
            error,
            extra={"exit_code": code},
        )


# -------------------------------------------------------------------------------------- agents


class AgentExecutor:
    """An agent turn: the agent loop with the app's tools, or the agent's command adapter.

    The agent's instructions are its prompt function's output, else its instructions; a run that
    carries a ``task`` (event and schedule runs) gets it appended, and a subagent declared with its
    own working directory gets the shared-sandbox guardrail preamble first.
    """

    async def execute(self, ctx: ExecutionContext) -> RunOutcome:
        """Run the agent `ctx.run.agent_id` (a handler of that id when no agent has it)."""
        run, view = ctx.run, ctx.view
        if view.agent(run.agent_id) is None:
            if handler_row(view, run.agent_id) is not None:
                return await HandlerExecutor().execute(ctx, handler_id=run.agent_id)
            agents = ", ".join(view.agent_ids()) or "none"
            error = f"agent {run.agent_id!r} not found in app {run.app_slug!r}; agents: {agents}"
            return RunOutcome("failed", "", [], error)
        adapter = _adapter(view, run.agent_id)
        if adapter is not None:
            return await _run_adapter(ctx, adapter)
        return await execute_agent_run(
            view,
            run.agent_id,
            run.input,
            workdir=ctx.workdir,
            provider=ctx.provider,
            tool_timeout_seconds=ctx.tool_timeout_seconds,
            env=ctx.env,
            python=ctx.python,
            instructions=_instructions(ctx),
            trace=ctx.trace,
            cancel=ctx.cancel,
        )


def _instructions(ctx: ExecutionContext) -> str:
    run, view = ctx.run, ctx.view
    text = view.instructions(run.agent_id)
    task = str(run.input.get("task") or "").strip()
    if task and task != text.strip():
        text = f"{text}\n\n{task}" if text else task
    settings = view.subagent(run.agent_id)
    if settings is not None and settings.guardrails:
        text = (
            task_guardrail_prefix(
                app_slug=run.app_slug,
                subagent_id=settings.id,
                workflow_id=settings.workflow_id,
                working_dir=settings.working_dir,
                timeout_seconds=int(settings.timeout_seconds or 120),
                max_retries=int(settings.max_retries if settings.max_retries is not None else 2),
                retry_backoff_seconds=int(settings.retry_backoff_seconds or 5),
            )
            + text
        )
    return text


def _adapter(view: ManifestView, agent_id: str) -> dict[str, Any] | None:
    """The command adapter an agent runs through: its own runtime's, else the app's."""
    settings = view.subagent(agent_id)
    for block in (settings.runtime.adapter if settings is not None else None, view.runtime().adapter):
        if isinstance(block, dict) and str(block.get("entrypoint") or "").strip():
            return dict(block)
    return None


async def _run_adapter(ctx: ExecutionContext, adapter: dict[str, Any]) -> RunOutcome:
    """Run the agent through its command adapter (stdio transport).

    The adapter's ``entrypoint`` and ``args`` run with bash in the app's working directory (or in
    its artifact's directory, fetched first), with the adapter's ``env``; the standard input is one
    JSON object ``{"app_id", "run_id", "agent_id", "workflow_id", "instructions", "input"}``. The
    standard output is the answer: a JSON object's ``output_text`` or ``response`` field, else the
    whole text. Exit status 0 completes the run.
    """
    from ._artifacts import ArtifactError, ensure_artifact

    run = ctx.run
    cwd = ctx.workdir
    artifact = adapter.get("artifact")
    if isinstance(artifact, dict):
        try:
            cwd = await ensure_artifact(artifact, ctx.workdir)
        except ArtifactError as exc:
            return RunOutcome("failed", "", ctx.trace.entries, f"adapter artifact: {exc}")
    args = [str(a) for a in adapter.get("args") or []]
    command = " ".join([str(adapter["entrypoint"]), *(shlex.quote(a) for a in args)])
    extra_env = {str(k): str(v) for k, v in (adapter.get("env") or {}).items()}
    request = {
        "app_id": run.app_id,
        "run_id": run.run_id,
        "agent_id": run.agent_id,
        "workflow_id": run.workflow_id,
        "instructions": _instructions(ctx),
        "input": dict(run.input),
    }
    entry, code, out, _err, error = await _run_shell(
        ctx,
        command,
        env={**ctx.env, **extra_env},
        event_type="adapter.output",
        timeout=ctx.timeout_seconds,
        stdin=json.dumps(request, default=str).encode(),
        cwd=cwd,
    )
    entry.update(type="adapter", framework=str(adapter.get("framework") or "custom"))
    await ctx.trace.add(entry)
    text = out.strip()
    try:
        parsed = json.loads(text) if text.startswith("{") else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        text = str(parsed.get("output_text") or parsed.get("response") or text)
    return RunOutcome(
        "failed" if error else "completed",
        "" if error else text,
        ctx.trace.entries,
        error,
        extra={"exit_code": code},
    )


# ------------------------------------------------------------------------------------ pipelines


class PipelineExecutor:
    """A pipeline workflow's steps in order (tool steps in the sandbox, agent steps through the
    agent loop), or one scheduled tool call (kind ``tool``, input ``{"tool_name", "args"}``).

    Each step has its own timeout; the first failing step fails the run and later steps do not run.
    The output is the last step's result.
    """

    async def execute(self, ctx: ExecutionContext) -> RunOutcome:
        """Run the steps."""
        run, view = ctx.run, ctx.view
        if run.kind == "tool":
            steps: tuple[PipelineStep, ...] = (
                PipelineStep(
                    id=f"{run.workflow_id}--tool",
                    kind="tool",
                    tool_name=str(run.input.get("tool_name") or ""),
                    args=dict(run.input.get("args") or {}),
                ),
            )
        else:
            target = view.target(run.workflow_id)
            if target is None or target.kind != "pipeline":
                return RunOutcome(
                    "failed", "", [], f"workflow {run.workflow_id!r} is not a pipeline of this app"
                )
            steps = target.steps
        await ctx.sink.log("info", "pipeline.started", f"workflow {run.workflow_id} ({len(steps)} steps)")
        last: Any = None
        error: str | None = None
        for index, step in enumerate(steps):
            started = time.perf_counter()
            if step.kind == "agent":
                last, error = await self._agent_step(ctx, step)
            else:
                last, error = await self._tool_step(ctx, step)
            await ctx.sink.log(
                "error" if error else "info",
                "pipeline.step",
                f"step {index + 1}/{len(steps)} {step.id} {'failed: ' + error if error else 'completed'}"
                f" ({(time.perf_counter() - started) * 1000:.0f} ms)",
            )
            if error:
                break
        text = last if isinstance(last, str) else json.dumps(last, default=str)
        return RunOutcome("failed" if error else "completed", "" if error else text, ctx.trace.entries, error)

    async def _tool_step(self, ctx: ExecutionContext, step: PipelineStep) -> tuple[Any, str | None]:
        name = step.tool_name if isinstance(step.tool_name, str) else ""
        args = dict(step.args) if isinstance(step.args, dict) else {}
        timeout = ctx.step_timeout_seconds or ctx.tool_timeout_seconds
        toolbox = AppToolbox(
            ctx.view,
            workdir=ctx.workdir,
            timeout_seconds=timeout,
            env=ctx.env,
            python=ctx.python,
            cancel=ctx.cancel,
        )
        started = time.perf_counter()
        res = await toolbox.call(step.id, name, args)
        error = None
        if not res.ok:
            error = res.error or "failed"
            if error.startswith("ArgumentError: "):
                error = f"{name}: {error.removeprefix('ArgumentError: ')}"
            elif not error.startswith("LookupError: "):
                error = f"tool {name} failed: {error}"
        entry: dict[str, Any] = {
            "type": "tool_call",
            "step_id": step.id,
            "tool": name,
            "arguments": res.arguments if res.arguments is not None else args,
            "result": res.result if res.ok else None,
            "error": error,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        if res.logs:
            entry["logs"] = res.logs
        await ctx.trace.add(entry)
        return res.result, error

    async def _agent_step(self, ctx: ExecutionContext, step: PipelineStep) -> tuple[Any, str | None]:
        agent_id = step.agent_id if isinstance(step.agent_id, str) else ""
        step_input = step.input if isinstance(step.input, dict) else {}
        started = time.perf_counter()
        if ctx.view.agent(agent_id) is None:
            error: str | None = f"pipeline step {step.id!r}: agent {agent_id!r} not found"
            output = ""
        else:
            timeout = ctx.step_timeout_seconds or ctx.timeout_seconds
            inner = Trace(None)
            try:
                outcome = await asyncio.wait_for(
                    execute_agent_run(
                        ctx.view,
                        agent_id,
                        {**step_input},
                        workdir=ctx.workdir,
                        provider=ctx.provider,
                        tool_timeout_seconds=ctx.tool_timeout_seconds,
                        env=ctx.env,
                        python=ctx.python,
                        trace=inner,
                        cancel=ctx.cancel,
                    ),
                    timeout,
                )
                output, error = outcome.output_text, outcome.error
            except TimeoutError:
                output, error = "", f"pipeline step {step.id!r} timed out after {timeout:g} s"
        await ctx.trace.add(
            {
                "type": "pipeline_step",
                "step_id": step.id,
                "agent_id": agent_id,
                "result": output,
                "error": error,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            }
        )
        return output, error


# ------------------------------------------------------------------------------------- handlers

_HANDLER_SHIM = '''

def __ara_call_handler__(request, context):
    import inspect as _inspect

    class _Context(dict):
        """The run context: keys also readable as attributes (ctx.run_id or ctx["run_id"])."""

        def __getattr__(self, name):
            try:
                return self[name]
            except KeyError:
                raise AttributeError(name) from None

    fn = globals()[__ARA_HANDLER_NAME__]
    params = list(_inspect.signature(fn).parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        count = 2
    else:
        required = [p for p in positional if p.default is p.empty]
        count = min(len(positional), 2) if len(required) <= 2 else len(required)
    if count == 0:
        return fn()
    if count == 1:
        return fn(request)
    return fn(request, _Context(context))
'''


def handler_row(view: ManifestView, handler_id: str) -> HandlerRow | None:
    """The ``agent.handlers[]`` row with this id, or ``None``."""
    block = view.manifest.agent
    if isinstance(block, UnsetType) or isinstance(block.handlers, UnsetType):
        return None
    return next((h for h in block.handlers if h.id == handler_id), None)


class HandlerExecutor:
    """An ``@app.handler`` function, called in the sandbox by its number of parameters.

    * 0 parameters: ``handler()``;
    * 1: ``handler(request)``;
    * 2: ``handler(request, ctx)``.

    ``request`` is the run input with ``message`` (default ``""``) and ``history`` (default ``[]``)
    always present; ``ctx`` is a dict whose keys are also attributes: ``app_id``, ``app_slug``,
    ``run_id``, ``attempt``, ``idempotency_key``, ``handler_id``, ``workflow_id``,
    ``description``. A returned string is the answer; a dict's ``response`` field is; anything
    else is the answer as JSON.
    """

    async def execute(self, ctx: ExecutionContext, handler_id: str | None = None) -> RunOutcome:
        """Call the handler `handler_id` (default: the run's workflow id)."""
        run = ctx.run
        hid = handler_id or run.workflow_id or run.agent_id
        row = handler_row(ctx.view, hid)
        if row is None or not isinstance(row.source, str) or not row.source:
            return RunOutcome(
                "failed", "", [], f"handler {hid!r} not found (or has no source) in app {run.app_slug!r}"
            )
        name = row.function_name if isinstance(row.function_name, str) else row.id
        source = row.source + _HANDLER_SHIM.replace("__ARA_HANDLER_NAME__", repr(name))
        data = dict(run.input)
        request = {
            **data,
            "message": str(data.get("message") or ""),
            "history": list(data.get("history") or []),
        }
        context = {
            "app_id": run.app_id,
            "app_slug": run.app_slug,
            "run_id": run.run_id,
            "attempt": run.attempt,
            "idempotency_key": run.idempotency_key or run.run_id,
            "handler_id": row.id,
            "workflow_id": run.workflow_id or row.id,
            "description": row.description if isinstance(row.description, str) else "",
        }
        started = time.perf_counter()
        res = await run_function(
            source=source,
            function_name="__ara_call_handler__",
            mode="tool",
            payload={"request": request, "context": context},
            workdir=ctx.workdir,
            timeout_seconds=ctx.step_timeout_seconds or ctx.timeout_seconds or ctx.tool_timeout_seconds,
            env=ctx.env,
            python=ctx.python,
            cancel=ctx.cancel,
        )
        entry: dict[str, Any] = {
            "type": "handler",
            "handler_id": row.id,
            "function_name": name,
            "result": res.result if res.ok else None,
            "error": None if res.ok else res.error,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        if res.logs:
            entry["logs"] = res.logs
            for line in res.logs.splitlines()[-MAX_LOGGED_LINES:]:
                await ctx.sink.log("info", "handler.output", line[:2000])
        await ctx.trace.add(entry)
        if not res.ok:
            return RunOutcome("failed", "", ctx.trace.entries, f"handler {row.id} failed: {res.error}")
        value = res.result
        if isinstance(value, dict) and "response" in value:
            value = value["response"]  # pyright: ignore[reportUnknownVariableType]
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        return RunOutcome("completed", text, ctx.trace.entries, None)


# ------------------------------------------------------------------------------------ dispatch

_EXECUTORS: dict[str, Executor] = {
    "agent": AgentExecutor(),
    "pipeline": PipelineExecutor(),
    "tool": PipelineExecutor(),
    "command": CommandExecutor(),
    "handler": HandlerExecutor(),
}


def executor_for(kind: str) -> Executor:
    """The executor of a run kind (``agent``, ``pipeline``, ``tool``, ``command``, ``handler``).

    Raises:
        KeyError: An unknown kind.
    """
    return _EXECUTORS[kind or "agent"]


async def execute_run(ctx: ExecutionContext) -> RunOutcome:
    """Execute `ctx.run` with its executor within `ctx.timeout_seconds`.

    Returns:
        The outcome; an unknown kind or the run timeout give a ``failed`` outcome.
    """
    try:
        executor = executor_for(ctx.run.kind)
    except KeyError:
        return RunOutcome("failed", "", [], f"unknown run kind {ctx.run.kind!r}")
    if ctx.timeout_seconds is None:
        return await executor.execute(ctx)
    try:
        return await asyncio.wait_for(executor.execute(ctx), ctx.timeout_seconds + 1.0)
    except TimeoutError:
        return RunOutcome("failed", "", ctx.trace.entries, f"run timed out after {ctx.timeout_seconds:g} s")


# ------------------------------------------------------------------------------------- startup


async def run_startup(ctx: ExecutionContext, startup: StartupSpec) -> RunOutcome:
    """Run the app's ``startup`` entrypoint (``runtime(startup=entrypoint(...))``) once.

    ``<shell> -c "<entrypoint> <args...>"`` runs in the app's working directory with the app's
    environment; each output line goes to the app log as ``startup.output``.

    Args:
        ctx: The context (its `run` names the deployed version; `timeout_seconds` limits it).
        startup: The startup declaration.

    Returns:
        ``completed`` on exit status 0, else ``failed`` with the reason.
    """
    args = () if isinstance(startup.args, UnsetType) else startup.args
    command = " ".join([startup.entrypoint, *(shlex.quote(a) for a in args)])
    shell = startup.shell if isinstance(startup.shell, str) and startup.shell.strip() else "bash"
    if shell != "bash":
        command = f"{shlex.quote(shell)} -c {shlex.quote(command)}"
    entry, code, out, _err, error = await _run_shell(
        ctx, command, env=dict(ctx.env), event_type="startup.output", timeout=ctx.timeout_seconds
    )
    entry["type"] = "startup"
    await ctx.trace.add(entry)
    return RunOutcome(
        "failed" if error else "completed",
        out[-MAX_OUTPUT_CHARS:],
        ctx.trace.entries,
        error,
        extra={"exit_code": code},
    )
