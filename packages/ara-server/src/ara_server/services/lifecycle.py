"""The run lifecycle of one node: claim a run with a lease, execute it under its timeout while a
heartbeat extends the lease, then complete, retry (with backoff), fail or cancel it.

Every run kind and mode goes through `Lifecycle.run_claimed`: async runs claimed by the workers,
sync runs claimed by the node that received the request in the transaction that stores them (or by
any worker when that node cannot take it), event hooks, schedules, pipelines and commands.
Executing is one call, `execute(app, run)` (the seam to the engine), which returns the attempt's
outcome; the lifecycle owns every status change, and each change is fenced on (`lease_owner`,
`attempt`), so a node that lost its lease can never overwrite the run's outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import structlog

from ..settings import Settings
from ..store import Store, apps, logs, now
from ..store import runs as runs_store
from .logbus import LogBus
from .outbox import Outbox, delivery_body
from .policy import ExecutionPolicy, backoff_seconds, execution_policy

__all__ = ["Execute", "Lifecycle", "Outcome"]

log = structlog.get_logger("ara_server.lifecycle")


@dataclass(slots=True)
class Outcome:
    """What one attempt of a run produced.

    Attributes:
        status: `completed` or `failed`.
        result: The run's result (JSON value).
        error: Why it failed.
        trace: The attempt's trace entries.
        retryable: A failed attempt may be retried (`False` for failures that another attempt
            cannot fix, e.g. an agent the manifest does not declare).
    """

    status: str
    result: Any = None
    error: str | None = None
    trace: list[dict[str, Any]] = field(default_factory=list)
    retryable: bool = True


#: The seam to the engine: run one attempt of `run` of `app` and return its outcome (an `Outcome`,
#: or a mapping / object with `status`, `result`, `error`, `trace`).
Execute = Callable[[dict[str, Any], dict[str, Any]], Awaitable[Any]]


def as_outcome(value: Any) -> Outcome:
    """An `Outcome` from what an executor returned."""
    if isinstance(value, Outcome):
        return value

    def get(name: str, default: Any = None) -> Any:
        return value.get(name, default) if isinstance(value, dict) else getattr(value, name, default)

    status = str(get("status") or "failed")
    return Outcome(
        status="completed" if status == "completed" else "failed",
        result=get("result"),
        error=get("error") or (None if status == "completed" else f"run ended with status {status!r}"),
        trace=list(get("trace") or []),
        retryable=bool(get("retryable", True)),
    )


def _finish_with_line(
    conn: sa.Connection,
    run_id: str,
    node_id: str,
    attempt: int,
    row: dict[str, Any],
    line: dict[str, Any],
) -> bool:
    """Transaction function: the run's final state (fenced on this node's lease and attempt) and
    its `run.<status>` log line, or nothing when the node no longer holds the run."""
    ended = runs_store.finish_run_sync(
        conn,
        run_id,
        node_id,
        attempt,
        status=row["status"],
        result=row["result"],
        error=row["error"],
        trace=row["trace"],
        at=row["finished_at"],
    )
    if ended:
        logs.add_logs(conn, [line])
    return ended


class _Attempt:
    """One attempt this node is executing."""

    __slots__ = ("attempt", "reason", "task")

    def __init__(self, attempt: int, task: asyncio.Task[Any]) -> None:
        self.attempt, self.task = attempt, task
        self.reason: str | None = None  # cancel | lost | shutdown


class Lifecycle:
    """Claims and executes runs for one node.

    Args:
        settings: Server settings (`node_id`, `lease_seconds`, `poll_seconds`, timeouts, backoff cap).
        store: The store.
        logbus: Where run log lines go.
        outbox: Stores the webhook of a finished run in the transaction that ends it.
        execute: Runs one attempt (see `Execute`).
        rng: Random source of the backoff jitter (tests pass a seeded one).
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        logbus: LogBus,
        outbox: Outbox,
        execute: Execute,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.settings, self.store, self.logbus, self.outbox = settings, store, logbus, outbox
        self.execute = execute
        self.rng = rng or random.Random()
        self.node_id = settings.node_id
        self._attempts: dict[str, _Attempt] = {}
        self._done: dict[str, tuple[asyncio.Event, list[int]]] = {}
        self._heartbeat: asyncio.Task[None] | None = None
        self._stopping = False
        self._active = 0  # run_claimed calls in progress (until their end is recorded)
        self._cancel_early: set[str] = set()  # cancelled after this node claimed them, before they started
        self.wakeup = asyncio.Event()

    @property
    def claiming_node(self) -> str | None:
        """This node's id while it claims runs; None once it is stopping (a sync run it stores then
        stays queued for the other nodes)."""
        return None if self._stopping else self.node_id

    # ------------------------------------------------------------------------------- node tasks
    def start(self) -> None:
        """Start the heartbeat (extends leases, observes cancel requests and lost leases, ends runs
        whose node died for good)."""
        self._stopping = False
        if self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._beat(), name="ara-run-heartbeat")

    async def stop(self) -> None:
        """Stop the heartbeat and hand the runs this node is executing back to the queue (another
        node, or this one after a restart, runs them again with the same attempt number)."""
        self._stopping = True
        for held in list(self._attempts.values()):
            held.reason = "shutdown"
            held.task.cancel()
        for held in list(self._attempts.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await held.task
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10.0
        while self._active and loop.time() < deadline:  # let them record the hand-back
            await asyncio.sleep(0.01)
        await self._flush_logs()
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None

    @property
    def heartbeat_seconds(self) -> float:
        """Interval of the heartbeat: a third of the lease, in seconds."""
        return max(0.05, self.settings.lease_seconds / 3)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                await self.beat()
            except Exception:  # the database went away for a moment: the next beat retries
                log.exception("heartbeat failed", node=self.node_id)

    async def beat(self) -> None:
        """One heartbeat: extend the leases held here, stop attempts that were cancelled or lost,
        end runs whose node died after their last attempt."""
        held = {run_id: a.attempt for run_id, a in self._attempts.items()}
        alive = await self.store.run(runs_store.heartbeat, self.node_id, held, self.settings.lease_seconds)
        for run_id, attempt in held.items():
            current = self._attempts.get(run_id)
            if current is None or current.attempt != attempt or current.task.done():
                continue
            if run_id not in alive:
                current.reason = "lost"
                current.task.cancel()
            elif alive[run_id]:
                current.reason = "cancel"
                current.task.cancel()
        ended = await self._end_lost()
        if ended:
            self.wakeup.set()

    async def _end_lost(self) -> list[dict[str, Any]]:
        async with self.store.begin() as conn:
            ended = await runs_store.end_lost_runs(conn)
            for row in ended:
                await logs.add_log(
                    conn, row["app_id"], row["run_id"], "error", f"run.{row['status']}", row["error"]
                )
                await self.outbox.enqueue(conn, row["app_id"], row)
        for row in ended:
            self._signal_done(row["run_id"])
        if ended:
            self.logbus.wake()
            self.outbox.notify()
        return ended

    # ---------------------------------------------------------------------------------- claiming
    async def claim(self, run_id: str | None = None) -> dict[str, Any] | None:
        """Claim one runnable run (or the run `run_id`) for this node; `None` when none can start."""
        if self._stopping:
            return None
        return await self.store.run(
            runs_store.claim_run, self.node_id, self.settings.lease_seconds, run_id=run_id
        )

    async def claim_and_run(self) -> bool:
        """Claim one runnable run and execute it to the end of its attempt. Returns whether a run
        was claimed."""
        run = await self.claim()
        if run is None:
            return False
        await self.run_claimed(run)
        return True

    # --------------------------------------------------------------------------------- executing
    def policy(self, app: dict[str, Any], run: dict[str, Any]) -> ExecutionPolicy:
        """The execution settings of `run` (from its app's manifest and the server's defaults); the
        run of an automation job retries as the job says (`input.automation.max_retries` and
        `retry_backoff_seconds`)."""
        policy = execution_policy(
            apps.app_view(app),
            app["id"],
            str(run.get("agent_id") or ""),
            str(run.get("workflow_id") or ""),
            default_timeout_seconds=self.settings.run_timeout_seconds,
        )
        data = run.get("input")
        job = data.get("automation") if isinstance(data, dict) else None  # pyright: ignore[reportUnknownMemberType]
        if isinstance(job, dict) and isinstance(job.get("max_retries"), int):  # pyright: ignore[reportUnknownMemberType]
            policy = replace(
                policy,
                max_retries=int(job["max_retries"]),  # pyright: ignore[reportUnknownArgumentType]
                retry_backoff_seconds=float(job.get("retry_backoff_seconds") or 0),  # pyright: ignore[reportUnknownArgumentType,reportUnknownMemberType]
            )
        return policy

    async def run_claimed(
        self, run: dict[str, Any], *, app: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Execute one claimed attempt and record its end (completed, retry, failed, cancelled).

        Args:
            run: The claimed run row.
            app: The run's app row, when the caller has it (else it is read).

        Returns:
            The run's final row when this attempt ended it (completed, failed or cancelled here);
            None when it goes on elsewhere (retry queued, lease lost, handed back).

        Raises:
            asyncio.CancelledError: The calling task was cancelled; the run was handed back to the
                queue first.
        """
        self._active += 1
        try:
            return await self._run_claimed(run, app)
        finally:
            self._active -= 1

    async def _run_claimed(self, run: dict[str, Any], app: dict[str, Any] | None) -> dict[str, Any] | None:
        run_id, attempt = run["run_id"], int(run["attempt"])
        if app is None or app.get("id") != run["app_id"]:
            app = await self.store.run(apps.get_app, run["app_id"])
        if app is None:
            return await self._end(
                run, Outcome("failed", error="the app of this run was deleted", retryable=False)
            )
        policy = self.policy(app, run)
        self.logbus.log_soon(
            app["id"],
            run_id,
            "info",
            "run.attempt",
            f"attempt {attempt} of {max(policy.max_attempts, attempt)} on node {self.node_id}",
        )
        task = asyncio.create_task(self._attempt(app, run, policy), name=f"ara-run-{run_id}")
        held = self._attempts[run_id] = _Attempt(attempt, task)
        if run_id in self._cancel_early:
            self._cancel_early.discard(run_id)
            held.reason = "cancel"
            task.cancel()
        try:
            outcome = await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                # the caller (a worker or a request) was cancelled: stop and hand the run back
                held.reason = held.reason or "shutdown"
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                self._forget(run_id, held)
                await self._release(run)
                raise
            outcome = None  # the attempt was cancelled before it started
        self._forget(run_id, held)
        if outcome is None:
            if held.reason == "cancel":
                return await self._end(
                    run, Outcome("failed", error="cancelled by request"), status="cancelled"
                )
            if held.reason == "lost":
                self.logbus.log_soon(
                    app["id"],
                    run_id,
                    "warning",
                    "run.lost",
                    f"attempt {attempt} lost its lease; another node has the run",
                )
            else:
                await self._release(run)
            return None
        return await self._settle(app, run, policy, outcome)

    def _forget(self, run_id: str, held: _Attempt) -> None:
        if self._attempts.get(run_id) is held:
            self._attempts.pop(run_id, None)

    async def _attempt(
        self, app: dict[str, Any], run: dict[str, Any], policy: ExecutionPolicy
    ) -> Outcome | None:
        """The attempt task: the executor under the run's timeout. `None` when it was cancelled."""
        try:
            async with asyncio.timeout(policy.timeout_seconds):
                return as_outcome(await self.execute(app, run))
        except TimeoutError:
            return Outcome("failed", error=f"run timed out after {policy.timeout_seconds:g} s")
        except asyncio.CancelledError:
            return None
        except Exception as exc:  # a bug in an executor must not kill the worker; the run records it
            log.exception("run crashed", run_id=run["run_id"])
            return Outcome("failed", error=f"internal error: {type(exc).__name__}: {exc}")

    async def _settle(
        self, app: dict[str, Any], run: dict[str, Any], policy: ExecutionPolicy, outcome: Outcome
    ) -> dict[str, Any] | None:
        attempt = int(run["attempt"])
        if outcome.status == "failed" and outcome.retryable and attempt < policy.max_attempts:
            delay = backoff_seconds(
                attempt, policy.retry_backoff_seconds, self.settings.retry_backoff_cap_seconds, self.rng
            )
            await self._flush_logs()  # the attempt's lines come before the retry's
            kept = await self.store.run(
                runs_store.retry_run,
                run["run_id"],
                self.node_id,
                attempt,
                not_before=now() + timedelta(seconds=delay),
                error=outcome.error,
                result=outcome.result,
                trace=outcome.trace,
            )
            if kept:
                await self.logbus.log(
                    app["id"],
                    run["run_id"],
                    "warning",
                    "run.retry",
                    f"attempt {attempt} failed: {outcome.error}; retry {attempt} of {policy.max_retries} "
                    f"in {delay:.3f} s",
                )
                self.wakeup.set()
            return None
        return await self._end(run, outcome)

    async def _flush_logs(self) -> None:
        """Wait until the run log lines queued on this node are committed (retried once; when the
        database stays unreachable the lines stay queued and are written later)."""
        for pause in (0.05, None):
            try:
                await self.logbus.flush()
                return
            except Exception:
                if pause is None:
                    log.warning("run log lines not written yet", node=self.node_id)
                    return
                await asyncio.sleep(pause)

    async def _end(
        self, run: dict[str, Any], outcome: Outcome, *, status: str | None = None
    ) -> dict[str, Any] | None:
        """Store the run's final state with its `run.<status>` log line, after every line the run
        logged before (so a stream that sees the run ended has all its lines). Returns the final
        row, or None when this node no longer holds the run."""
        final = status or outcome.status
        at = now()
        queued: str | None = None
        what = run.get("agent_id") or run.get("workflow_id") or "run"
        message = outcome.error if final != "completed" and outcome.error else f"{what} {final}"
        row: dict[str, Any] = {
            **run,
            "status": final,
            "result": outcome.result,
            "error": outcome.error,
            "trace": outcome.trace,
            "finished_at": at,
            "lease_owner": None,
            "lease_expires_at": None,
            "cancel_requested": False,
        }
        line = logs.log_row(
            run["app_id"], run["run_id"], "info" if final == "completed" else "error", f"run.{final}", message
        )
        if delivery_body(run["app_id"], row) is None:
            # No webhook to store with it: the final state and its line are one transaction
            # function. Through SQLite's writer it commits after the run's queued lines (queue
            # order); elsewhere they are flushed first.
            self.logbus.hand_over()  # this turn's lines go to the writer before the final state
            if not self.store.writes_in_order or self.logbus.backlog:
                await self._flush_logs()
            ended = await self.store.write(
                _finish_with_line, run["run_id"], self.node_id, int(run["attempt"]), row, line
            )
        else:
            await self._flush_logs()
            async with self.store.begin() as conn:
                ended = await conn.run_sync(
                    _finish_with_line, run["run_id"], self.node_id, int(run["attempt"]), row, line
                )
                if ended:
                    queued = await self.outbox.enqueue(conn, run["app_id"], row)
        if not ended:
            log.warning("run outcome discarded: lease lost", run_id=run["run_id"], node=self.node_id)
            return None
        if queued:
            self.outbox.notify()
        self.logbus.wake()
        self._signal_done(run["run_id"])
        return row

    async def _release(self, run: dict[str, Any]) -> None:
        """Hand a run this node holds back to the queue (same attempt number next time)."""
        with contextlib.suppress(Exception):
            await self.store.run(runs_store.release_run, run["run_id"], self.node_id, int(run["attempt"]))

    # ---------------------------------------------------------------------------------- waiting
    def _signal_done(self, run_id: str) -> None:
        waiting = self._done.get(run_id)
        if waiting is not None:
            waiting[0].set()

    async def wait(self, app_id: str, run_id: str, *, timeout: float | None = None) -> dict[str, Any] | None:
        """Wait until the run has ended (woken at once when it ends on this node; polling every
        `poll_seconds` for other nodes) and return its row; the current row after `timeout` seconds."""
        waiting = self._done.setdefault(run_id, (asyncio.Event(), [0]))
        event, count = waiting
        count[0] += 1
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            while True:
                row = await self.store.run(runs_store.get_run, app_id, run_id)
                if row is None or row["status"] in runs_store.TERMINAL:
                    return row
                pause = self.settings.poll_seconds
                if deadline is not None:
                    pause = min(pause, deadline - loop.time())
                    if pause <= 0:
                        return row
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout=pause)
                event.clear()
        finally:
            count[0] -= 1
            if count[0] <= 0 and self._done.get(run_id) is waiting:
                del self._done[run_id]

    async def run_here_or_wait(
        self, app: dict[str, Any], run_id: str, claimed: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """A sync request's run: execute it here when this node claimed it (`claimed`, the row the
        claim returned), else leave it to any node's workers; then wait until it has ended
        (retries included) and return its final row."""
        if claimed is not None:
            ended = await self.run_claimed(claimed, app=app)
            if ended is not None:
                return ended
        else:
            self.wakeup.set()
        return await self.wait(app["id"], run_id)

    # ------------------------------------------------------------------------------- cancelling
    async def cancel(
        self, app_id: str, run_id: str, *, wait_seconds: float = 10.0
    ) -> runs_store.CancelOutcome:
        """Cancel a run: a queued run ends now; a running run is stopped by the node that runs it
        (this one at once, another one at its next heartbeat), which kills its sandbox process tree.

        Args:
            app_id: The run's app.
            run_id: The run.
            wait_seconds: How long to wait for a running run to end, in seconds.

        Returns:
            What happened, with the run's row (after the wait when it was running).
        """
        queued: str | None = None
        async with self.store.begin() as conn:
            outcome = await runs_store.request_cancel(conn, app_id, run_id, reason="cancelled by request")
            if outcome.state == "cancelled" and outcome.row is not None:
                await logs.add_log(
                    conn, app_id, run_id, "info", "run.cancelled", "cancelled by request before it started"
                )
                queued = await self.outbox.enqueue(conn, app_id, outcome.row)
        if queued:
            self.outbox.notify()
        if outcome.state == "cancelled":
            self.logbus.wake()
            self._signal_done(run_id)
        if outcome.state != "requested":
            return outcome
        held = self._attempts.get(run_id)
        if held is not None and not held.task.done():
            held.reason = "cancel"
            held.task.cancel()
        elif held is None and outcome.owner == self.node_id:
            self._cancel_early.add(run_id)  # claimed here a moment ago: stopped as soon as it starts
        row = await self.wait(app_id, run_id, timeout=wait_seconds)
        return runs_store.CancelOutcome("requested", row, outcome.owner)
