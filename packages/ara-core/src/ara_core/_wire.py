"""The manifest as it travels on the wire: frozen msgspec Structs for every generation of the SDK.

Rules that hold for every Struct here:

* Field definition order is the wire key order, so ``msgspec.json.encode(manifest)`` gives the same
  bytes as the original SDK's ``json.dumps(app.manifest)`` (compact separators, same key order).
* A key that the wire may leave out defaults to ``msgspec.UNSET`` and is then not encoded; the
  carrier is faithful, and `ManifestView` supplies the defaults when reading.
* Arrays are tuples and Structs are frozen, so a decoded manifest cannot be changed in place.
* Blocks the SDK copies verbatim from a user's dict (``interfaces``, ``runtime_profile``, an agent's
  ``runtime`` and ``sandbox``, a subagent's ``runtime`` and ``sandbox``, a hook's ``trigger``) stay
  JSON objects here, so their key order and unknown keys survive; the read models at the end of this
  module (`RuntimeSettings`, `SandboxSettings`, `InterfacesSettings`) type them for readers.
* Tagged unions are used where the tag is the first key on the wire (msgspec always encodes the tag
  first): schedule run targets (``type``) and workflow triggers (``type``). Agent schedules and
  pipeline steps carry their tag (``kind``) second, so they are one Struct each with a ``kind``
  field, and `ManifestView` normalises them.
* Unknown keys are accepted on decode (a newer SDK may add some) and dropped from the Struct; the
  server keeps them through `ManifestDocument.raw`.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import msgspec
from msgspec import UNSET, UnsetType

__all__ = [
    "AgentBlock",
    "AgentRow",
    "AgentRun",
    "ApiTrigger",
    "CommandSpec",
    "CronTrigger",
    "EndpointAuth",
    "EndpointEntry",
    "EndpointSpec",
    "FileSpec",
    "HandlerRow",
    "HookRow",
    "InterfacesSettings",
    "JsonObject",
    "JsonValue",
    "LegacyCommandWorkflow",
    "LegacyTaskWorkflow",
    "Manifest",
    "PipelineStep",
    "ProfileRow",
    "PromptFactory",
    "RuntimeSettings",
    "SandboxSettings",
    "Schedule",
    "ScheduleRun",
    "SecretRef",
    "SpawnSettings",
    "StartupSpec",
    "SubagentRow",
    "ToolFunction",
    "ToolPrivilege",
    "ToolRow",
    "ToolRun",
    "Trigger",
    "Workflow",
]

#: Any JSON value (free-form input, defaults, JSON Schema fragments).
JsonValue: TypeAlias = Any
#: A free-form JSON object (a tool's parameter schema, a run's input, a user-supplied block).
JsonObject: TypeAlias = dict[str, Any]


class WireStruct(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=False):
    """Base of every manifest Struct.

    Keyword-only because wire objects have many optional keys; frozen so a decoded manifest is a
    value; unknown fields accepted on decode because other SDK versions add keys (lenient decoding,
    strict emission: the SDK only ever sets the fields declared here). Defaults are encoded (the wire
    keeps empty lists and fixed keys); a key the wire may omit defaults to `UNSET` instead.
    """


# ------------------------------------------------------------------------------------- schedules


class AgentRun(WireStruct, kw_only=True, frozen=True, tag="agent", tag_field="type"):
    """A schedule target that runs an agent: ``{"type": "agent", "agent_id", "input"?}``.

    Attributes:
        agent_id: The agent to run.
        input: The run input (any JSON); absent when the schedule gives none.
    """

    agent_id: str
    input: JsonValue | UnsetType = UNSET


class ToolRun(WireStruct, kw_only=True, frozen=True, tag="tool", tag_field="type"):
    """A schedule target that calls one tool: ``{"type": "tool", "tool_name", "args"}``.

    Attributes:
        tool_name: The tool's ``function.name``.
        args: Keyword arguments for the tool (default ``{}``).
    """

    tool_name: str
    args: JsonObject = {}


#: What a schedule runs, tagged by ``type`` (``agent`` or ``tool``).
ScheduleRun: TypeAlias = AgentRun | ToolRun


class Schedule(WireStruct, kw_only=True, frozen=True):
    """A schedule in ``agent.agents[i].schedules`` or ``agent.tools[i].schedules``.

    Cron form: ``{"id", "kind": "cron", "cron", "timezone", "run", "one_shot_at"?}`` (a cron schedule
    with ``one_shot_at`` fires once, at that UTC instant). Every form:
    ``{"id", "kind": "every", "every_seconds", "run"}`` with ``every_seconds`` >= 60.
    """

    id: str
    kind: Literal["cron", "every"]
    cron: str | UnsetType = UNSET
    timezone: str | UnsetType = UNSET
    every_seconds: int | UnsetType = UNSET
    run: ScheduleRun | UnsetType = UNSET
    one_shot_at: str | UnsetType = UNSET


# ---------------------------------------------------------------------------------------- agents


class PromptFactory(WireStruct, kw_only=True, frozen=True):
    """``agents[i].prompt_factory``: the agent function that builds its instructions at run time.

    Attributes:
        function_name: The Python function's name.
        source: Its source, dedented, from the ``def`` line, without a trailing newline.
        parameters: The JSON Schema of its parameters.
    """

    function_name: str
    source: str
    parameters: JsonObject = {}


class EndpointAuth(WireStruct, kw_only=True, frozen=True):
    """An endpoint's auth: ``mode`` is ``none``, ``header``, ``bearer`` or ``hmac``."""

    mode: str = "none"
    header_name: str = ""
    secret_env: str = ""


class EndpointSpec(WireStruct, kw_only=True, frozen=True):
    """``agents[i].fastapi_endpoint``: a public HTTP route that runs the agent.

    Served at ``/v1/apps/{app_id}/endpoints/{label}``.
    """

    type: str = "fastapi_endpoint"
    method: str = "POST"
    path: str | UnsetType = UNSET
    label: str
    docs: bool = False
    auth: EndpointAuth = msgspec.field(default_factory=EndpointAuth)


class AgentRow(WireStruct, kw_only=True, frozen=True):
    """``agent.agents[i]``: one agent. Only ``id`` is required; every other key may be absent."""

    id: str
    task: str | UnsetType = UNSET
    instructions: str | UnsetType = UNSET
    persona: str | UnsetType = UNSET
    schedules: tuple[Schedule, ...] | UnsetType = UNSET
    handoff_to: tuple[str, ...] | UnsetType = UNSET
    always_on: bool | UnsetType = UNSET
    entrypoint: bool | UnsetType = UNSET
    prompt_factory: PromptFactory | UnsetType = UNSET
    skills: tuple[str, ...] | UnsetType = UNSET
    runtime: JsonObject | UnsetType = UNSET
    sandbox: JsonObject | UnsetType = UNSET
    fastapi_endpoint: EndpointSpec | UnsetType = UNSET


class ProfileRow(WireStruct, kw_only=True, frozen=True):
    """``agent.profiles[i]``: an agent's persona, derived from its row."""

    id: str
    instructions: str | UnsetType = UNSET
    persona: str | UnsetType = UNSET
    handoff_to: tuple[str, ...] | UnsetType = UNSET
    always_on: bool | UnsetType = UNSET
    skills: tuple[str, ...] | UnsetType = UNSET


class HookRow(WireStruct, kw_only=True, frozen=True):
    """``agent.subagents[i].hooks[j]``: run a task or a shell command when an event arrives.

    Attributes:
        id: Hook id (default ``<slug of event>-hook``).
        event: The event type it answers (e.g. ``mail.received``).
        channel: The channel name (default ``api``).
        task: Instructions for the subagent (exclusive with ``command``).
        command: A shell command run in the app's working directory.
        trigger: A trigger object copied from the declaration.
        schedule: A cron expression or a ``cron(...)`` object copied from the declaration.
    """

    id: str | UnsetType = UNSET
    event: str | UnsetType = UNSET
    channel: str | UnsetType = UNSET
    task: str | UnsetType = UNSET
    command: str | UnsetType = UNSET
    trigger: JsonObject | UnsetType = UNSET
    schedule: JsonValue | UnsetType = UNSET


class SubagentRow(WireStruct, kw_only=True, frozen=True):
    """``agent.subagents[i]``: how an agent executes (channels, runtime, sandbox, hooks)."""

    id: str
    workflow_id: str | UnsetType = UNSET
    channels: tuple[str, ...] | UnsetType = UNSET
    runtime: JsonObject | UnsetType = UNSET
    sandbox: JsonObject | UnsetType = UNSET
    hooks: tuple[HookRow, ...] | UnsetType = UNSET


class HandlerRow(WireStruct, kw_only=True, frozen=True):
    """``agent.handlers[i]``: a Python handler function (older SDKs)."""

    id: str
    function_name: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    parameters: JsonObject | UnsetType = UNSET
    source: str | UnsetType = UNSET


class ToolFunction(WireStruct, kw_only=True, frozen=True):
    """``agent.tools[i].function``: what the model sees of a tool.

    Attributes:
        name: The tool name (unique in the app).
        description: The tool's docstring.
        parameters: The JSON Schema of its parameters.
    """

    name: str
    description: str = ""
    parameters: JsonObject = {}


class ToolRow(WireStruct, kw_only=True, frozen=True):
    """``agent.tools[i]``: a Python tool.

    The usual shape is ``{"type": "function", "function", "function_name", "source", "schedules"?,
    "required_env"?}``. Older handler-style rows are ``{"id", "handler_id", "description",
    "parameters"}``, and rows declared with a handler carry both sets of keys.
    """

    type: str | UnsetType = UNSET
    function: ToolFunction | UnsetType = UNSET
    function_name: str | UnsetType = UNSET
    source: str | UnsetType = UNSET
    schedules: tuple[Schedule, ...] | UnsetType = UNSET
    required_env: tuple[str, ...] | UnsetType = UNSET
    id: str | UnsetType = UNSET
    handler_id: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    parameters: JsonObject | UnsetType = UNSET

    @property
    def name(self) -> str:
        """The tool's name: ``function.name``, else the handler-style ``id``, else ``""``."""
        if not isinstance(self.function, UnsetType):
            return self.function.name
        return self.id if isinstance(self.id, str) else ""


class AgentBlock(WireStruct, kw_only=True, frozen=True):
    """The manifest's ``agent`` block; each key is present only when it has something to say."""

    agents: tuple[AgentRow, ...] | UnsetType = UNSET
    default_agent_id: str | UnsetType = UNSET
    profiles: tuple[ProfileRow, ...] | UnsetType = UNSET
    default_profile_id: str | UnsetType = UNSET
    subagents: tuple[SubagentRow, ...] | UnsetType = UNSET
    handlers: tuple[HandlerRow, ...] | UnsetType = UNSET
    tools: tuple[ToolRow, ...] | UnsetType = UNSET


# ------------------------------------------------------------------------------------- workflows


class ApiTrigger(WireStruct, kw_only=True, frozen=True, tag="api", tag_field="type"):
    """A trigger ``{"type": "api", "event"?, ...}``: runs on request, or on an event when ``event`` is set.

    Older hooks keep ``type`` ``api`` while carrying a cron expression; that expression still
    schedules the workflow.
    """

    event: str | UnsetType = UNSET
    cron: str | UnsetType = UNSET
    schedule: str | UnsetType = UNSET
    timezone: str | UnsetType = UNSET
    one_shot_at: str | UnsetType = UNSET


class CronTrigger(WireStruct, kw_only=True, frozen=True, tag="cron", tag_field="type"):
    """A trigger ``{"type": "cron", "cron", "schedule", "timezone", "one_shot_at"?}``.

    ``cron`` and ``schedule`` hold the same 5-field expression; ``one_shot_at`` (UTC,
    ``YYYY-MM-DDTHH:MM:SSZ``) makes it fire once.
    """

    event: str | UnsetType = UNSET
    cron: str | UnsetType = UNSET
    schedule: str | UnsetType = UNSET
    timezone: str | UnsetType = UNSET
    one_shot_at: str | UnsetType = UNSET


#: A workflow trigger, tagged by ``type`` (``api`` or ``cron``).
Trigger: TypeAlias = ApiTrigger | CronTrigger


class CommandSpec(WireStruct, kw_only=True, frozen=True):
    """``workflows[i].run``: ``{}`` or ``{"command": "<shell command>"}`` for run-mode workflows."""

    command: str | UnsetType = UNSET


class PipelineStep(WireStruct, kw_only=True, frozen=True):
    """``workflows[i].pipeline[j]``: one step of a pipeline workflow.

    Tool step ``{"id", "kind": "tool", "tool_name", "args"}``; agent step
    ``{"id", "kind": "agent", "agent_id", "input"}``.
    """

    id: str
    kind: Literal["tool", "agent"]
    tool_name: str | UnsetType = UNSET
    agent_id: str | UnsetType = UNSET
    args: JsonObject | UnsetType = UNSET
    input: JsonValue | UnsetType = UNSET


class Workflow(WireStruct, kw_only=True, frozen=True):
    """``workflows[i]``: what runs, and when.

    ``mode`` is ``task`` (an agent turn), ``run`` (a shell command in ``run.command``) or
    ``pipeline`` (ordered ``pipeline`` steps). Only ``id`` is required.
    """

    id: str
    mode: Literal["task", "run", "pipeline"] | UnsetType = UNSET
    agent_id: str | UnsetType = UNSET
    task: str | UnsetType = UNSET
    run: CommandSpec | UnsetType = UNSET
    pipeline: tuple[PipelineStep, ...] | UnsetType = UNSET
    schedule: str | UnsetType = UNSET
    trigger: Trigger | UnsetType = UNSET


class LegacyTaskWorkflow(WireStruct, kw_only=True, frozen=True):
    """A task workflow in the key order the oldest SDKs' ``@app.task``/``@app.hook`` wrote:
    ``id, mode, task, trigger, run, pipeline, agent_id, schedule``.

    For encoding only (see `encode_manifest`); decoding reads every workflow as `Workflow`.
    """

    id: str
    mode: Literal["task", "run", "pipeline"] | UnsetType = UNSET
    task: str | UnsetType = UNSET
    trigger: Trigger | UnsetType = UNSET
    run: CommandSpec | UnsetType = UNSET
    pipeline: tuple[PipelineStep, ...] | UnsetType = UNSET
    agent_id: str | UnsetType = UNSET
    schedule: str | UnsetType = UNSET


class LegacyCommandWorkflow(WireStruct, kw_only=True, frozen=True):
    """A run-mode workflow in the key order the oldest SDKs' ``@app.hook(command=...)`` wrote:
    ``id, mode, task, run, pipeline, trigger, schedule``.

    For encoding only (see `encode_manifest`); decoding reads every workflow as `Workflow`.
    """

    id: str
    mode: Literal["task", "run", "pipeline"] | UnsetType = UNSET
    task: str | UnsetType = UNSET
    run: CommandSpec | UnsetType = UNSET
    pipeline: tuple[PipelineStep, ...] | UnsetType = UNSET
    trigger: Trigger | UnsetType = UNSET
    schedule: str | UnsetType = UNSET
    agent_id: str | UnsetType = UNSET


class Manifest(WireStruct, kw_only=True, frozen=True):
    """An app manifest.

    Shape: ``{"name", "slug", "description", "agent", "workflows", "interfaces", "runtime_profile"}``.

    ``slug`` is absent from update bodies. ``interfaces`` and ``runtime_profile`` are copied from
    the app's declaration; read them through `InterfacesSettings` and `RuntimeSettings`.
    """

    name: str
    slug: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    agent: AgentBlock | UnsetType = UNSET
    workflows: tuple[Workflow, ...] | UnsetType = UNSET
    interfaces: JsonObject | UnsetType = UNSET
    runtime_profile: JsonObject | UnsetType = UNSET


# ----------------------------------------------------------- read models of the verbatim blocks


class FileSpec(WireStruct, kw_only=True, frozen=True):
    """``runtime_profile.files[i]``: a file written into the app's working directory.

    Attributes:
        path: Relative path inside the working directory.
        content: The file's text.
        executable: Mode 0755 when true, else 0644.
    """

    path: str
    content: str = ""
    executable: bool = False


class StartupSpec(WireStruct, kw_only=True, frozen=True):
    """``runtime_profile.startup``: the command that starts the app's process.

    Attributes:
        entrypoint: The command line.
        shell: The shell that runs it (default ``bash``).
        args: Extra arguments.
    """

    entrypoint: str = ""
    shell: str | UnsetType = UNSET
    args: tuple[str, ...] | UnsetType = UNSET


class SecretRef(WireStruct, kw_only=True, frozen=True):
    """``runtime_profile.secret_refs[i]``: a named secret and the keys it must hold."""

    name: str
    required_keys: tuple[str, ...] | UnsetType = UNSET


class RuntimeSettings(WireStruct, kw_only=True, frozen=True):
    """A ``runtime_profile`` (app-wide) or an agent's/subagent's ``runtime`` block, typed for reading.

    Every key is optional. ``memory_mb``/``volume_size_mb`` are MiB; ``timeout_seconds`` and
    ``retry_backoff_seconds`` are seconds; ``env`` maps names to string values; ``adapter`` and
    ``artifacts`` are the adapter/artifact objects of the declaration; ``execution`` is the newest
    SDK's app-wide execution settings object (e.g. ``{"max_retries": 3}``); ``required_env_keys``
    (wire key ``__required_env_keys``) lists the environment keys the newest SDK's jobs require.
    """

    files: tuple[FileSpec, ...] | UnsetType = UNSET
    startup: StartupSpec | UnsetType = UNSET
    image: str | UnsetType = UNSET
    model: str | UnsetType = UNSET
    memory_mb: int | UnsetType = UNSET
    volume_size_mb: int | UnsetType = UNSET
    python_packages: tuple[str, ...] | UnsetType = UNSET
    node_packages: tuple[str, ...] | UnsetType = UNSET
    env: dict[str, str] | UnsetType = UNSET
    secret_refs: tuple[SecretRef, ...] | UnsetType = UNSET
    adapter: JsonObject | UnsetType = UNSET
    artifacts: tuple[JsonObject, ...] | UnsetType = UNSET
    working_dir: str | UnsetType = UNSET
    timeout_seconds: float | UnsetType = UNSET
    max_retries: int | UnsetType = UNSET
    retry_backoff_seconds: float | UnsetType = UNSET
    execution: JsonObject | UnsetType = UNSET
    required_env_keys: tuple[str, ...] | UnsetType = msgspec.field(default=UNSET, name="__required_env_keys")


class SpawnSettings(WireStruct, kw_only=True, frozen=True):
    """``sandbox.spawn``: whether and how a run may start child sessions."""

    allow: bool = False
    to: tuple[str, ...] = ()
    max_depth: int | UnsetType = UNSET
    max_children_per_parent: int | UnsetType = UNSET
    max_total_child_sessions_per_run: int | UnsetType = UNSET
    ephemeral_ttl_minutes: int | UnsetType = UNSET
    child_policy: str | UnsetType = UNSET
    child_runtime: JsonObject | UnsetType = UNSET


class SandboxSettings(WireStruct, kw_only=True, frozen=True):
    """An agent's or subagent's ``sandbox`` block, typed for reading.

    Attributes:
        policy: ``shared``, ``dedicated``, ``ephemeral`` or ``inherited``.
        key: Sandbox key shared by agents that name the same one.
        max_concurrency: Concurrent runs allowed, >= 1.
        idle_ttl_minutes: Minutes before an idle sandbox is reclaimed.
        spawn: Child-session settings.
    """

    policy: str | UnsetType = UNSET
    key: str | UnsetType = UNSET
    max_concurrency: int | UnsetType = UNSET
    idle_ttl_minutes: int | UnsetType = UNSET
    spawn: SpawnSettings | UnsetType = UNSET


class EndpointEntry(WireStruct, kw_only=True, frozen=True):
    """``interfaces.fastapi_endpoints[i]``: an endpoint spec plus the agent and workflow it runs."""

    type: str = "fastapi_endpoint"
    method: str = "POST"
    path: str | UnsetType = UNSET
    label: str
    docs: bool = False
    auth: EndpointAuth = msgspec.field(default_factory=EndpointAuth)
    agent_id: str | UnsetType = UNSET
    workflow_id: str | UnsetType = UNSET


class ToolPrivilege(WireStruct, kw_only=True, frozen=True):
    """``interfaces.tool_privileges[i]``: connector actions an app may use."""

    toolkit: str
    allowed_actions: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()


class InterfacesSettings(WireStruct, kw_only=True, frozen=True):
    """The ``interfaces`` block, typed for reading."""

    inherit_owner_tools: bool | UnsetType = UNSET
    fastapi_endpoints: tuple[EndpointEntry, ...] | UnsetType = UNSET
    tool_privileges: tuple[ToolPrivilege, ...] | UnsetType = UNSET
