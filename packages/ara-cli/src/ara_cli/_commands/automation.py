"""`ara runtime automation …`, `ara runtime files …` and `ara runtime session exec|keepalive`,
with the spellings of the newest original client."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from cyclopts import App

from .._output import emit, guarded
from ..errors import CliError

__all__ = ["automation_app", "files_app", "session_exec", "session_keepalive"]

automation_app = App(
    name="automation", help="scheduled automation jobs of your account", help_format="markdown"
)
files_app = App(name="files", help="files of your session workspace", help_format="markdown")


def _rt() -> Any:
    from .runtime import _rt as runtime_client  # pyright: ignore[reportPrivateUsage]

    return runtime_client()


def _payload(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise CliError(f"ara runtime: --payload-json is not valid JSON: {exc}") from None
    if not isinstance(value, dict) or not value:
        raise CliError("ara runtime: --payload-json must be a non-empty JSON object")
    return value  # pyright: ignore[reportUnknownVariableType]


@automation_app.command(name="list")
@guarded
def automation_list() -> int:
    """List your automation jobs (`GET /automations/jobs`)."""
    emit(_rt().automation_list())
    return 0


@automation_app.command(name="add")
@guarded
def automation_add(
    *,
    name: str,
    payload_json: str,
    every_seconds: int | None = None,
    cron: str | None = None,
    timezone: str = "UTC",
    deliver: bool = False,
    execution_mode: Literal["sandbox_required", "centralized_ok"] = "sandbox_required",
    misfire_policy: Literal["fire_all", "fire_latest_only", "skip_if_late"] = "fire_latest_only",
    max_retries: int = 3,
    retry_backoff_seconds: int = 30,
) -> int:
    """Create an automation job (`POST /automations/jobs`).

    Args:
        name: Job name.
        payload_json: What to run, a JSON object: `{"kind": "agent_turn", "message": ...}` or
            `{"kind": "app_agent_call", "agent_id": ..., "input": {...}}`.
        every_seconds: Run every N seconds (exactly one of this and `--cron`).
        cron: Cron expression (5 fields) in `--timezone`.
        timezone: IANA time zone of the cron expression.
        deliver: Set `deliver: true` on the payload.
        execution_mode: `sandbox_required` or `centralized_ok`.
        misfire_policy: `fire_all`, `fire_latest_only` or `skip_if_late`.
        max_retries: Retries of a failed run.
        retry_backoff_seconds: Base delay between retries, in seconds.
    """
    if not name.strip():
        raise CliError("ara runtime: automation add requires --name")
    if (every_seconds is None) == (cron is None):
        raise CliError("ara runtime: automation add needs exactly one of --every-seconds and --cron")
    emit(
        _rt().automation_add(
            name=name,
            payload=_payload(payload_json),
            every_seconds=every_seconds,
            cron=cron,
            timezone=timezone,
            deliver=deliver,
            execution_mode=execution_mode,
            misfire_policy=misfire_policy,
            max_retries=max_retries,
            retry_backoff_seconds=retry_backoff_seconds,
        )
    )
    return 0


@automation_app.command(name="update")
@guarded
def automation_update(
    *,
    id: str,
    name: str | None = None,
    payload_json: str | None = None,
    deliver: bool = False,
    enable: bool = False,
    disable: bool = False,
    max_retries: int | None = None,
    retry_backoff_seconds: int | None = None,
) -> int:
    """Change a job (`PATCH /automations/jobs/{id}`); the schedule cannot change.

    Args:
        id: Job id.
        name: New name.
        payload_json: New payload (replaces the whole payload).
        deliver: Set `deliver: true` on the new payload.
        enable: Enable the job.
        disable: Disable the job.
        max_retries: New retry count.
        retry_backoff_seconds: New retry delay, in seconds.
    """
    if enable and disable:
        raise CliError("ara runtime: give only one of --enable and --disable")
    enabled = True if enable else False if disable else None
    payload = _payload(payload_json) if payload_json is not None else None
    if all(v is None for v in (name, payload, enabled, max_retries, retry_backoff_seconds)):
        raise CliError("ara runtime: automation update needs at least one field to change")
    emit(
        _rt().automation_update(
            job_id=id,
            name=name,
            payload=payload,
            deliver=deliver,
            enabled=enabled,
            max_retries=max_retries,
            retry_backoff_seconds=retry_backoff_seconds,
        )
    )
    return 0


@automation_app.command(name="enable")
@guarded
def automation_enable(*, id: str) -> int:
    """Enable a job.

    Args:
        id: Job id.
    """
    emit(_rt().automation_enable(job_id=id))
    return 0


@automation_app.command(name="disable")
@guarded
def automation_disable(*, id: str) -> int:
    """Disable a job.

    Args:
        id: Job id.
    """
    emit(_rt().automation_disable(job_id=id))
    return 0


@automation_app.command(name="remove")
@guarded
def automation_remove(*, id: str, yes: bool = False, no_disable_fallback: bool = False) -> int:
    """Delete a job; if the delete fails, disable it instead (unless `--no-disable-fallback`).

    Args:
        id: Job id.
        yes: Confirm (required).
        no_disable_fallback: Do not disable the job when the delete fails.
    """
    if not yes:
        raise CliError("ara runtime: automation remove needs --yes")
    outcome = _rt().automation_remove(job_id=id, disable_fallback=not no_disable_fallback)
    emit(outcome)
    if not outcome["ok"]:
        raise CliError("ara runtime: automation remove failed")
    return 0


@automation_app.command(name="purge")
@guarded
def automation_purge(*, all: bool = False, yes: bool = False, no_disable_fallback: bool = False) -> int:
    """Delete every job (each as `remove` does), then list what remains.

    Args:
        all: Confirm that every job goes (required).
        yes: Confirm (required).
        no_disable_fallback: Do not disable jobs whose delete fails.
    """
    if not (all and yes):
        raise CliError("ara runtime: automation purge needs --all and --yes")
    rt = _rt()
    jobs = [j for j in rt.automation_list().get("jobs", []) if isinstance(j, dict) and j.get("id")]
    results = [
        {
            **rt.automation_remove(job_id=str(j["id"]), disable_fallback=not no_disable_fallback),
            "name": j.get("name"),
        }
        for j in jobs
    ]
    remaining = [j for j in rt.automation_list().get("jobs", []) if isinstance(j, dict)]
    failed = [r for r in results if not r["ok"]]
    emit(
        {
            "ok": not failed,
            "initial_count": len(jobs),
            "deleted_count": sum(r["action"] == "deleted" for r in results),
            "disabled_count": sum(r["action"] == "disabled_after_delete_failure" for r in results),
            "failed_count": len(failed),
            "results": results,
            "remaining_count": len(remaining),
            "remaining_enabled_count": sum(bool(j.get("enabled")) for j in remaining),
            "remaining_job_ids": [j.get("id") for j in remaining],
        }
    )
    if failed:
        raise CliError("ara runtime: automation purge had failures")
    return 0


@automation_app.command(name="runs")
@guarded
def automation_runs(*, state: str = "") -> int:
    """List automation runs, newest first (`GET /automations/runs`).

    Args:
        state: Only runs in this state (queued, running, succeeded, failed, skipped, cancelled).
    """
    emit(_rt().automation_runs(state=state))
    return 0


@automation_app.command(name="replay")
@guarded
def automation_replay(*, run_id: str) -> int:
    """Run an automation run's job again now.

    Args:
        run_id: Automation run id.
    """
    emit(_rt().automation_replay(run_id=run_id))
    return 0


@files_app.command(name="list")
@guarded
def files_list(*, path: str = "") -> int:
    """List a workspace directory (default: the root).

    Args:
        path: Directory, relative to the workspace or under /root/.ara/workspace.
    """
    emit(_rt().files_list(path=path))
    return 0


@files_app.command(name="read")
@guarded
def files_read(*, path: str) -> int:
    """Print a workspace text file.

    Args:
        path: File path.
    """
    emit(_rt().files_read(path=path))
    return 0


@files_app.command(name="write")
@guarded
def files_write(*, path: str, content: str = "", content_file: Path | None = None) -> int:
    """Write a workspace text file (`--content-file` wins over `--content`).

    Args:
        path: File path.
        content: The text.
        content_file: A local file whose text is written.
    """
    text = content_file.read_text(encoding="utf-8") if content_file is not None else content
    emit(_rt().files_write(path=path, content=text))
    return 0


@files_app.command(name="upload")
@guarded
def files_upload(*, local: Path, path: str = "") -> int:
    """Upload a local file (default destination: the workspace root, same name).

    Args:
        local: Local file.
        path: Destination path (ending in `/` for a directory).
    """
    if not local.is_file():
        raise CliError(f"ara runtime: no local file {str(local)!r}")
    emit(_rt().files_upload(local=local, path=path))
    return 0


@files_app.command(name="download")
@guarded
def files_download(*, path: str, output: Path | None = None) -> int:
    """Download a workspace file byte for byte and print `{"ok", "remote_path", "filename", "bytes",
    "output_path"}`.

    Args:
        path: File path in the workspace.
        output: Local file to write (default: the remote file's name in the current directory).
    """
    name = PurePosixPath(path.rstrip("/")).name
    if not name:
        raise CliError("ara runtime: files download --path must name a file")
    remote = path if path.startswith("/") else f"/root/.ara/workspace/{path}"
    data = _rt().files_download(path=path)
    target = output if output is not None else Path.cwd() / name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    except OSError as exc:
        raise CliError(
            f"ara runtime: --output: cannot write {str(target)!r} ({exc.strerror or exc})"
        ) from None
    emit(
        {"ok": True, "remote_path": remote, "filename": name, "bytes": len(data), "output_path": str(target)}
    )
    return 0


def session_exec(*, command: str = "", timeout_seconds: int = 90) -> int:
    """Run a shell command in your session workspace (`POST /session/terminal/exec`).

    Args:
        command: The command (`/bin/sh -c`).
        timeout_seconds: Timeout, clamped to 5-600 seconds.
    """
    if not command.strip():
        raise CliError("ara runtime: session exec requires --command")
    emit(_rt().session_exec(command=command, timeout_seconds=timeout_seconds))
    return 0


def session_keepalive(*, interval_seconds: float = 30.0, iterations: int = 0, max_failures: int = 3) -> int:
    """Send a heartbeat every `--interval-seconds` (`POST /session/heartbeat`).

    Args:
        interval_seconds: Seconds between heartbeats.
        iterations: Heartbeats to send (0 = until Ctrl-C).
        max_failures: Consecutive failures before giving up (exit 1).
    """
    from ara_http import ApiError

    rt, failures, sent, ok_count = _rt(), 0, 0, 0
    try:
        while iterations == 0 or sent < iterations:
            sent += 1
            line: dict[str, Any] = {
                "event": "heartbeat",
                "iteration": sent,
                "timestamp": datetime.now(UTC).isoformat(),
            }
            try:
                response = rt.session_heartbeat()
                good = isinstance(response, dict) and response.get("ok") is True
                line["response"] = response
            except ApiError as exc:
                good, line["error"] = False, str(exc)
            failures = 0 if good else failures + 1
            ok_count += good
            emit({"ok": good, **line, "consecutive_failures": failures})
            if failures >= max_failures:
                raise CliError(f"ara runtime: session keepalive exceeded max failures ({max_failures})")
            if iterations == 0 or sent < iterations:
                time.sleep(interval_seconds)
    except KeyboardInterrupt:
        pass
    emit({"summary": {"sent": sent, "ok": ok_count, "failed": sent - ok_count}})
    return 0
