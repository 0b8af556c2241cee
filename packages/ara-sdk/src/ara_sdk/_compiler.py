"""The compiler: an `App` registry and its functions' frozen definitions in, a new manifest out.

Every call builds every dict and list afresh (user-supplied values are deep-copied), so a
manifest can be changed freely without touching the app or the next manifest. The rules are the
wire rules of the manifest (`docs/authoring.md`): derived agent, profile, subagent and workflow
rows; tool schedules anchored on the default agent; explicit rows upserted on top by id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ara_core import DEFAULT_SANDBOX_MAX_CONCURRENCY, strip_private

from ._definitions import AgentDefinition, FunctionDefinition, ToolDefinition, definition_of, freeze

if TYPE_CHECKING:
    from ara_core import ManifestDocument

    from ._app import App

__all__ = ["agent_row", "assemble", "compile_manifest", "tool_row", "validated_manifest", "wire_manifest"]

_SCHEDULED_JOBS = "Execute scheduled tool jobs."


def _upsert_all(rows: list[dict[str, Any]], updates: Iterable[dict[str, Any]]) -> None:
    """Upsert each update into `rows` by `id`: replace the first match in place, else append (linear)."""
    position: dict[Any, int] = {}
    for i, row in enumerate(rows):
        position.setdefault(row["id"], i)
    for update in updates:
        i = position.get(update["id"])
        if i is None:
            position[update["id"]] = len(rows)
            rows.append(update)
        else:
            rows[i] = update


def _bind(
    spec: dict[str, Any], *, agent_id: str | None = None, tool_name: str | None = None
) -> dict[str, Any]:
    out = freeze(spec)
    if out.get("run") is None:  # no run= on the decorator: the function's own agent or tool, in place
        out["run"] = (
            {"type": "agent", "agent_id": agent_id}
            if agent_id is not None
            else {"type": "tool", "tool_name": tool_name, "args": {}}
        )
    return out


def agent_row(agent: AgentDefinition, definition: FunctionDefinition) -> dict[str, Any]:
    """The `agent.agents[]` row of an agent function (its own schedules, endpoint included)."""
    text = agent.instructions
    row: dict[str, Any] = {
        "id": agent.id,
        "task": agent.task,
        "instructions": text,
        "persona": text,
        "schedules": [freeze(s) for s in agent.schedules],
    }
    _upsert_all(row["schedules"], (_bind(e.spec, agent_id=agent.id) for e in definition.schedules))
    row["handoff_to"] = list(agent.handoff_to)
    row["always_on"] = agent.always_on
    row["entrypoint"] = agent.entrypoint
    if agent.prompt_factory is not None:
        pf = agent.prompt_factory
        row["prompt_factory"] = {
            "function_name": pf.function_name,
            "source": pf.source,
            "parameters": freeze(pf.parameters),
        }
    if agent.skills is not None:
        row["skills"] = list(agent.skills)
    if agent.runtime is not None:
        row["runtime"] = freeze(agent.runtime)
    if agent.sandbox is not None:
        row["sandbox"] = freeze(agent.sandbox)
    if definition.endpoint is not None:
        row["fastapi_endpoint"] = freeze(definition.endpoint.spec)
    return row


def tool_row(tool: ToolDefinition, definition: FunctionDefinition) -> dict[str, Any]:
    """The `agent.tools[]` row of a tool function (its own schedules included)."""
    row: dict[str, Any] = {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": freeze(tool.parameters),
        },
        "function_name": tool.function_name,
        "source": tool.source,
    }
    if tool.handler is not None:
        row["id"] = tool.name
        row["handler_id"] = tool.handler
        row["description"] = tool.description
        row["parameters"] = freeze(tool.parameters)
    if definition.schedules:
        schedules: list[dict[str, Any]] = []
        _upsert_all(schedules, (_bind(e.spec, tool_name=tool.name) for e in definition.schedules))
        row["schedules"] = schedules
    if tool.required_env:
        row["required_env"] = list(tool.required_env)
    return row


def _profile(row: dict[str, Any]) -> dict[str, Any]:
    text = row.get("instructions") or row.get("task") or ""
    out: dict[str, Any] = {
        "id": row["id"],
        "instructions": text,
        "persona": text,
        "handoff_to": list(row.get("handoff_to", [])),
        "always_on": row.get("always_on", True),
    }
    if isinstance(row.get("skills"), list):
        out["skills"] = list(row["skills"])
    return out


def _workflows_for(row: dict[str, Any]) -> list[dict[str, Any]]:
    aid = row["id"]
    task = row.get("instructions") or row.get("task") or f"Run agent {aid}"
    out: list[dict[str, Any]] = [
        {
            "id": aid,
            "mode": "task",
            "agent_id": aid,
            "task": task,
            "run": {},
            "pipeline": [],
            "schedule": "",
            "trigger": {"type": "api"},
        }
    ]
    for s in row.get("schedules", []):
        if s.get("kind") != "cron":
            continue  # `every` schedules live only in the agent row
        trigger: dict[str, Any] = {
            "type": "cron",
            "cron": s["cron"],
            "schedule": s["cron"],
            "timezone": s.get("timezone", "UTC"),
        }
        if s.get("one_shot_at"):
            trigger["one_shot_at"] = s["one_shot_at"]
        wid = f"{aid}--{s['id']}"
        run = s.get("run") or {}
        if run.get("type") == "tool":
            out.append(
                {
                    "id": wid,
                    "mode": "pipeline",
                    "agent_id": aid,
                    "task": f"Run scheduled tool {run['tool_name']}",
                    "run": {},
                    "pipeline": [
                        {
                            "id": f"{wid}--tool",
                            "kind": "tool",
                            "tool_name": run["tool_name"],
                            "args": freeze(run.get("args") or {}),
                        }
                    ],
                    "schedule": s["cron"],
                    "trigger": trigger,
                }
            )
        else:
            out.append(
                {
                    "id": wid,
                    "mode": "task",
                    "agent_id": run.get("agent_id") or aid,
                    "task": task,
                    "run": {},
                    "pipeline": [],
                    "schedule": s["cron"],
                    "trigger": trigger,
                }
            )
    return out


def _rows(app: App) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    agents: list[dict[str, Any]] = []
    for fn in app._agents.values():  # pyright: ignore[reportPrivateUsage]
        definition = definition_of(fn)
        if definition is not None and definition.agent is not None:
            agents.append(agent_row(definition.agent, definition))
    tools: list[dict[str, Any]] = []
    for fn in app._tools.values():  # pyright: ignore[reportPrivateUsage]
        definition = definition_of(fn)
        if definition is not None and definition.tool is not None:
            tools.append(tool_row(definition.tool, definition))
    return agents, tools


def assemble(
    app: App,
    agents: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    *,
    channels: list[str] | None = None,
    interfaces: dict[str, Any] | None = None,
    runtime_profile: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest from compiled agent and tool rows plus the app's own declarations.

    Args:
        app: The app (identity, base blocks, workflows, subagents, handlers, entrypoint).
        agents: Agent rows, in registration order (owned by the result).
        tools: Tool rows, in registration order (owned by the result).
        channels: `channels` of the derived subagent rows (default `[]`).
        interfaces: The `interfaces` block (default: a copy of `app.interfaces`).
        runtime_profile: The `runtime_profile` block (default: a copy of `app.runtime_profile`).

    Returns:
        A new manifest dict.
    """
    agent: dict[str, Any] = freeze(app._agent_base)  # pyright: ignore[reportPrivateUsage]
    rows = agents
    if not rows and any(t.get("schedules") for t in tools):
        rows = [
            {
                "id": "scheduled-jobs",
                "task": _SCHEDULED_JOBS,
                "instructions": _SCHEDULED_JOBS,
                "persona": _SCHEDULED_JOBS,
                "schedules": [],
                "handoff_to": [],
                "always_on": False,
                "entrypoint": False,
            }
        ]
    workflows: list[dict[str, Any]] = []
    if rows:
        ids = {r["id"] for r in rows}
        entry = app._entrypoint_id  # pyright: ignore[reportPrivateUsage]
        default_id = entry if entry in ids else rows[0]["id"]
        anchor = next(r for r in rows if r["id"] == default_id)
        tool_schedules = [freeze(s) for t in tools for s in t.get("schedules", [])]
        if tool_schedules:
            _upsert_all(anchor["schedules"], tool_schedules)
        agent["agents"] = rows
        agent["default_agent_id"] = default_id
        agent["profiles"] = [_profile(r) for r in rows]
        agent["default_profile_id"] = default_id
        subagents: list[dict[str, Any]] = [
            {
                "id": r["id"],
                "workflow_id": r["id"],
                "channels": list(channels or []),
                "runtime": strip_private(r.get("runtime")),
                "sandbox": freeze(r.get("sandbox"))
                or {"policy": "shared", "max_concurrency": DEFAULT_SANDBOX_MAX_CONCURRENCY},
                "hooks": [],
            }
            for r in rows
        ]
        _upsert_all(subagents, (freeze(s) for s in app._subagents.values()))  # pyright: ignore[reportPrivateUsage]
        agent["subagents"] = subagents
        for r in rows:
            workflows.extend(_workflows_for(r))
    if app._handlers:  # pyright: ignore[reportPrivateUsage]
        agent["handlers"] = [freeze(h) for h in app._handlers.values()]  # pyright: ignore[reportPrivateUsage]
    if tools:
        agent["tools"] = tools
    _upsert_all(workflows, (freeze(w) for w in app._workflows.values()))  # pyright: ignore[reportPrivateUsage]
    if interfaces is None:
        interfaces = freeze(app.interfaces)
    assert interfaces is not None
    endpoints = [r for r in rows if r.get("fastapi_endpoint")]
    if endpoints:
        listed: list[Any] = list(interfaces.get("fastapi_endpoints") or [])
        for r in endpoints:
            spec = freeze(r["fastapi_endpoint"])
            spec.setdefault("agent_id", r["id"])
            spec.setdefault("workflow_id", r["id"])
            listed.append(spec)
        interfaces["fastapi_endpoints"] = listed
    return {
        "name": app.name,
        "slug": app.slug,
        "description": app.description if app.legacy else "",
        "agent": agent,
        "workflows": workflows,
        "interfaces": interfaces,
        "runtime_profile": freeze(app.runtime_profile) if runtime_profile is None else runtime_profile,
    }


def compile_manifest(app: App) -> dict[str, Any]:
    """Compile an app into a new manifest dict (see the module docstring)."""
    agents, tools = _rows(app)
    return assemble(app, agents, tools)


def wire_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest as deploy sends it: private runtime-profile keys (`__secret_definitions`,
    `__required_env_keys`, any `__*`) removed; a shallow copy, `manifest` is not changed."""
    wire = dict(manifest)
    profile = wire.get("runtime_profile")
    if isinstance(profile, dict):
        wire["runtime_profile"] = {k: v for k, v in profile.items() if not str(k).startswith("__")}  # pyright: ignore[reportUnknownVariableType]
    return wire


def validated_manifest(app: App) -> ManifestDocument:
    """Compile and validate a manifest against the wire rules.

    Returns:
        The typed manifest (`.manifest`, an `ara_core.Manifest`) with the wire document (`.raw`).

    Raises:
        ManifestError: The manifest breaks a rule; `errors` holds `(json_path, message)` pairs.
    """
    from ara_core import validate_manifest

    return validate_manifest(wire_manifest(app.manifest))
