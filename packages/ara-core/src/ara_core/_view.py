"""`ManifestView`: every question a server asks of a deployed manifest, answered from the typed value.

Pure (no I/O) and built once per manifest: `view_for(raw_json)` caches views by the manifest's bytes,
so a server decodes each deployed version once. The one dispatch rule (`dispatch`) maps a workflow to
what runs; events, schedules and hooks all go through it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from ._models import convert_block, decode_manifest
from ._wire import (
    AgentBlock,
    AgentRow,
    AgentRun,
    EndpointEntry,
    HookRow,
    InterfacesSettings,
    JsonObject,
    JsonValue,
    Manifest,
    PipelineStep,
    RuntimeSettings,
    SandboxSettings,
    Schedule,
    SubagentRow,
    ToolRow,
    Workflow,
)
from .errors import ManifestError

__all__ = [
    "DeclaredIntegration",
    "HookSpec",
    "ManifestView",
    "RunTarget",
    "ScheduleSpec",
    "SubagentSettings",
    "dispatch",
    "view_for",
    "view_of",
]

_T = TypeVar("_T")
_ENCODER = msgspec.json.Encoder()
_VIEW_CACHE_SIZE = 256


class RunTarget(msgspec.Struct, frozen=True, kw_only=True):
    """What a workflow, schedule or hook runs.

    Attributes:
        kind: ``agent`` (an agent turn), ``command`` (a shell command in the app's working
            directory), ``pipeline`` (ordered steps) or ``tool`` (one tool call).
        workflow_id: The workflow (or schedule or hook) id the run is recorded under.
        agent_id: The agent that runs (``""`` for commands).
        task: The workflow's task text (``""`` when it has none).
        command: The shell command (``kind == "command"`` only, else ``""``).
        steps: The pipeline's steps (``kind == "pipeline"`` only).
        tool_name: The tool (``kind == "tool"`` only, else ``""``).
        args: The tool's arguments (``kind == "tool"`` only).
        input: The run input a schedule gives (``None`` when it gives none).
    """

    kind: Literal["agent", "command", "pipeline", "tool"]
    workflow_id: str
    agent_id: str = ""
    task: str = ""
    command: str = ""
    steps: tuple[PipelineStep, ...] = ()
    tool_name: str = ""
    args: JsonObject = {}
    input: JsonValue = None


def dispatch(workflow: Workflow, *, default_agent_id: str = "") -> RunTarget:
    """The one rule that maps a workflow to what runs, for requests, events and schedules alike.

    * mode ``run`` → ``command`` with ``run.command``, no agent;
    * mode ``pipeline`` → ``pipeline`` with its steps, agent = the workflow's ``agent_id`` or the
      default agent;
    * mode ``task`` or absent → ``agent``, agent = the workflow's ``agent_id`` or the default agent.

    Args:
        workflow: The workflow.
        default_agent_id: The app's default agent (used when the workflow names none).

    Returns:
        The run target, recorded under the workflow's id, carrying its task text.
    """
    task = _text(workflow.task)
    agent_id = _text(workflow.agent_id) or default_agent_id
    if workflow.mode == "run":
        run = workflow.run
        command = "" if isinstance(run, UnsetType) else _text(run.command)
        return RunTarget(kind="command", workflow_id=workflow.id, task=task, command=command)
    if workflow.mode == "pipeline":
        return RunTarget(
            kind="pipeline",
            workflow_id=workflow.id,
            agent_id=agent_id,
            task=task,
            steps=_items(workflow.pipeline),
        )
    return RunTarget(kind="agent", workflow_id=workflow.id, agent_id=agent_id, task=task)


class ScheduleSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A schedule of the app, normalised from wherever it was declared.

    Attributes:
        key: Stable identity for exactly-once firing: ``workflow:<workflow id>`` for workflow
            schedules, ``every:<agent id>:<schedule id>`` for every-N-seconds schedules,
            ``schedule:<agent id>:<schedule id>`` for an agent's cron schedule that no workflow carries.
        id: The workflow or schedule id.
        kind: ``cron`` (recurring), ``at`` (once, at `at`) or ``every`` (every `every_seconds`).
        expr: The 5-field cron expression (``""`` for ``every``).
        timezone: IANA zone the expression is read in (default ``UTC``).
        every_seconds: The interval in seconds (``every`` only).
        at: The UTC instant of a one-shot schedule (``at`` only).
        target: What runs when it fires.
    """

    key: str
    id: str
    kind: Literal["cron", "every", "at"]
    expr: str = ""
    timezone: str = "UTC"
    every_seconds: int | None = None
    at: datetime | None = None
    target: RunTarget


class HookSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A hook declared on a subagent (``agent.subagents[i].hooks[j]``), with its defaults applied.

    Attributes:
        subagent_id: The subagent that owns it (its agent runs task hooks).
        id: Hook id (default ``<subagent workflow id>-hook-<n>``, n from 1), unique in the app: a
            repeated id is prefixed ``<subagent workflow id>--``.
        event: The event type it answers (default ``hook.tick``).
        channel: The channel (default ``api``).
        task: Instructions for a task hook (``""`` for command hooks).
        command: Shell command of a command hook (``""`` for task hooks).
    """

    subagent_id: str
    id: str
    event: str
    channel: str = "api"
    task: str = ""
    command: str = ""


class SubagentSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How one agent executes: its subagent row (or agent row) with its runtime and sandbox typed.

    Values the manifest does not declare are ``None``; the server applies its own defaults.

    Attributes:
        id: The subagent (and agent) id.
        workflow_id: Its API workflow id (default: the id).
        channels: Channel names it is reachable on (e.g. ``["email", "sms"]``).
        runtime: Its runtime block (subagent row, else agent row).
        sandbox: Its sandbox block (subagent row, else agent row).
        hooks: Its hooks.
        max_retries: Retries after a failed run (runtime, else the app's ``execution``).
        retry_backoff_seconds: Seconds between retries (same sources).
        timeout_seconds: Seconds a run may take (same sources).
        max_concurrency: Runs at once (``sandbox.max_concurrency``).
        policy: Sandbox policy (``shared``, ``dedicated``, ``ephemeral``, ``inherited``).
        working_dir: Working directory relative to the app's, when declared.
        guardrails: Whether the subagent runs under the shared-sandbox guardrails (its runtime
            declares a namespaced ``working_dir``, as subagents declared with their own working
            directory do).
    """

    id: str
    workflow_id: str
    channels: tuple[str, ...] = ()
    runtime: RuntimeSettings = RuntimeSettings()
    sandbox: SandboxSettings = SandboxSettings()
    hooks: tuple[HookSpec, ...] = ()
    max_retries: int | None = None
    retry_backoff_seconds: float | None = None
    timeout_seconds: float | None = None
    max_concurrency: int | None = None
    policy: str | None = None
    working_dir: str | None = None
    guardrails: bool = False


class DeclaredIntegration(msgspec.Struct, frozen=True, kw_only=True):
    """An outside integration the manifest declares, for the server to honour or warn about.

    Attributes:
        kind: ``channel`` (a messaging channel of a subagent) or ``connector`` (a connector toolkit
            in a skill token ``connector:<toolkit>[:<action>]`` or in ``interfaces.tool_privileges``).
        name: The channel name or the toolkit (``gmail``), with ``:<action>`` when one is named.
        path: The JSON path where it is declared.
    """

    kind: Literal["channel", "connector"]
    name: str
    path: str


class ManifestView:
    """Typed, read-only answers about one manifest. Build with `view_for` / `view_of` (cached).

    Args:
        manifest: The typed manifest.

    Raises:
        ManifestError: A verbatim block (``runtime_profile``, ``interfaces``, a ``runtime`` or
            ``sandbox``) has a value of the wrong type; the error names its JSON path.
    """

    __slots__ = (
        "_agents",
        "_default_agent_id",
        "_endpoints",
        "_hooks",
        "_interfaces",
        "_runtime",
        "_schedules",
        "_subagents",
        "_tools",
        "_workflows",
        "manifest",
    )

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        block = manifest.agent
        agents = () if isinstance(block, UnsetType) else _items(block.agents) or _profile_agents(block)
        self._agents: dict[str, AgentRow] = {}
        for row in agents:
            self._agents.setdefault(row.id, row)
        tools = () if isinstance(block, UnsetType) else _items(block.tools)
        self._tools: dict[str, ToolRow] = {}
        for tool in tools:
            self._tools.setdefault(tool.name, tool)
        self._workflows: dict[str, Workflow] = {}
        for wf in _items(manifest.workflows):
            self._workflows.setdefault(wf.id, wf)
        declared = (
            ""
            if isinstance(block, UnsetType)
            else _text(block.default_agent_id) or _text(block.default_profile_id)
        )
        self._default_agent_id = declared or (agents[0].id if agents else "")
        profile = manifest.runtime_profile
        self._runtime = (
            RuntimeSettings()
            if isinstance(profile, UnsetType)
            else convert_block(profile, RuntimeSettings, "$.runtime_profile")
        )
        interfaces = manifest.interfaces
        self._interfaces = (
            InterfacesSettings()
            if isinstance(interfaces, UnsetType)
            else convert_block(interfaces, InterfacesSettings, "$.interfaces")
        )
        rows = () if isinstance(block, UnsetType) else _items(block.subagents)
        self._subagents: dict[str, SubagentSettings] = {}
        for i, row in enumerate(rows):
            self._subagents.setdefault(row.id, self._subagent_settings(row, i))
        self._hooks = self._unique_hooks()
        self._endpoints = self._collect_endpoints(agents)
        self._schedules: tuple[ScheduleSpec, ...] | None = None

    # ------------------------------------------------------------------------------- identity

    @property
    def name(self) -> str:
        """The app's name."""
        return self.manifest.name

    @property
    def slug(self) -> str:
        """The app's slug (``""`` when the document has none)."""
        return _text(self.manifest.slug)

    # --------------------------------------------------------------------------------- agents

    def agents(self) -> tuple[AgentRow, ...]:
        """Every agent row, in manifest order (first row per id). A manifest without agent rows
        (the oldest SDKs declared agents only as ``profiles``) gets one row per profile."""
        return tuple(self._agents.values())

    def agent_ids(self) -> tuple[str, ...]:
        """Every agent id, in manifest order."""
        return tuple(self._agents)

    def agent(self, agent_id: str) -> AgentRow | None:
        """The agent row with this id, or ``None``."""
        return self._agents.get(agent_id)

    @property
    def default_agent_id(self) -> str:
        """``agent.default_agent_id``, else ``agent.default_profile_id``, else the first agent's id,
        else ``""``."""
        return self._default_agent_id

    def entrypoint_agent(self) -> AgentRow | None:
        """The agent a run without an agent id goes to: the default agent, else the last agent
        marked ``entrypoint``, else the first agent; ``None`` when the app has no agents."""
        if agent := self._agents.get(self._default_agent_id):
            return agent
        marked = [row for row in self._agents.values() if row.entrypoint is True]
        if marked:
            return marked[-1]
        return next(iter(self._agents.values()), None)

    def resolve_agent(self, requested: str = "") -> str | None:
        """The agent a run request means: an agent id, the id of a workflow whose agent exists, or
        (when `requested` is empty) the default agent. ``None`` when it names none of these."""
        agent_id = requested or self._default_agent_id
        if agent_id in self._agents:
            return agent_id
        workflow = self._workflows.get(agent_id)
        if workflow is not None and _text(workflow.agent_id) in self._agents:
            return _text(workflow.agent_id)
        return None

    def instructions(self, agent_id: str) -> str:
        """An agent's instructions: ``instructions``, else ``task``, else ``persona``, else ``""``."""
        row = self._agents.get(agent_id)
        if row is None:
            return ""
        return _text(row.instructions) or _text(row.task) or _text(row.persona)

    def skills(self) -> tuple[str, ...]:
        """Every skill token of every agent, de-duplicated, in order."""
        seen: dict[str, None] = {}
        for row in self._agents.values():
            for skill in _items(row.skills):
                seen.setdefault(skill, None)
        return tuple(seen)

    # ---------------------------------------------------------------------------------- tools

    def tools(self) -> tuple[ToolRow, ...]:
        """Every tool row, in manifest order (first row per name)."""
        return tuple(self._tools.values())

    def tool(self, name: str) -> ToolRow | None:
        """The tool with this name (``function.name``, or a handler-style ``id``), or ``None``."""
        return self._tools.get(name)

    def tool_names(self) -> tuple[str, ...]:
        """Every tool name, in manifest order."""
        return tuple(self._tools)

    # ------------------------------------------------------------------------------ workflows

    def workflows(self) -> tuple[Workflow, ...]:
        """Every workflow, in manifest order (first per id)."""
        return tuple(self._workflows.values())

    def workflow(self, workflow_id: str) -> Workflow | None:
        """The workflow with this id, or ``None``."""
        return self._workflows.get(workflow_id)

    def workflows_for_event(self, event_type: str) -> tuple[Workflow, ...]:
        """The workflows whose trigger answers this event type (``trigger.event``), any mode."""
        return tuple(
            wf
            for wf in self._workflows.values()
            if not isinstance(wf.trigger, UnsetType) and wf.trigger.event == event_type
        )

    def dispatch(self, workflow: Workflow) -> RunTarget:
        """`dispatch` with this app's default agent."""
        return dispatch(workflow, default_agent_id=self._default_agent_id)

    def target(self, workflow_id: str) -> RunTarget | None:
        """What the workflow or subagent hook with this id runs, or ``None``."""
        if (workflow := self._workflows.get(workflow_id)) is not None:
            return self.dispatch(workflow)
        for hook in self._hooks:
            if hook.id == workflow_id:
                return self._hook_target(hook)
        return None

    def event_targets(self, event_type: str) -> tuple[RunTarget, ...]:
        """Everything an event of this type runs: its workflows (through `dispatch`), then the
        subagent hooks for it that no workflow of the same id already covers."""
        targets = [self.dispatch(wf) for wf in self.workflows_for_event(event_type)]
        targets += [
            self._hook_target(hook)
            for hook in self._hooks
            if hook.event == event_type and hook.id not in self._workflows
        ]
        return tuple(targets)

    # ------------------------------------------------------------------------------ schedules

    def schedules(self) -> tuple[ScheduleSpec, ...]:
        """Every schedule of the app, normalised.

        * a workflow whose trigger (``cron``/``schedule``) or ``schedule`` carries a cron expression:
          ``cron``, or ``at`` when the trigger has ``one_shot_at``; target from `dispatch`;
        * an agent's ``every`` schedule: ``every``; target the tool call or agent run it names;
        * an agent's ``cron`` schedule that no workflow ``<agent id>--<schedule id>`` carries:
          ``cron``/``at`` with the same target rule.
        """
        if self._schedules is None:
            self._schedules = self._collect_schedules()
        return self._schedules

    def _collect_schedules(self) -> tuple[ScheduleSpec, ...]:
        out: list[ScheduleSpec] = []
        for wf in self._workflows.values():
            trigger = wf.trigger
            timing = UNSET if isinstance(trigger, UnsetType) else trigger
            expr = (
                "" if isinstance(timing, UnsetType) else _text(timing.cron) or _text(timing.schedule)
            ) or _text(wf.schedule)
            if not expr.strip():
                continue
            zone = "" if isinstance(timing, UnsetType) else _text(timing.timezone)
            one_shot = "" if isinstance(timing, UnsetType) else _text(timing.one_shot_at)
            out.append(
                ScheduleSpec(
                    key=f"workflow:{wf.id}",
                    id=wf.id,
                    kind="at" if one_shot else "cron",
                    expr=" ".join(expr.split()),
                    timezone=zone or "UTC",
                    at=_instant(one_shot),
                    target=self.dispatch(wf),
                )
            )
        for agent in self._agents.values():
            for sched in _items(agent.schedules):
                spec = self._agent_schedule(agent, sched)
                if spec is not None:
                    out.append(spec)
        return tuple(out)

    def _agent_schedule(self, agent: AgentRow, sched: Schedule) -> ScheduleSpec | None:
        run = sched.run
        if isinstance(run, UnsetType):
            return None
        if isinstance(run, AgentRun):
            target = RunTarget(
                kind="agent",
                workflow_id=sched.id,
                agent_id=run.agent_id or agent.id,
                task=_text(agent.task),
                input=None if isinstance(run.input, UnsetType) else run.input,
            )
        else:
            target = RunTarget(
                kind="tool", workflow_id=sched.id, agent_id=agent.id, tool_name=run.tool_name, args=run.args
            )
        if sched.kind == "every":
            return ScheduleSpec(
                key=f"every:{agent.id}:{sched.id}",
                id=sched.id,
                kind="every",
                every_seconds=_set(sched.every_seconds),
                target=target,
            )
        if f"{agent.id}--{sched.id}" in self._workflows or not _text(sched.cron).strip():
            return None
        one_shot = _text(sched.one_shot_at)
        return ScheduleSpec(
            key=f"schedule:{agent.id}:{sched.id}",
            id=sched.id,
            kind="at" if one_shot else "cron",
            expr=" ".join(_text(sched.cron).split()),
            timezone=_text(sched.timezone) or "UTC",
            at=_instant(one_shot),
            target=target,
        )

    # ------------------------------------------------------------------ subagents and hooks

    @property
    def hooks(self) -> tuple[HookSpec, ...]:
        """Every subagent hook, defaults applied, in manifest order."""
        return self._hooks

    def subagent(self, subagent_id: str) -> SubagentSettings | None:
        """How this agent executes: its subagent row, else its agent row's runtime and sandbox;
        ``None`` when neither exists."""
        if (settings := self._subagents.get(subagent_id)) is not None:
            return settings
        agent = self._agents.get(subagent_id)
        if agent is None:
            return None
        return self._settings(
            subagent_id,
            subagent_id,
            (),
            self._agent_block(agent.runtime, RuntimeSettings, subagent_id, "runtime"),
            self._agent_block(agent.sandbox, SandboxSettings, subagent_id, "sandbox"),
            (),
        )

    def _subagent_settings(self, row: SubagentRow, index: int) -> SubagentSettings:
        path = f"$.agent.subagents[{index}]"
        agent = self._agents.get(row.id)
        runtime = (
            convert_block(row.runtime, RuntimeSettings, f"{path}.runtime")
            if not isinstance(row.runtime, UnsetType)
            else self._agent_block(agent.runtime if agent else UNSET, RuntimeSettings, row.id, "runtime")
        )
        sandbox = (
            convert_block(row.sandbox, SandboxSettings, f"{path}.sandbox")
            if not isinstance(row.sandbox, UnsetType)
            else self._agent_block(agent.sandbox if agent else UNSET, SandboxSettings, row.id, "sandbox")
        )
        workflow_id = _text(row.workflow_id) or row.id
        hooks = tuple(_hook_spec(row.id, workflow_id, hook, n) for n, hook in enumerate(_items(row.hooks), 1))
        return self._settings(row.id, workflow_id, _items(row.channels), runtime, sandbox, hooks)

    def _agent_block(self, value: JsonObject | UnsetType, kind: type[_T], agent_id: str, field: str) -> _T:
        if isinstance(value, UnsetType):
            return kind()
        index = list(self._agents).index(agent_id) if agent_id in self._agents else 0
        return convert_block(value, kind, f"$.agent.agents[{index}].{field}")

    def _settings(
        self,
        subagent_id: str,
        workflow_id: str,
        channels: tuple[str, ...],
        runtime: RuntimeSettings,
        sandbox: SandboxSettings,
        hooks: tuple[HookSpec, ...],
    ) -> SubagentSettings:
        execution = self._runtime.execution
        app_wide: JsonObject = {} if isinstance(execution, UnsetType) else execution
        working_dir = _set(runtime.working_dir)
        return SubagentSettings(
            id=subagent_id,
            workflow_id=workflow_id,
            channels=channels,
            runtime=runtime,
            sandbox=sandbox,
            hooks=hooks,
            max_retries=_first_int(runtime.max_retries, app_wide.get("max_retries")),
            retry_backoff_seconds=_first_number(
                runtime.retry_backoff_seconds, app_wide.get("retry_backoff_seconds")
            ),
            timeout_seconds=_first_number(runtime.timeout_seconds, app_wide.get("timeout_seconds")),
            max_concurrency=_set(sandbox.max_concurrency),
            policy=_set(sandbox.policy),
            working_dir=working_dir,
            guardrails=bool(working_dir),
        )

    def _unique_hooks(self) -> tuple[HookSpec, ...]:
        """Every hook, each id unique: a hook whose id an earlier hook already has (two subagents
        hooking the same event get the same default id) becomes ``<subagent workflow id>--<id>``."""
        seen: set[str] = set()
        out: list[HookSpec] = []
        for subagent_id, settings in list(self._subagents.items()):
            hooks: list[HookSpec] = []
            for hook in settings.hooks:
                if hook.id in seen:
                    hook = msgspec.structs.replace(hook, id=f"{settings.workflow_id}--{hook.id}")
                seen.add(hook.id)
                hooks.append(hook)
            if tuple(hooks) != settings.hooks:
                self._subagents[subagent_id] = msgspec.structs.replace(settings, hooks=tuple(hooks))
            out += hooks
        return tuple(out)

    def _hook_target(self, hook: HookSpec) -> RunTarget:
        if hook.command:
            return RunTarget(kind="command", workflow_id=hook.id, command=hook.command)
        agent_id = hook.subagent_id if hook.subagent_id in self._agents else self._default_agent_id
        return RunTarget(kind="agent", workflow_id=hook.id, agent_id=agent_id, task=hook.task)

    # ------------------------------------------------------------------- runtime and more

    def runtime(self) -> RuntimeSettings:
        """The app-wide runtime profile (``python_packages``, ``files``, ``env``, ``startup``,
        ``adapter``, ``artifacts``, ...), typed; private keys (``__...``) are not in it."""
        return self._runtime

    @property
    def interfaces(self) -> InterfacesSettings:
        """The ``interfaces`` block, typed."""
        return self._interfaces

    def endpoints(self) -> tuple[EndpointEntry, ...]:
        """Every public endpoint: ``interfaces.fastapi_endpoints`` first, then the agents'
        ``fastapi_endpoint`` specs not listed there (by label); each with ``agent_id`` and
        ``workflow_id`` filled."""
        return self._endpoints

    def endpoint(self, label: str) -> EndpointEntry | None:
        """The endpoint with this label, or ``None``."""
        return next((e for e in self._endpoints if e.label == label), None)

    def _collect_endpoints(self, agents: tuple[AgentRow, ...]) -> tuple[EndpointEntry, ...]:
        out: dict[str, EndpointEntry] = {}
        for entry in _items(self._interfaces.fastapi_endpoints):
            agent_id = _text(entry.agent_id)
            out.setdefault(
                entry.label,
                msgspec.structs.replace(
                    entry,
                    path=_text(entry.path) or f"/{entry.label}",
                    agent_id=agent_id,
                    workflow_id=_text(entry.workflow_id) or agent_id,
                ),
            )
        for row in agents:
            spec = row.fastapi_endpoint
            if isinstance(spec, UnsetType) or spec.label in out:
                continue
            out[spec.label] = EndpointEntry(
                type=spec.type,
                method=spec.method,
                path=_text(spec.path) or f"/{spec.label}",
                label=spec.label,
                docs=spec.docs,
                auth=spec.auth,
                agent_id=row.id,
                workflow_id=row.id,
            )
        return tuple(out.values())

    def declared_integrations(self) -> tuple[DeclaredIntegration, ...]:
        """Channels and connectors the manifest declares (raw facts; the server decides whether it
        serves them and warns at deploy when it does not)."""
        out: list[DeclaredIntegration] = []
        block = self.manifest.agent
        rows = () if isinstance(block, UnsetType) else _items(block.subagents)
        for i, row in enumerate(rows):
            for j, channel in enumerate(_items(row.channels)):
                out.append(
                    DeclaredIntegration(
                        kind="channel", name=channel, path=f"$.agent.subagents[{i}].channels[{j}]"
                    )
                )
        for i, agent in enumerate(() if isinstance(block, UnsetType) else _items(block.agents)):
            for j, skill in enumerate(_items(agent.skills)):
                if skill.startswith("connector:"):
                    out.append(
                        DeclaredIntegration(
                            kind="connector",
                            name=skill.removeprefix("connector:"),
                            path=f"$.agent.agents[{i}].skills[{j}]",
                        )
                    )
        for i, privilege in enumerate(_items(self._interfaces.tool_privileges)):
            actions = privilege.allowed_actions or ("",)
            for action in actions:
                name = f"{privilege.toolkit}:{action}" if action else privilege.toolkit
                out.append(
                    DeclaredIntegration(
                        kind="connector", name=name, path=f"$.interfaces.tool_privileges[{i}]"
                    )
                )
        return tuple(out)


@functools.lru_cache(maxsize=_VIEW_CACHE_SIZE)
def view_for(raw_json: bytes) -> ManifestView:
    """The view of a manifest given as JSON bytes; the last 256 distinct manifests are cached.

    Args:
        raw_json: The stored manifest's JSON (the same bytes give the same view object).

    Raises:
        ManifestError: The manifest does not decode into the Structs; the error names the path.
    """
    return ManifestView(decode_manifest(raw_json))


def view_of(document: Mapping[str, object] | bytes | str | Manifest) -> ManifestView:
    """The (cached) view of a manifest given as a dict, JSON text or typed value.

    A dict is encoded to JSON first (fast), so equal documents share one cached view.

    Raises:
        ManifestError: As `view_for`.
    """
    if isinstance(document, Manifest):
        return view_for(_ENCODER.encode(document))
    if isinstance(document, str):
        return view_for(document.encode())
    if isinstance(document, bytes):
        return view_for(document)
    try:
        return view_for(_ENCODER.encode(document))
    except TypeError as exc:
        raise ManifestError([("$", f"not JSON-serialisable: {exc}")]) from None


def _profile_agents(block: AgentBlock) -> tuple[AgentRow, ...]:
    """Agent rows for a manifest that declares its agents only as profiles (the oldest SDKs)."""
    return tuple(
        AgentRow(
            id=p.id,
            instructions=p.instructions,
            persona=p.persona,
            handoff_to=p.handoff_to,
            always_on=p.always_on,
            skills=p.skills,
        )
        for p in _items(block.profiles)
    )


def _hook_spec(subagent_id: str, workflow_id: str, hook: HookRow, n: int) -> HookSpec:
    return HookSpec(
        subagent_id=subagent_id,
        id=_text(hook.id) or f"{workflow_id}-hook-{n}",
        event=_text(hook.event) or "hook.tick",
        channel=_text(hook.channel) or "api",
        task=_text(hook.task),
        command=_text(hook.command),
    )


def _text(value: str | UnsetType) -> str:
    return "" if isinstance(value, UnsetType) else value


def _set(value: _T | UnsetType) -> _T | None:
    return None if isinstance(value, UnsetType) else value


def _items(value: tuple[_T, ...] | UnsetType) -> tuple[_T, ...]:
    return () if isinstance(value, UnsetType) else value


def _first_int(declared: int | UnsetType, fallback: object) -> int | None:
    if not isinstance(declared, UnsetType):
        return declared
    return fallback if isinstance(fallback, int) and not isinstance(fallback, bool) else None


def _first_number(declared: float | UnsetType, fallback: object) -> float | None:
    if not isinstance(declared, UnsetType):
        return declared
    if isinstance(fallback, int | float) and not isinstance(fallback, bool):
        return float(fallback)
    return None


def _instant(text: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
