"""Runs: starting them (sync inline, async queued), executing agent, pipeline, tool and command runs,
and the wire shape of a run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ara_core import ArgumentError, coerce_arguments, new_run_id, strip_private

from ..engine import ModelProvider, execute_agent_run, run_function
from ..errors import ApiProblem
from ..settings import Settings
from ..store import Store, now, runs, secrets
from .deploy import materialize_files
from .logbus import LogBus

__all__ = ["RunService", "public_run", "resolve_agent"]


def public_run(row: dict[str, Any]) -> dict[str, Any]:
    """The wire shape of a stored run."""
    out: dict[str, Any] = {
        "run_id": row["run_id"],
        "agent_id": row["agent_id"],
        "workflow_id": row.get("workflow_id") or row["agent_id"],
        "kind": row.get("kind") or "agent",
        "status": row["status"],
        "created_at": _iso(row.get("created_at")),
        "started_at": _iso(row.get("started_at")),
        "finished_at": _iso(row.get("finished_at")),
    }
    if row.get("result") is not None:
        out["result"] = row["result"]
    if row.get("error"):
        out["error"] = row["error"]
    if row.get("trace"):
        out["trace"] = row["trace"]
    return out


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else value


def resolve_agent(app: dict[str, Any], requested: str) -> str:
    """The agent a run request names: an agent id, a workflow id of an agent workflow, or (when
    `requested` is empty) the default agent.

    Raises:
        ApiProblem: 404 `agent_not_found`.
    """
    agent_block = app["manifest"].get("agent") or {}
    agents = [a.get("id") for a in agent_block.get("agents") or []]
    agent_id = str(requested or agent_block.get("default_agent_id") or "")
    if agent_id not in agents:
        workflows = {w.get("id"): w.get("agent_id") for w in app["manifest"].get("workflows") or []}
        if workflows.get(agent_id) in agents:
            return str(workflows[agent_id])
        raise ApiProblem(
            404,
            "agent_not_found",
            f"agent {agent_id!r} not found in app {app['slug']!r}; agents: {', '.join(map(str, agents)) or 'none'}",
        )
    return agent_id


class RunService:
    """Runs agents for one server node.

    Args:
        settings: Server settings.
        store: The store.
        logbus: Where run log lines go (default: a new one on `store`).
        provider: Model provider (default: from the environment, per run).
        notify: Called when a run was queued (wakes the workers).
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        logbus: LogBus | None = None,
        provider: ModelProvider | None = None,
        notify: Callable[[], None] | None = None,
    ) -> None:
        self.settings, self.store, self.provider = settings, store, provider
        self.logbus = logbus or LogBus(store)
        self.notify = notify or (lambda: None)

    async def log(self, app_id: str, run_id: str | None, level: str, event_type: str, message: str) -> None:
        """Append a log line (see `LogBus.log`)."""
        await self.logbus.log(app_id, run_id, level, event_type, message)

    async def _update(self, run_id: str, **values: Any) -> None:
        await self.store.run(runs.update_run, run_id, **values)

    async def get(self, app_id: str, run_id: str) -> dict[str, Any] | None:
        """A run of an app, or `None`."""
        return await self.store.run(runs.get_run, app_id, run_id)

    async def run_sync(self, app: dict[str, Any], agent_id: str, run_input: dict[str, Any]) -> dict[str, Any]:
        """Start a sync run of `agent_id` and execute it now. The run id is `run_input["run_id"]` or new.

        Returns:
            The finished run row.

        Raises:
            ApiProblem: 409 `run_exists` when the run id is taken.
        """
        run_id = str(run_input.get("run_id") or new_run_id())
        row, created = await runs.insert_run(
            self.store,
            {
                "run_id": run_id,
                "app_id": app["id"],
                "agent_id": agent_id,
                "mode": "sync",
                "status": "running",
                "input": run_input,
            },
        )
        if not created:
            raise ApiProblem(409, "run_exists", f"run {run_id!r} already exists; use a new run_id")
        return await self.execute(app, row)

    async def submit(
        self,
        app: dict[str, Any],
        agent_id: str,
        run_input: dict[str, Any],
        *,
        run_id: str | None,
        idempotency_key: str | None,
        callback: dict[str, Any] | None,
    ) -> tuple[dict[str, Any], bool]:
        """Queue an async run (idempotent per key). Returns `(run row, created)`."""
        row, created = await runs.insert_run(
            self.store,
            {
                "run_id": run_id or new_run_id(),
                "app_id": app["id"],
                "agent_id": agent_id,
                "mode": "async",
                "status": "queued",
                "input": run_input,
                "idempotency_key": idempotency_key,
                "callback": callback,
            },
        )
        if created:
            await self.log(app["id"], row["run_id"], "info", "run.queued", f"agent {agent_id} queued")
            self.notify()
        return row, created

    # ---------------------------------------------------------------------------------- running
    async def _start(
        self, app: dict[str, Any], run: dict[str, Any], event_type: str, message: str
    ) -> tuple[Path, dict[str, str]]:
        """Ship the app's files, build the run's environment (runtime env, secrets, `ARA_*`), mark
        the run running and log it. Returns `(working dir, environment)`."""
        manifest, app_id, run_id = app["manifest"], app["id"], run["run_id"]
        workdir = self.settings.app_dir(app_id)
        await asyncio.to_thread(materialize_files, workdir, manifest)
        env = {
            **(strip_private(manifest.get("runtime_profile")).get("env") or {}),
            **await self.store.run(secrets.secret_env, self.store.box, app_id),
            "ARA_APP_ID": app_id,
            "ARA_APP_SLUG": app["slug"],
            "ARA_RUN_ID": run_id,
            "ARA_IDEMPOTENCY_KEY": str(
                run.get("idempotency_key") or run["input"].get("idempotency_key") or run_id
            ),
        }
        await self._update(run_id, status="running", started_at=now())
        await self.log(app_id, run_id, "info", event_type, message)
        return workdir, env

    async def execute(self, app: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
        """Run `run` of `app` now and persist the outcome. Returns the updated run row."""
        if run.get("kind") == "command":
            return await self.execute_command(app, run)
        if run.get("kind") in ("pipeline", "tool"):
            return await self.execute_steps(app, run)
        manifest = app["manifest"]
        agents = [a.get("id") for a in (manifest.get("agent") or {}).get("agents") or []]
        if run["agent_id"] not in agents:
            error = f"agent {run['agent_id']!r} not found in app {app['slug']!r}; agents: {', '.join(map(str, agents)) or 'none'}"
            await self._update(run["run_id"], status="failed", error=error, finished_at=now())
            await self.log(app["id"], run["run_id"], "error", "run.failed", error)
            return {**run, "status": "failed", "error": error, "result": None, "trace": []}
        app_id, run_id = app["id"], run["run_id"]
        workdir, env = await self._start(app, run, "run.started", f"agent {run['agent_id']} started")

        async def on_event(entry: dict[str, Any]) -> None:
            if entry["type"] == "tool_call":
                level = "error" if entry.get("error") else "info"
                text = f"tool {entry['tool']} {'failed: ' + entry['error'] if entry.get('error') else 'ok'} ({entry.get('duration_ms', 0):.0f} ms)"
                await self.log(app_id, run_id, level, "tool.call", text)

        try:
            outcome = await asyncio.wait_for(
                execute_agent_run(
                    manifest,
                    run["agent_id"],
                    run["input"],
                    workdir=workdir,
                    provider=self.provider,
                    tool_timeout_seconds=self.settings.tool_timeout_seconds,
                    env=env,
                    on_event=on_event,
                ),
                timeout=self.settings.run_timeout_seconds,
            )
            status, error, trace = outcome.status, outcome.error, outcome.trace
            result = {"output_text": outcome.output_text, "tool_calls": outcome.tool_calls}
        except TimeoutError:
            status, error, trace, result = (
                "failed",
                f"run timed out after {self.settings.run_timeout_seconds:g} s",
                [],
                None,
            )
        await self._update(run_id, status=status, result=result, error=error, trace=trace, finished_at=now())
        await self.log(
            app_id,
            run_id,
            "error" if status == "failed" else "info",
            f"run.{status}",
            error or f"agent {run['agent_id']} completed",
        )
        return {
            **run,
            "status": status,
            "result": result,
            "error": error,
            "trace": trace,
            "finished_at": now(),
            "started_at": run.get("started_at") or now(),
        }

    async def execute_steps(self, app: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
        """Run a pipeline workflow's steps in order (tool steps in the sandbox, agent steps through the
        agent loop), or a single scheduled tool call (`kind == "tool"`). The first failing step fails the run."""
        manifest = app["manifest"]
        app_id, run_id = app["id"], run["run_id"]
        if run.get("kind") == "tool":
            steps = [
                {
                    "id": f"{run.get('workflow_id')}--tool",
                    "kind": "tool",
                    "tool_name": run["input"].get("tool_name"),
                    "args": run["input"].get("args") or {},
                }
            ]
        else:
            workflow = next(
                (w for w in manifest.get("workflows") or [] if w.get("id") == run.get("workflow_id")), {}
            )
            steps = list(workflow.get("pipeline") or [])
        workdir, env = await self._start(
            app, run, "run.started", f"workflow {run.get('workflow_id')} started ({len(steps)} steps)"
        )
        tools = {
            t["function"]["name"]: t
            for t in (manifest.get("agent") or {}).get("tools") or []
            if t.get("function")
        }
        trace: list[dict[str, Any]] = []
        error: str | None = None
        last: Any = None
        for step in steps:
            started = time.perf_counter()
            if step.get("kind") == "agent":
                outcome = await execute_agent_run(
                    manifest,
                    str(step.get("agent_id")),
                    dict(step.get("input") or {}),
                    workdir=workdir,
                    provider=self.provider,
                    tool_timeout_seconds=self.settings.tool_timeout_seconds,
                    env=env,
                )
                entry = {
                    "type": "pipeline_step",
                    "step_id": step.get("id"),
                    "agent_id": step.get("agent_id"),
                    "result": outcome.output_text,
                    "error": outcome.error,
                }
                last, error = outcome.output_text, outcome.error
            else:
                name = str(step.get("tool_name"))
                tool = tools.get(name)
                entry = {
                    "type": "tool_call",
                    "step_id": step.get("id"),
                    "tool": name,
                    "arguments": step.get("args") or {},
                    "result": None,
                    "error": None,
                }
                if tool is None:
                    error = f"unknown tool {name!r}; the app's tools are {sorted(tools)}"
                else:
                    try:
                        args = coerce_arguments(
                            tool["function"].get("parameters"), dict(step.get("args") or {})
                        )
                        res = await run_function(
                            source=tool.get("source") or "",
                            function_name=tool.get("function_name") or name,
                            mode="tool",
                            payload=args,
                            workdir=workdir,
                            timeout_seconds=self.settings.tool_timeout_seconds,
                            env=env,
                        )
                        last, error = res.result, (None if res.ok else f"tool {name} failed: {res.error}")
                        entry.update(arguments=args, result=res.result if res.ok else None)
                    except ArgumentError as exc:
                        error = f"{name}: {exc}"
                entry["error"] = error
            entry.update(seq=len(trace), duration_ms=round((time.perf_counter() - started) * 1000, 2))
            trace.append(entry)
            if error:
                break
        status = "failed" if error else "completed"
        text = last if isinstance(last, str) else json.dumps(last, default=str)
        result = {
            "output_text": text,
            "tool_calls": [
                {"name": e["tool"], "arguments": e["arguments"], "result": e["result"], "error": e["error"]}
                for e in trace
                if e["type"] == "tool_call"
            ],
        }
        await self._update(run_id, status=status, result=result, error=error, trace=trace, finished_at=now())
        await self.log(
            app_id, run_id, "error" if error else "info", f"run.{status}", error or "workflow completed"
        )
        return {**run, "status": status, "result": result, "error": error, "trace": trace}

    async def execute_command(self, app: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
        """Run a run-mode workflow's shell command (a hook) in the app's working directory.

        The command gets the app's env and secrets, `ARA_RUN_ID`, `ARA_IDEMPOTENCY_KEY`, and the
        event as JSON in `ARA_EVENT`; its output lines become log lines; exit status 0 completes the run.
        """
        manifest = app["manifest"]
        app_id, run_id = app["id"], run["run_id"]
        workflow = next(
            (w for w in manifest.get("workflows") or [] if w.get("id") == run.get("workflow_id")), None
        )
        command = str(((workflow or {}).get("run") or {}).get("command") or "")
        workdir, app_env = await self._start(
            app, run, "hook.started", f"workflow {run.get('workflow_id')} started"
        )
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(workdir),
            "LANG": "C.UTF-8",
            **app_env,
            "ARA_EVENT": json.dumps(run.get("input") or {}),
        }
        started = time.perf_counter()
        error: str | None = None
        if not command:
            code, out, err = 127, "", f"workflow {run.get('workflow_id')!r} has no command"
        else:
            proc = await asyncio.create_subprocess_exec(
                "bash",
                "-c",
                command,
                cwd=str(workdir),
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
            try:
                raw_out, raw_err = await asyncio.wait_for(
                    proc.communicate(), self.settings.run_timeout_seconds
                )
                code, out, err = (
                    proc.returncode or 0,
                    raw_out.decode("utf-8", "replace"),
                    raw_err.decode("utf-8", "replace"),
                )
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
                code, out, err = -9, "", ""
                error = f"command timed out after {self.settings.run_timeout_seconds:g} s"
        for line in out.splitlines()[-200:]:
            await self.log(app_id, run_id, "info", "hook.output", line[:2000])
        status = "completed" if code == 0 and error is None else "failed"
        if status == "failed" and error is None:
            error = f"command exited with status {code}: {err.strip()[-500:]}"
        trace = [
            {
                "seq": 0,
                "type": "command",
                "workflow_id": run.get("workflow_id"),
                "exit_code": code,
                "stdout": out[-8000:],
                "stderr": err[-8000:],
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            }
        ]
        result = {"output_text": out[-8000:], "exit_code": code}
        await self._update(run_id, status=status, result=result, error=error, trace=trace, finished_at=now())
        await self.log(
            app_id, run_id, "error" if error else "info", f"run.{status}", error or "hook completed"
        )
        return {**run, "status": status, "result": result, "error": error, "trace": trace}
