"""Authoring helpers that build manifest fragments."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ._ids import new_run_id, slugify
from ._secrets import normalize_secrets, validate_env_key
from .errors import DeclarationError

__all__ = [
    "DEFAULT_API_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RETRY_BACKOFF_SECONDS",
    "DEFAULT_SANDBOX_MAX_CONCURRENCY",
    "DEFAULT_SUBAGENT_MAX_CONCURRENCY",
    "DEFAULT_SUBAGENT_MAX_RETRIES",
    "DEFAULT_SUBAGENT_RETRY_BACKOFF_SECONDS",
    "DEFAULT_SUBAGENT_TIMEOUT_SECONDS",
    "DEFAULT_TIMEOUT_SECONDS",
    "SECRET_DEFINITIONS_KEY",
    "agno_adapter",
    "command_adapter",
    "cron",
    "entrypoint",
    "event_envelope",
    "file",
    "git_artifact",
    "langchain_adapter",
    "langgraph_adapter",
    "local_file",
    "runtime",
    "sandbox",
    "strip_private",
    "subagent_hook",
    "tarball_artifact",
]

#: Hosted platform API.
DEFAULT_API_BASE_URL = "https://api.ara.so"
#: Defaults of a subagent declared with `@app.subagent` (concurrency, timeout in seconds, retries,
#: backoff in seconds).
DEFAULT_SUBAGENT_MAX_CONCURRENCY = 4
DEFAULT_SUBAGENT_TIMEOUT_SECONDS = 120
DEFAULT_SUBAGENT_MAX_RETRIES = 2
DEFAULT_SUBAGENT_RETRY_BACKOFF_SECONDS = 5
#: The same defaults under the names the published SDK used.
DEFAULT_TIMEOUT_SECONDS = DEFAULT_SUBAGENT_TIMEOUT_SECONDS
DEFAULT_MAX_RETRIES = DEFAULT_SUBAGENT_MAX_RETRIES
DEFAULT_RETRY_BACKOFF_SECONDS = DEFAULT_SUBAGENT_RETRY_BACKOFF_SECONDS
#: `sandbox()` default `max_concurrency` from 0.1.10 on.
DEFAULT_SANDBOX_MAX_CONCURRENCY = 8
#: Private runtime-profile key holding `SecretDefinition` objects; removed before deploy.
SECRET_DEFINITIONS_KEY = "__secret_definitions"

_POLICIES = ("dedicated", "ephemeral", "inherited", "shared")


def strip_private(profile: Mapping[str, Any] | None) -> dict[str, Any]:
    """Copy a runtime profile without its private `__secret_definitions` key."""
    return {k: v for k, v in (profile or {}).items() if k != SECRET_DEFINITIONS_KEY}


def _strings(values: Any) -> list[str]:
    items: Iterable[object] = values or []
    return [s for s in (str(v).strip() for v in items) if s]


def runtime(
    *,
    image: str | None = None,
    model: str | None = None,
    memory_mb: int | None = None,
    volume_size_mb: int | None = None,
    python_packages: list[str] | None = None,
    node_packages: list[str] | None = None,
    files: list[dict[str, Any]] | None = None,
    startup: dict[str, Any] | None = None,
    env: Mapping[str, Any] | None = None,
    secrets: list[Any] | None = None,
    adapter: dict[str, Any] | None = None,
    artifacts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Build a runtime profile; only given, non-empty options are emitted.

    Args:
        image: Container image name.
        model: Model name for the app's agents.
        memory_mb: Memory in MiB.
        volume_size_mb: Volume size in MiB.
        python_packages: Python requirement strings (installed where the tools run).
        node_packages: npm package names.
        files: `file()`/`local_file()` dicts shipped into the app's working directory.
        startup: An `entrypoint()` dict.
        env: Environment variables (values stringified); keys validated, `ARA_*` reserved.
        secrets: `Secret.*` definitions, names, or `{"name", "required_keys"}` dicts.
        adapter: An adapter dict (passed through).
        artifacts: Artifact dicts (passed through).

    Returns:
        The profile dict; with `secrets`, `secret_refs` plus the private `__secret_definitions`.

    Raises:
        DeclarationError: An invalid env key or secret declaration.
    """
    out: dict[str, Any] = {}
    if files:
        out["files"] = [dict(f) for f in files]
    if startup:
        out["startup"] = dict(startup)
    if image is not None and str(image).strip():
        out["image"] = str(image).strip()
    if model is not None and str(model).strip():
        out["model"] = str(model).strip()
    if memory_mb is not None:
        out["memory_mb"] = int(memory_mb)
    if volume_size_mb is not None:
        out["volume_size_mb"] = int(volume_size_mb)
    if python_packages is not None and _strings(python_packages):
        out["python_packages"] = _strings(python_packages)
    if node_packages is not None and _strings(node_packages):
        out["node_packages"] = _strings(node_packages)
    if env is not None:
        if not isinstance(env, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance] - untyped callers
            raise DeclarationError("runtime(env=...) expects a dict of environment variables")
        out["env"] = {validate_env_key(k): "" if v is None else str(v) for k, v in env.items()}
    if adapter:
        out["adapter"] = dict(adapter)
    if artifacts:
        out["artifacts"] = [dict(a) for a in artifacts]
    if secrets is not None:
        refs, defs = normalize_secrets(secrets)
        out["secret_refs"] = refs
        if defs:
            out[SECRET_DEFINITIONS_KEY] = defs
    return out


def _policy(value: str, param: str) -> str:
    policy = str(value or "").strip().lower()
    if policy not in _POLICIES:
        raise DeclarationError(f"sandbox({param}=...) must be one of: {', '.join(_POLICIES)}")
    return policy


def _limit(param: str, value: int | None, default: int, hard: int, *, zero_ok: bool = False) -> int:
    if value is None or (value == 0 and not zero_ok):
        return default
    number = max(0 if zero_ok else 1, int(value))
    if number > hard:
        raise DeclarationError(f"sandbox({param}=...) exceeds hard limit {hard}")
    return number


def sandbox(
    *,
    policy: str = "shared",
    max_concurrency: int | None = None,
    idle_ttl_minutes: int | None = None,
    key: str | None = None,
    allow_spawn: bool | None = None,
    spawn_to: list[str] | None = None,
    max_spawn_depth: int | None = None,
    max_children_per_parent: int | None = None,
    max_total_child_sessions_per_run: int | None = None,
    ephemeral_ttl_minutes: int | None = None,
    child_policy: str | None = None,
    child_runtime: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a sandbox policy.

    Args:
        policy: `shared`, `dedicated`, `ephemeral` or `inherited`.
        max_concurrency: Concurrent runs; 0/None -> 8.
        idle_ttl_minutes: Idle minutes before the sandbox stops (>= 1).
        key: Sandbox key shared by agents that use the same sandbox.
        allow_spawn: Allow child sessions (`False` forces off).
        spawn_to: Agent ids children may be spawned as.
        max_spawn_depth: Default 1, hard max 5 (0 allowed).
        max_children_per_parent: Default 6, hard max 24.
        max_total_child_sessions_per_run: Default 24, hard max 80.
        ephemeral_ttl_minutes: Default 10, hard max 240.
        child_policy: Policy of child sandboxes.
        child_runtime: Runtime profile of children.

    Returns:
        `{"policy", "key"?, "max_concurrency", "idle_ttl_minutes"?, "spawn"?}`.

    Raises:
        DeclarationError: Unknown policy, `spawn_to` not a list, or a limit above its hard max.
    """
    out: dict[str, Any] = {"policy": _policy(policy, "policy")}
    if key and str(key).strip():
        out["key"] = str(key).strip()
    out["max_concurrency"] = max(1, int(max_concurrency or DEFAULT_SANDBOX_MAX_CONCURRENCY))
    if idle_ttl_minutes is not None:
        out["idle_ttl_minutes"] = max(1, int(idle_ttl_minutes))
    if spawn_to is not None and not isinstance(spawn_to, list):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise DeclarationError("sandbox(spawn_to=...) expects a list[str]")
    targets = _strings(spawn_to)
    if (allow_spawn or targets) and allow_spawn is not False:
        spawn: dict[str, Any] = {
            "allow": True,
            "to": targets,
            "max_depth": _limit("max_spawn_depth", max_spawn_depth, 1, 5, zero_ok=True),
            "max_children_per_parent": _limit("max_children_per_parent", max_children_per_parent, 6, 24),
            "max_total_child_sessions_per_run": _limit(
                "max_total_child_sessions_per_run", max_total_child_sessions_per_run, 24, 80
            ),
            "ephemeral_ttl_minutes": _limit("ephemeral_ttl_minutes", ephemeral_ttl_minutes, 10, 240),
        }
        if child_policy is not None:
            spawn["child_policy"] = _policy(child_policy, "child_policy")
        if child_runtime:
            spawn["child_runtime"] = strip_private(child_runtime)
        out["spawn"] = spawn
    return out


def file(path: str, content: Any, *, executable: bool = False) -> dict[str, Any]:
    """A file shipped into the app's working directory.

    Raises:
        DeclarationError: Empty path (`file() requires a non-empty path`).
    """
    target = str(path or "").strip()
    if not target:
        raise DeclarationError("file() requires a non-empty path")
    return {"path": target, "content": str(content or ""), "executable": bool(executable)}


def local_file(
    source: str | os.PathLike[str],
    path: str | None = None,
    *,
    executable: bool = True,
    encoding: str = "utf-8",
) -> dict[str, Any]:
    """A local file's text shipped into the app's working directory at `path` (default: its basename).

    Raises:
        DeclarationError: The source does not exist or is not a file
            (`local_file() source not found: <src>`); pass a path relative to the current directory
            or, better, `Path(__file__).parent / "name"`.
    """
    src = Path(source).expanduser()
    if not src.is_file():
        raise DeclarationError(
            f"local_file() source not found: {source} "
            "(paths are relative to the current directory; use Path(__file__).parent / 'name' in app files)"
        )
    return file(path or src.name, src.read_text(encoding=encoding), executable=executable)


def entrypoint(command: str, *, shell: str = "bash", args: list[str] | None = None) -> dict[str, Any]:
    """A startup command for `runtime(startup=...)`.

    Raises:
        DeclarationError: Empty command.
    """
    cmd = str(command or "").strip()
    if not cmd:
        raise DeclarationError("entrypoint() requires a non-empty command")
    return {"entrypoint": cmd, "shell": shell or "bash", "args": _strings(args)}


def git_artifact(repo_url: str, *, ref: str = "main", subdir: str = "") -> dict[str, Any]:
    """A git artifact. Raises `DeclarationError` on an empty URL."""
    url = str(repo_url or "").strip()
    if not url:
        raise DeclarationError("git_artifact() requires a non-empty repo_url")
    return {"type": "git", "repo_url": url, "ref": ref, "subdir": subdir}


def tarball_artifact(url: str, *, strip_prefix: str = "") -> dict[str, Any]:
    """A tarball artifact. Raises `DeclarationError` on an empty URL."""
    text = str(url or "").strip()
    if not text:
        raise DeclarationError("tarball_artifact() requires a non-empty url")
    return {"type": "tarball", "url": text, "strip_prefix": strip_prefix}


def command_adapter(
    entrypoint: str,
    *,
    framework: str = "custom",
    transport: str = "stdio",
    args: list[str] | None = None,
    artifact: dict[str, Any] | None = None,
    env: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A command adapter. Raises `DeclarationError` on an empty entrypoint."""
    cmd = str(entrypoint or "").strip()
    if not cmd:
        raise DeclarationError("command_adapter() requires a non-empty entrypoint")
    out: dict[str, Any] = {
        "type": "command",
        "framework": framework,
        "transport": transport,
        "entrypoint": cmd,
        "args": _strings(args),
    }
    if artifact:
        out["artifact"] = dict(artifact)
    if env:
        out["env"] = {str(k).strip(): str(v) for k, v in env.items()}
    return out


def _framework_adapter(framework: str, default: str):  # type: ignore[no-untyped-def]
    def build(
        entrypoint: str = default,
        *,
        transport: str = "stdio",
        args: list[str] | None = None,
        artifact: dict[str, Any] | None = None,
        env: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return command_adapter(
            entrypoint,
            framework=framework,
            transport=transport,
            args=args,
            artifact=artifact,
            env={"AGENT_FRAMEWORK": framework, **dict(env or {})},
        )

    build.__name__ = f"{framework}_adapter"
    build.__doc__ = f"A `command_adapter` with framework `{framework}` and `AGENT_FRAMEWORK={framework}`."
    return build


langchain_adapter = _framework_adapter("langchain", "python3 langchain_worker.py")
langgraph_adapter = _framework_adapter("langgraph", "python3 langgraph_worker.py")
agno_adapter = _framework_adapter("agno", "python3 agno_worker.py")


def event_envelope(
    event_type: str,
    *,
    source: str = "api",
    channel: str = "api",
    message: str = "",
    payload: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A normalized event payload.

    `metadata.run_id` is kept or generated; `metadata.idempotency_key` is kept or
    `slugify(event_type) + "-" + slugify(run_id)`.

    Raises:
        DeclarationError: Empty event type.
    """
    kind = str(event_type or "").strip()
    if not kind:
        raise DeclarationError("event_envelope() requires a non-empty event_type")
    meta = dict(metadata or {})
    run_id = str(meta.get("run_id") or new_run_id())
    meta["run_id"] = run_id
    if not str(meta.get("idempotency_key") or "").strip():
        meta["idempotency_key"] = f"{slugify(kind)}-{slugify(run_id)}"
    return {
        "event": {
            "type": kind,
            "source": source,
            "channel": channel,
            "message": message,
            "payload": dict(payload or {}),
            "metadata": meta,
        }
    }


def cron(expression: str, *, timezone: str = "UTC") -> dict[str, Any]:
    """A cron schedule dict `{"type": "cron", "cron", "schedule", "timezone"}`.

    Raises:
        DeclarationError: Empty expression (`cron() requires a non-empty expression`), or (beyond
            the original) an invalid expression or time zone.
    """
    from ._schedules import validate_cron, validate_timezone

    expr = str(expression or "").strip()
    if not expr:
        raise DeclarationError("cron() requires a non-empty expression")
    validate_cron(expr, where="cron()")
    tz = validate_timezone(timezone, where="cron()")
    return {"type": "cron", "cron": expr, "schedule": expr, "timezone": tz}


def subagent_hook(
    *,
    event: str,
    id: str | None = None,
    task: str | None = None,
    command: str | None = None,
    trigger: Mapping[str, Any] | None = None,
    schedule: Any = None,
    channel: str = "api",
) -> dict[str, Any]:
    """A hook spec for `@app.subagent(..., hooks=[...])`.

    Raises:
        DeclarationError: Empty event, or both `task` and `command` given.
    """
    name = str(event or "").strip()
    if not name:
        raise DeclarationError("subagent_hook() requires a non-empty event")
    if task and command:
        raise DeclarationError("subagent_hook() accepts task or command, not both")
    out: dict[str, Any] = {
        "id": str(id).strip() if id else f"{slugify(name)}-hook",
        "event": name,
        "channel": channel,
    }
    if task:
        out["task"] = task
    if command:
        out["command"] = command
    if trigger:
        out["trigger"] = dict(trigger)
    if schedule:
        out["schedule"] = schedule
    return out


def check_json(value: Any, where: str) -> Any:
    """Return `value` if it is JSON-serialisable, else raise `DeclarationError` naming `where`."""
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise DeclarationError(f"{where} must be JSON-serializable ({exc})") from None
    return value
