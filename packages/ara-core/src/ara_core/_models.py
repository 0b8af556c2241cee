"""msgspec models of the manifest (spec §1) and `validate_manifest`."""

from __future__ import annotations

import copy
import json
import re
from typing import Any, Literal

import msgspec

from ._schedules import validate_cron, validate_timezone
from .errors import DeclarationError, ManifestError

__all__ = [
    "AgentBlock",
    "AgentRow",
    "Manifest",
    "ToolFunction",
    "ToolRow",
    "Trigger",
    "Workflow",
    "manifest_json_schema",
    "validate_manifest",
]


class WireStruct(msgspec.Struct, kw_only=True, omit_defaults=False, forbid_unknown_fields=False):
    """Base of every manifest model.

    Keyword-only (wire objects have many optional fields); unknown fields are accepted on decode
    because other SDK versions add fields and the server must store them (STYLE.md: lenient
    decoding, strict emission); defaults are not omitted because the wire keeps empty lists and
    fixed keys (spec §1).
    """


class Schedule(WireStruct):
    """A schedule attached to an agent or tool row (spec §2.8)."""

    id: str
    kind: Literal["cron", "every"]
    cron: str | None = None
    timezone: str = "UTC"
    one_shot_at: str | None = None
    every_seconds: int | None = None
    run: dict[str, Any] = {}


class PromptFactory(WireStruct):
    """`agent.agents[i].prompt_factory` (spec §1.3)."""

    function_name: str
    source: str
    parameters: dict[str, Any] = {}


class AgentRow(WireStruct):
    """`agent.agents[i]` (spec §1.3)."""

    id: str
    task: str = ""
    instructions: str = ""
    persona: str = ""
    schedules: list[Schedule] = []
    handoff_to: list[str] = []
    always_on: bool = True
    entrypoint: bool = False
    prompt_factory: PromptFactory | None = None
    skills: list[str] | None = None
    runtime: dict[str, Any] | None = None
    sandbox: dict[str, Any] | None = None
    fastapi_endpoint: dict[str, Any] | None = None


class ToolFunction(WireStruct):
    """`agent.tools[i].function` (spec §1.8)."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = {}


class ToolRow(WireStruct):
    """`agent.tools[i]` (spec §1.8)."""

    type: str = "function"
    function: ToolFunction | None = None
    function_name: str = ""
    source: str = ""
    schedules: list[Schedule] = []


class AgentBlock(WireStruct):
    """The manifest's `agent` block (spec §1.2)."""

    agents: list[AgentRow] = []
    default_agent_id: str | None = None
    profiles: list[dict[str, Any]] = []
    default_profile_id: str | None = None
    subagents: list[dict[str, Any]] = []
    tools: list[ToolRow] = []
    handlers: list[dict[str, Any]] = []


class Trigger(WireStruct):
    """A workflow trigger (spec §1.5, §1.13)."""

    type: str = "api"
    cron: str | None = None
    schedule: str | None = None
    timezone: str | None = None
    one_shot_at: str | None = None
    event: str | None = None


class Workflow(WireStruct):
    """`workflows[i]` (spec §1.5)."""

    id: str
    mode: Literal["task", "run", "pipeline"] = "task"
    agent_id: str | None = None
    task: str = ""
    run: dict[str, Any] = {}
    pipeline: list[dict[str, Any]] = []
    schedule: str = ""
    trigger: Trigger = msgspec.field(default_factory=Trigger)


class Manifest(WireStruct):
    """An app manifest (spec §1.1). `slug` is absent from update bodies (spec §3.4)."""

    name: str
    slug: str | None = None
    description: str = ""
    agent: AgentBlock = msgspec.field(default_factory=AgentBlock)
    workflows: list[Workflow] = []
    interfaces: dict[str, Any] = {}
    runtime_profile: dict[str, Any] = {}
    status: str | None = None


_PATH_IN_MSG = re.compile(r" - at `(\$[^`]*)`$")


def _decode(obj: dict[str, Any] | str | bytes) -> Any:
    if isinstance(obj, str | bytes):
        try:
            return json.loads(obj)
        except json.JSONDecodeError as exc:
            raise ManifestError(
                [("$", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]
            ) from None
    return obj


def validate_manifest(obj: dict[str, Any] | str | bytes, *, require_slug: bool = False) -> dict[str, Any]:
    """Validate a manifest and return it normalized.

    Types are checked with the msgspec models (unknown fields kept); then the cross-field rules:
    non-empty `name`, unique agent and tool ids, `default_agent_id` naming an agent, workflows whose
    `agent_id` exists, valid cron expressions and IANA time zones, run-mode workflows with a
    command. Missing top-level keys get their empty defaults.

    Args:
        obj: A manifest dict, or its JSON text.
        require_slug: Also require a non-empty `slug` (create requests, spec §3.4).

    Returns:
        A normalized deep copy of the manifest.

    Raises:
        ManifestError: With `.errors` as `(json_path, message)` pairs.
    """
    data = _decode(obj)
    if not isinstance(data, dict):
        raise ManifestError([("$", f"expected a JSON object, got {type(data).__name__}")])
    try:
        model = msgspec.convert(data, Manifest, strict=True)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _PATH_IN_MSG.search(text)
        path = match.group(1) if match else "$"
        raise ManifestError([(path, _PATH_IN_MSG.sub("", text))]) from None
    errors: list[tuple[str, str]] = []
    if not model.name.strip():
        errors.append(("$.name", "must be a non-empty string"))
    if require_slug and not (model.slug or "").strip():
        errors.append(("$.slug", "must be a non-empty string"))
    agent_ids: list[str] = []
    for i, row in enumerate(model.agent.agents):
        path = f"$.agent.agents[{i}]"
        if not row.id.strip():
            errors.append((f"{path}.id", "must be a non-empty string"))
        elif row.id in agent_ids:
            errors.append((f"{path}.id", f"duplicate agent id {row.id!r}"))
        agent_ids.append(row.id)
        errors.extend(_schedule_errors(row.schedules, f"{path}.schedules"))
    if model.agent.default_agent_id and agent_ids and model.agent.default_agent_id not in agent_ids:
        errors.append(("$.agent.default_agent_id", f"names no agent; agents are {', '.join(agent_ids)}"))
    tool_names: list[str] = []
    for i, tool in enumerate(model.agent.tools):
        path = f"$.agent.tools[{i}]"
        if tool.function is None or not tool.function.name.strip():
            errors.append((f"{path}.function.name", "must be a non-empty string"))
            continue
        if tool.function.name in tool_names:
            errors.append((f"{path}.function.name", f"duplicate tool name {tool.function.name!r}"))
        tool_names.append(tool.function.name)
        errors.extend(_schedule_errors(tool.schedules, f"{path}.schedules"))
    for i, wf in enumerate(model.workflows):
        path = f"$.workflows[{i}]"
        if wf.agent_id and agent_ids and wf.agent_id not in agent_ids:
            errors.append((f"{path}.agent_id", f"names no agent; agents are {', '.join(agent_ids)}"))
        if wf.mode == "run" and not str(wf.run.get("command") or "").strip():
            errors.append((f"{path}.run.command", "run-mode workflows need a command"))
        expr = wf.trigger.cron or wf.trigger.schedule
        if expr:
            try:
                validate_cron(expr, where="trigger")
            except DeclarationError as exc:
                errors.append((f"{path}.trigger.cron", str(exc).removeprefix("trigger: ")))
        if wf.trigger.timezone:
            try:
                validate_timezone(wf.trigger.timezone, where="trigger")
            except DeclarationError as exc:
                errors.append((f"{path}.trigger.timezone", str(exc).removeprefix("trigger: ")))
    if errors:
        raise ManifestError(errors)
    out = copy.deepcopy(data)
    out.setdefault("description", "")
    out.setdefault("agent", {})
    out.setdefault("workflows", [])
    out.setdefault("interfaces", {})
    out.setdefault("runtime_profile", {})
    return out


def _schedule_errors(schedules: list[Schedule], path: str) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    for j, sched in enumerate(schedules):
        if sched.kind == "cron":
            try:
                validate_cron(sched.cron or "", where="schedule")
            except DeclarationError as exc:
                errors.append((f"{path}[{j}].cron", str(exc).removeprefix("schedule: ")))
            try:
                validate_timezone(sched.timezone, where="schedule")
            except DeclarationError as exc:
                errors.append((f"{path}[{j}].timezone", str(exc).removeprefix("schedule: ")))
        elif not sched.every_seconds or sched.every_seconds < 60:
            errors.append((f"{path}[{j}].every_seconds", "every schedule minimum interval is 60 seconds"))
    return errors


def manifest_json_schema() -> dict[str, Any]:
    """The JSON Schema of a manifest, generated from the msgspec models (docs/manifest.schema.json)."""
    return msgspec.json.schema(Manifest)
