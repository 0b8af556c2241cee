"""Execution: turn a stored run into an `ExecutionContext` and execute one attempt with the engine's
executor for its kind (the lifecycle records the outcome).

Before a run executes, the app's deployed version is made ready on this node (once per version):
its files are written, its ``python_packages`` environment is built (shared by identical apps),
its artifacts are fetched, and its ``startup`` entrypoint has run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from ara_core import ManifestView, StartupSpec, view_of
from msgspec import UnsetType

from ..engine import (
    AppEnvironment,
    ArtifactError,
    ExecutionContext,
    ModelProvider,
    PackageInstallError,
    RunOutcome,
    RunSpec,
    copy_artifact,
    ensure_artifact,
    ensure_environment,
    execute_run,
    handler_row,
    run_startup,
    sandbox_policy,
    unsandboxed_build_warnings,
    warm_sandbox_stats,
)
from ..errors import ApiProblem
from ..settings import Settings
from ..store import Store, apps, secrets
from .deploy import materialize_files
from .logbus import LogBus
from .masking import MaskingSink, SecretMask

__all__ = ["Execution", "Prepared", "declared_artifacts", "declared_packages", "deploy_warnings"]

#: Versions prepared (or being prepared) in this process, by (event loop, data dir, app, version).
_READY: dict[tuple[int, str, str, str], asyncio.Future[Prepared]] = {}

log = structlog.get_logger("ara_server.execution")


def declared_packages(view: ManifestView) -> list[tuple[str, str]]:
    """Every declared Python package with the JSON path that declares it: the app's
    ``runtime_profile.python_packages``, then each subagent's and agent's ``runtime``."""
    out: list[tuple[str, str]] = []
    runtime = view.runtime()
    for i, pkg in enumerate(
        () if not isinstance(runtime.python_packages, tuple) else runtime.python_packages
    ):
        out.append((f"$.runtime_profile.python_packages[{i}]", pkg))
    block = view.manifest.agent
    rows = getattr(block, "subagents", None)
    for i, row in enumerate(rows if isinstance(rows, tuple) else ()):
        packages = row.runtime.get("python_packages") if isinstance(row.runtime, dict) else None
        for j, pkg in enumerate(packages if isinstance(packages, list) else []):
            out.append((f"$.agent.subagents[{i}].runtime.python_packages[{j}]", str(pkg)))
    for i, agent in enumerate(view.agents()):
        packages = agent.runtime.get("python_packages") if isinstance(agent.runtime, dict) else None
        for j, pkg in enumerate(packages if isinstance(packages, list) else []):
            out.append((f"$.agent.agents[{i}].runtime.python_packages[{j}]", str(pkg)))
    return out


def declared_artifacts(view: ManifestView) -> list[tuple[str, dict[str, Any]]]:
    """Every declared artifact with its JSON path: ``runtime_profile.artifacts`` and the adapters'."""
    out: list[tuple[str, dict[str, Any]]] = []
    runtime = view.runtime()
    for i, spec in enumerate(runtime.artifacts if isinstance(runtime.artifacts, tuple) else ()):
        out.append((f"$.runtime_profile.artifacts[{i}]", dict(spec)))
    if isinstance(runtime.adapter, dict) and isinstance(runtime.adapter.get("artifact"), dict):
        out.append(("$.runtime_profile.adapter.artifact", dict(runtime.adapter["artifact"])))
    block = view.manifest.agent
    rows = getattr(block, "subagents", None)
    for i, row in enumerate(rows if isinstance(rows, tuple) else ()):
        adapter = row.runtime.get("adapter") if isinstance(row.runtime, dict) else None
        if isinstance(adapter, dict) and isinstance(adapter.get("artifact"), dict):
            out.append((f"$.agent.subagents[{i}].runtime.adapter.artifact", dict(adapter["artifact"])))
    return out


def deploy_warnings(view: ManifestView) -> list[dict[str, str]]:
    """What the manifest declares that ara-server does not provide, as deploy warnings
    ``[{"path": <JSON path>, "message": ...}]`` (the deploy still succeeds).

    Listed: messaging channels other than ``api`` (email, SMS, ...), hosted connectors (skill
    tokens ``connector:...`` and ``interfaces.tool_privileges``), a container ``image``, a ``model``,
    ``node_packages``, ``memory_mb``/``volume_size_mb``, and child sessions (``sandbox.spawn``).
    """
    out: list[dict[str, str]] = []
    for item in view.declared_integrations():
        if item.kind == "channel" and item.name != "api":
            out.append(
                {
                    "path": item.path,
                    "message": f"ara-server does not deliver {item.name!r} channel messages; the subagent "
                    "runs on API requests, events and schedules only",
                }
            )
        elif item.kind == "connector":
            out.append(
                {
                    "path": item.path,
                    "message": f"ara-server has no hosted connectors: {item.name!r} is not available to the "
                    "app's agents (call the service from a tool with a secret instead)",
                }
            )
    runtime = view.runtime()
    unsupported = (
        ("image", runtime.image, "apps run on the server's own Python; the container image is not used"),
        ("model", runtime.model, "the server's model provider answers every agent; this model is not used"),
        ("node_packages", runtime.node_packages, "Node packages are not installed"),
        ("memory_mb", runtime.memory_mb, "the server's sandbox memory limit applies instead"),
        ("volume_size_mb", runtime.volume_size_mb, "the app's working directory has no size quota"),
    )
    for key, value, why in unsupported:
        if not isinstance(value, UnsetType) and value not in ("", ()):
            out.append(
                {"path": f"$.runtime_profile.{key}", "message": f"{key} is ignored by ara-server: {why}"}
            )
    block = view.manifest.agent
    rows = getattr(block, "subagents", None)
    for i, row in enumerate(rows if isinstance(rows, tuple) else ()):
        spawn = row.sandbox.get("spawn") if isinstance(row.sandbox, dict) else None
        if isinstance(spawn, dict) and spawn.get("allow"):
            out.append(
                {
                    "path": f"$.agent.subagents[{i}].sandbox.spawn",
                    "message": "ara-server does not start child sessions; spawn settings are ignored",
                }
            )
    return out


@dataclass(frozen=True, slots=True)
class Prepared:
    """A deployed version made ready on this node.

    Attributes:
        view: The manifest view.
        version: The manifest's content hash.
        workdir: The app's working directory.
        environment: The app's Python environment (``None``: the server's interpreter).
        artifact_dirs: Directories of the fetched ``runtime_profile.artifacts``, in order.
    """

    view: ManifestView
    version: str
    workdir: Path
    environment: AppEnvironment | None
    artifact_dirs: tuple[Path, ...] = ()


class _LogSink:
    """Sends trace entries of a run to the app log: model steps, tool calls and their results, and
    what each tool printed (the events of the run's stream).

    Lines are queued in order without waiting for their commit (`LogBus.log_soon`); the lifecycle
    flushes them before it stores the run's final state."""

    def __init__(self, logbus: LogBus, app_id: str, run_id: str | None) -> None:
        self.logbus, self.app_id, self.run_id = logbus, app_id, run_id

    async def log(self, level: str, event_type: str, message: str) -> None:
        self.logbus.log_soon(self.app_id, self.run_id, level, event_type, message)

    async def trace(self, entry: dict[str, Any]) -> None:
        if entry.get("type") == "model":
            # one `model.step` line per model turn: which tools it asked for, or that it answered
            calls = [str(c) for c in entry.get("tool_calls") or []]
            did = f"calls {', '.join(calls)}" if calls else "answered"
            failed = entry.get("error")
            outcome = f"failed: {failed}" if failed else did
            text = f"model {entry.get('model') or entry.get('provider')}: {outcome}"
            await self.log(
                "error" if failed else "info", "model.step", f"{text} ({entry.get('duration_ms', 0):.0f} ms)"
            )
            return
        if entry.get("type") != "tool_call":
            return
        error = entry.get("error")
        outcome = f"failed: {error}" if error else "ok"
        text = f"tool {entry['tool']} {outcome} ({entry.get('duration_ms', 0):.0f} ms)"
        await self.log("error" if error else "info", "tool.call", text)
        result = json.dumps(entry.get("result"), default=str, ensure_ascii=False)
        await self.log("info", "tool.result", f"{entry['tool']}: {error if error else result[:500]}")
        for line in str(entry.get("logs") or "").splitlines()[-200:]:
            await self.log("info", "tool.output", f"{entry['tool']}: {line[:2000]}")


#: The counters of the warm pool reported by `/readyz` (besides `apps`, the pool's `keys`).
_WARM_COUNTS = (
    "sandboxes",
    "busy",
    "processes",
    "rss_bytes",
    "pss_bytes",
    "calls",
    "started",
    "closed_idle",
    "cold_fallbacks",
)


class Execution:
    """Executes runs of this node.

    Args:
        settings: Server settings (data dir, timeouts).
        store: The store.
        logbus: Where run log lines go.
        provider: Model provider (default: from the environment, per run).
    """

    def __init__(
        self, settings: Settings, store: Store, logbus: LogBus, provider: ModelProvider | None = None
    ) -> None:
        self.settings, self.store, self.logbus, self.provider = settings, store, logbus, provider
        self._tasks: set[asyncio.Task[Any]] = set()

    def warm_sandboxes(self) -> dict[str, Any]:
        """The warm sandboxes of this node, for `/readyz`: `{"enabled", "per_app", "total",
        "idle_seconds", "sandboxes", "busy", "apps", "processes", "rss_bytes", "pss_bytes",
        "calls", "started", "closed_idle", "cold_fallbacks"}` (counts since the server started;
        memory in bytes, read from `/proc` now)."""
        policy = sandbox_policy()
        out: dict[str, Any] = {
            "enabled": policy.warm_per_app > 0,
            "per_app": policy.warm_per_app,
            "total": policy.warm_total,
            "idle_seconds": policy.warm_idle_seconds,
        }
        stats = warm_sandbox_stats()
        counts = {name: getattr(stats, name) if stats else 0 for name in _WARM_COUNTS}
        counts["apps"] = stats.keys if stats else 0
        return {**out, **counts}

    @property
    def envs_dir(self) -> Path:
        """Where app Python environments live: ``<data_dir>/envs``."""
        return self.settings.data_dir / "envs"

    # -------------------------------------------------------------------------- preparation

    async def prepare(self, app: dict[str, Any], *, fail_fast: bool = False) -> Prepared:
        """Make the app's deployed version ready on this node (once per version; concurrent
        callers share one preparation).

        Writes the files, builds the Python environment, fetches artifacts, and runs the
        ``startup`` entrypoint (its output goes to the app log; a failing startup is logged, runs
        still proceed).

        Raises:
            PackageInstallError: A declared package cannot be installed.
            ArtifactError: An artifact cannot be fetched.
        """
        version = apps.manifest_version(app)
        loop = asyncio.get_running_loop()
        key = (id(loop), str(self.settings.data_dir), str(app["id"]), version)
        fut = _READY.get(key)
        if fut is None:
            fut = loop.create_future()
            _READY[key] = fut
            try:
                fut.set_result(await self._prepare(app, version))
            except BaseException as exc:
                _READY.pop(key, None)
                fut.set_exception(exc)
                fut.exception()  # retrieved: no "never retrieved" warning
                raise
        return await asyncio.shield(fut)

    def prepare_soon(self, app: dict[str, Any]) -> None:
        """Start preparing a freshly deployed version in the background (its startup entrypoint
        runs now rather than before the first run); failures are logged."""

        async def go() -> None:
            try:
                await self.prepare(app)
            except (PackageInstallError, ArtifactError) as exc:
                await self.logbus.log(app["id"], None, "error", "app.prepare_failed", str(exc))
            except Exception:
                log.exception("preparing the app failed", app_id=app["id"])

        task = asyncio.get_running_loop().create_task(go(), name=f"ara-prepare-{app['id']}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def check_deploy(self, manifest: dict[str, Any]) -> list[dict[str, str]]:
        """Check what a manifest needs from this server before it is stored, and say what the
        server does not provide.

        Installs its ``python_packages`` (the environment is then ready for its runs) and fetches
        its artifacts.

        Returns:
            Deploy warnings ``[{"path", "message"}]`` (see `deploy_warnings`).

        Raises:
            ApiProblem: 422 `package_install_failed` naming the package and its JSON path;
                422 `artifact_unavailable` naming the artifact's JSON path.
        """
        view = view_of(manifest)
        declared = declared_packages(view)
        try:
            await ensure_environment(self.envs_dir, [pkg for _, pkg in declared])
        except PackageInstallError as exc:
            path = declared[exc.index][0] if exc.index is not None else "$.runtime_profile.python_packages"
            message = f"at `{path}`: {exc}"
            raise ApiProblem(
                422, "package_install_failed", message, [{"path": path, "message": message}]
            ) from None
        artifacts = declared_artifacts(view)
        for path, spec in artifacts:
            try:
                await ensure_artifact(spec, self.settings.data_dir / "artifact-cache")
            except ArtifactError as exc:
                message = f"at `{path}`: {exc}"
                raise ApiProblem(
                    422, "artifact_unavailable", message, [{"path": path, "message": message}]
                ) from None
        return deploy_warnings(view) + unsandboxed_build_warnings(
            [path for path, _ in declared], [path for path, _ in artifacts]
        )

    async def _prepare(self, app: dict[str, Any], version: str) -> Prepared:
        view = apps.app_view(app)
        workdir = self.settings.app_dir(app["id"])
        await asyncio.to_thread(materialize_files, workdir, view)
        packages = [pkg for _, pkg in declared_packages(view)]
        environment = await ensure_environment(self.envs_dir, packages)
        artifact_dirs: list[Path] = []
        for _, spec in declared_artifacts(view):
            artifact_dirs.append(await self._artifact(spec, workdir))
        prepared = Prepared(view, version, workdir, environment, tuple(artifact_dirs))
        await self._startup(app, prepared)
        return prepared

    async def _artifact(self, spec: dict[str, Any], workdir: Path) -> Path:
        """The artifact in the app's working directory: copied from the deploy-time fetch when this
        node made it, else fetched."""
        await copy_artifact(spec, self.settings.data_dir / "artifact-cache", workdir)
        return await ensure_artifact(spec, workdir)

    async def _startup(self, app: dict[str, Any], prepared: Prepared) -> None:
        startup = prepared.view.runtime().startup
        if not isinstance(startup, StartupSpec) or not startup.entrypoint.strip():
            return
        stamp = prepared.workdir / ".ara" / f"startup-{prepared.version}.done"
        if stamp.exists():
            return
        app_id = str(app["id"])
        sink = _LogSink(self.logbus, app_id, None)
        await sink.log(
            "info", "startup.started", f"startup {startup.entrypoint} (version {prepared.version})"
        )
        ctx = ExecutionContext(
            view=prepared.view,
            run=RunSpec(
                run_id=f"startup-{prepared.version}",
                app_id=app_id,
                app_slug=str(app["slug"]),
                kind="command",
                workflow_id="startup",
                agent_id="",
                input={},
            ),
            workdir=prepared.workdir,
            env=await self._env(app, prepared, run_id=f"startup-{prepared.version}", attempt=1, key=""),
            sink=sink,
            timeout_seconds=self.settings.run_timeout_seconds,
            python=prepared.environment.python if prepared.environment else None,
        )
        outcome = await run_startup(ctx, startup)
        if outcome.status == "completed":
            await sink.log("info", "startup.completed", f"startup completed (version {prepared.version})")
        else:
            await sink.log("error", "startup.failed", f"startup failed: {outcome.error}")
        await self.logbus.flush()
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(outcome.status)

    # ------------------------------------------------------------------------------ running

    async def _env(
        self,
        app: dict[str, Any],
        prepared: Prepared,
        *,
        run_id: str,
        attempt: int,
        key: str,
        secret_env: dict[str, str] | None = None,
    ) -> dict[str, str]:
        runtime_env = prepared.view.runtime().env
        if secret_env is None:
            secret_env = await self.store.run(secrets.secret_env, self.store.box, app["id"])
        env: dict[str, str] = {
            **(runtime_env if isinstance(runtime_env, dict) else {}),
            **secret_env,
            "ARA_APP_ID": str(app["id"]),
            "ARA_APP_SLUG": str(app["slug"]),
            "ARA_RUN_ID": run_id,
            "ARA_ATTEMPT": str(attempt),
            "ARA_IDEMPOTENCY_KEY": key or run_id,
        }
        if prepared.artifact_dirs:
            env["ARA_ARTIFACT_DIRS"] = os.pathsep.join(str(p) for p in prepared.artifact_dirs)
        return env

    async def context(
        self, app: dict[str, Any], run: dict[str, Any], sink: Any | None = None
    ) -> ExecutionContext:
        """The execution context of a stored run (prepares the app's version first).

        Raises:
            PackageInstallError: As `prepare`.
            ArtifactError: As `prepare`.
        """
        prepared = await self.prepare(app)
        # Cheap when nothing changed (a digest stamp); restores a shipped file a run deleted. The
        # app's secrets are read meanwhile.
        _, secret_env = await asyncio.gather(
            asyncio.to_thread(materialize_files, prepared.workdir, apps.app_view(app)),
            self.store.run(secrets.secret_env, self.store.box, app["id"]),
        )
        run_input = run.get("input") or {}
        attempt = max(1, int(run.get("attempt") or run.get("attempts") or 0))
        key = str(run.get("idempotency_key") or run_input.get("idempotency_key") or run["run_id"])
        spec = RunSpec(
            run_id=str(run["run_id"]),
            app_id=str(app["id"]),
            app_slug=str(app["slug"]),
            kind=str(run.get("kind") or "agent"),
            workflow_id=str(run.get("workflow_id") or run.get("agent_id") or ""),
            agent_id=str(run.get("agent_id") or ""),
            input=run_input,
            attempt=attempt,
            idempotency_key=key,
        )
        if spec.kind == "agent" and spec.workflow_id != spec.agent_id and "task" not in run_input:
            # A task workflow asked for by its id: its task text goes with the agent's instructions.
            target = prepared.view.target(spec.workflow_id)
            if target is not None and target.task:
                spec = dataclasses.replace(spec, input={**run_input, "task": target.task})
        settings = prepared.view.subagent(spec.agent_id) if spec.agent_id else None
        timeout = (settings.timeout_seconds if settings else None) or self.settings.run_timeout_seconds
        return ExecutionContext(
            view=prepared.view,
            run=spec,
            workdir=prepared.workdir,
            env=await self._env(
                app, prepared, run_id=spec.run_id, attempt=attempt, key=key, secret_env=secret_env
            ),
            # Secret values never reach the stored trace, the log or the streams (masked as `***`).
            sink=MaskingSink(
                sink or _LogSink(self.logbus, spec.app_id, spec.run_id), SecretMask(secret_env.values())
            ),
            timeout_seconds=timeout,
            tool_timeout_seconds=self.settings.tool_timeout_seconds,
            step_timeout_seconds=settings.timeout_seconds if settings else None,
            provider=self.provider,
            python=prepared.environment.python if prepared.environment else None,
        )

    async def outcome(self, app: dict[str, Any], run: dict[str, Any]) -> RunOutcome:
        """Execute a stored run and return its outcome (nothing persisted)."""
        try:
            ctx = await self.context(app, run)
        except (PackageInstallError, ArtifactError) as exc:
            return RunOutcome("failed", "", [], f"the app's environment is not ready: {exc}")
        mask = ctx.sink.mask if isinstance(ctx.sink, MaskingSink) else SecretMask(())
        if ctx.run.kind in ("agent", "handler") and not _declared(ctx):
            outcome = await execute_run(ctx)
            outcome.retryable = False  # another attempt cannot find it either
            return mask.outcome(outcome)
        return mask.outcome(await execute_run(ctx))


def _declared(ctx: ExecutionContext) -> bool:
    """The run's agent or handler exists in the manifest."""
    run = ctx.run
    return (
        ctx.view.agent(run.agent_id) is not None
        or handler_row(ctx.view, run.workflow_id or run.agent_id) is not None
    )
