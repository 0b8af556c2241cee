"""Executing runs: synchronous runs inline, async runs from a durable queue, webhook deliveries."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import random
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import structlog
from ara_core import ArgumentError, coerce_arguments, strip_private
from ara_http import ApiError, AsyncHttpClient

from ._scheduler import Scheduler
from ._settings import Settings
from ._store import Store, now
from .engine import ModelProvider, execute_agent_run, run_function

__all__ = ["RunService", "sign_delivery"]

log = structlog.get_logger("ara_server.runs")

WEBHOOK_ATTEMPTS = 5


def sign_delivery(secret: str, timestamp: str, delivery_id: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, "<timestamp>.<delivery id>.<raw body>")>` (spec §3.3)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{delivery_id}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


FILES_STAMP = ".ara-files.sha256"


def materialize_files(workdir: Path, manifest: dict[str, Any]) -> None:
    """Write the app's `runtime_profile.files` into its working directory (spec §2.4).

    A stamp of the files' digest makes this a no-op when the same files are already there (every
    run calls it, so a node that did not handle the deploy still gets them); a shipped file that a
    run deleted is written again.
    """
    files = (manifest.get("runtime_profile") or {}).get("files") or []
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    workdir.mkdir(parents=True, exist_ok=True)
    stamp = workdir / FILES_STAMP
    targets = [(workdir / str(item["path"]).lstrip("/")).resolve() for item in files]
    if stamp.is_file() and stamp.read_text() == digest and all(t.exists() for t in targets):
        return
    for item, target in zip(files, targets, strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(str(item.get("content") or ""), encoding="utf-8")
        target.chmod(0o755 if item.get("executable") else 0o644)
    stamp.write_text(digest)


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


class RunService:
    """Runs agents for one server node.

    Args:
        settings: Server settings.
        store: The store.
        provider: Model provider (default: from the environment, per run).
    """

    def __init__(self, settings: Settings, store: Store, provider: ModelProvider | None = None) -> None:
        self.settings, self.store, self.provider = settings, store, provider
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._log_event = asyncio.Event()

    # ------------------------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Re-queue runs a crash left running and start the async workers."""
        requeued = await self.store.requeue_running()
        if requeued:
            log.info("requeued interrupted runs", count=requeued)
        for n in range(max(1, self.settings.workers)):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"ara-run-worker-{n}"))
        if self.settings.scheduler_interval_seconds > 0:
            self._tasks.append(asyncio.create_task(self._schedule_loop(), name="ara-scheduler"))

    async def _schedule_loop(self) -> None:
        scheduler = Scheduler(self.store)
        while True:
            try:
                if await scheduler.tick():
                    self.notify()
            except Exception:  # a bad manifest or a database hiccup must not stop the scheduler
                log.exception("scheduler tick failed")
            await asyncio.sleep(self.settings.scheduler_interval_seconds)

    async def stop(self) -> None:
        """Stop the workers (queued runs stay queued for the next start)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def notify(self) -> None:
        """Wake a worker: a run was queued."""
        self._wake.set()

    async def wait_for_logs(self, timeout: float) -> None:
        """Return when a log line is added or after `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._log_event.wait(), timeout)

    async def log(self, app_id: str, run_id: str | None, level: str, event_type: str, message: str) -> None:
        """Append a log line and wake log streams."""
        await self.store.add_log(app_id, run_id, level, event_type, message)
        self._log_event.set()
        self._log_event = asyncio.Event()

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
            **await self.store.secret_env(app_id),
            "ARA_APP_ID": app_id,
            "ARA_APP_SLUG": app["slug"],
            "ARA_RUN_ID": run_id,
            "ARA_IDEMPOTENCY_KEY": str(
                run.get("idempotency_key") or run["input"].get("idempotency_key") or run_id
            ),
        }
        await self.store.update_run(run_id, status="running", started_at=now())
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
            await self.store.update_run(run["run_id"], status="failed", error=error, finished_at=now())
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
        await self.store.update_run(
            run_id, status=status, result=result, error=error, trace=trace, finished_at=now()
        )
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
        await self.store.update_run(
            run_id, status=status, result=result, error=error, trace=trace, finished_at=now()
        )
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
        await self.store.update_run(
            run_id, status=status, result=result, error=error, trace=trace, finished_at=now()
        )
        await self.log(
            app_id, run_id, "error" if error else "info", f"run.{status}", error or "hook completed"
        )
        return {**run, "status": status, "result": result, "error": error, "trace": trace}

    async def _worker(self) -> None:
        while True:
            run = await self.store.claim_queued_run()
            if run is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=1.0)
                continue
            app = await self.store.app(run["app_id"])
            if app is None:
                continue
            try:
                done = await self.execute(app, run)
            except Exception as exc:  # a bug must not kill the worker; the run records it
                log.exception("run crashed", run_id=run["run_id"])
                await self.store.update_run(
                    run["run_id"], status="failed", error=f"internal error: {exc}", finished_at=now()
                )
                done = {**run, "status": "failed", "error": f"internal error: {exc}"}
            if run.get("callback"):
                asyncio.create_task(self.deliver(app, done))

    # --------------------------------------------------------------------------------- webhooks
    async def deliver(self, app: dict[str, Any], run: dict[str, Any]) -> bool:
        """POST the finished run to its callback URL, signed, retried with backoff. Returns success."""
        callback = run.get("callback") or {}
        event = "run.completed" if run["status"] == "completed" else "run.failed"
        if event not in (callback.get("events") or ["run.completed", "run.failed"]):
            return True
        body = json.dumps(
            {"event": event, "app_id": app["id"], "run": public_run(run)}, default=str, separators=(",", ":")
        ).encode()
        delivery_id = f"dlv_{uuid.uuid4().hex[:16]}"
        async with AsyncHttpClient(str(callback["url"]), timeout=10.0) as client:
            for attempt in range(WEBHOOK_ATTEMPTS):
                stamp = str(int(time.time()))
                headers = {
                    "X-Ara-Timestamp": stamp,
                    "X-Ara-Delivery-Id": delivery_id,
                    "X-Ara-Event": event,
                    "X-Ara-Signature": sign_delivery(
                        str(callback.get("secret") or ""), stamp, delivery_id, body
                    ),
                }
                try:
                    await client.request("POST", "", json=json.loads(body), headers=headers, auth=None)
                    await self.log(
                        app["id"],
                        run["run_id"],
                        "info",
                        "webhook.delivered",
                        f"{event} delivered to callback",
                    )
                    return True
                except ApiError as exc:
                    await self.log(
                        app["id"],
                        run["run_id"],
                        "warning",
                        "webhook.retry",
                        f"delivery attempt {attempt + 1} failed: {exc}",
                    )
                await asyncio.sleep(min(30.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.0))
        return False
