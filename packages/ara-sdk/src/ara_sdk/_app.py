"""`App` and its decorators: the authoring surface.

Each decorator validates its arguments, builds a frozen definition and attaches it to the
function (`fn.__ara_definition__`, see `_definitions`), then returns the function unchanged.
`App` is a registry of those functions and of app-level declarations; `App.manifest` compiles
them into a new manifest on every access.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from ara_core import (
    DEFAULT_SUBAGENT_MAX_CONCURRENCY,
    DEFAULT_SUBAGENT_MAX_RETRIES,
    DEFAULT_SUBAGENT_RETRY_BACKOFF_SECONDS,
    DEFAULT_SUBAGENT_TIMEOUT_SECONDS,
    PROJECT_NAME_PATTERN,
    DeclarationError,
    check_json,
    guardrail_command,
    normalize_schedule_run,
    normalize_schedule_spec,
    slugify,
    strip_private,
    task_guardrail_prefix,
)

from ._definitions import (
    AgentDefinition,
    EndpointDefinition,
    PromptFactory,
    ScheduleEntry,
    ToolDefinition,
    check_target,
    definition_of,
    freeze,
    merge,
    parameters_schema,
)
from ._source import function_source

if TYPE_CHECKING:
    from ara_core import Manifest, ManifestDocument

__all__ = ["App", "ProjectNameError", "define_app", "fastapi_endpoint"]

F = TypeVar("F", bound=Callable[..., Any])

_ENDPOINT_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")
_ENDPOINT_AUTH = ("none", "header", "bearer", "hmac")


def _dedupe(values: Any) -> list[str]:
    out: list[str] = []
    for value in values or []:
        text = str(value).strip()
        if text and text not in out:
            out.append(text)
    return out


class ProjectNameError(DeclarationError):
    """`App(project_name)` is not a DNS label; the message gives the allowed characters.

    Attributes:
        value: The rejected project name.
    """

    def __init__(self, value: str) -> None:
        self.value = value
        super().__init__(
            f"project_name must match {PROJECT_NAME_PATTERN.pattern} (got {value!r}): use 1-63 lowercase "
            "letters, digits and hyphens, starting and ending with a letter or digit, e.g. 'my-app-1'"
        )


def _doc(fn: Callable[..., Any]) -> str:
    """The docstring as the original SDK ships it: stripped, inner indentation kept."""
    return fn.__doc__.strip() if fn.__doc__ else ""


def _caller_file() -> str | None:
    """The file of the module that created the App (for `python app.py <command>`)."""
    frame = sys._getframe(2)  # pyright: ignore[reportPrivateUsage]
    while frame is not None and frame.f_globals.get("__name__", "").startswith("ara_sdk"):
        frame = frame.f_back
    name = frame.f_globals.get("__file__") if frame is not None else None
    return os.path.abspath(name) if isinstance(name, str) else None


def _check_prompt_signature(fn: Callable[..., Any]) -> None:
    params = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if len(params) != 1:
        raise DeclarationError(
            "@app.agent requires exactly one input parameter "
            f"({fn.__name__} has {len(params)}; write `def {fn.__name__}(input: dict) -> str`, "
            "or pass task=/instructions= for a fixed prompt)"
        )
    ret = inspect.signature(fn).return_annotation
    if ret is inspect.Signature.empty or ret is str:
        return
    if isinstance(ret, str) and ret.strip().strip("'\"").lower() in ("str", "builtins.str"):
        return
    raise DeclarationError("@app.agent return annotation must be str (or omitted)")


def fastapi_endpoint(
    *,
    method: str = "POST",
    path: str = "",
    label: str = "",
    auth: str = "none",
    auth_header_name: str = "",
    auth_secret_env: str = "",
    docs: bool = False,
) -> Callable[[F], F]:
    """Expose an agent behind `/v1/apps/{app_id}/endpoints/{label}`; either decorator order.

    Args:
        method: HTTP method (GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD).
        path: Route path (default `/<label>`).
        label: Endpoint label (default: the slugified function name).
        auth: `none`, `header` (shared secret in a header), `bearer` or `hmac` (signed body).
        auth_header_name: Header for `header` mode (default `X-Ara-Endpoint-Secret`).
        auth_secret_env: Env var holding the secret (default `ARA_ENDPOINT_<LABEL>_SECRET`).
        docs: Publish docs for the endpoint.

    Raises:
        DeclarationError: Bad method, empty label or unknown auth mode.
    """
    verb = str(method or "").strip().upper()
    if verb not in _ENDPOINT_METHODS:
        raise DeclarationError(f"fastapi_endpoint(method=...) must be one of: {', '.join(_ENDPOINT_METHODS)}")
    mode = str(auth or "").strip().lower()
    if mode not in _ENDPOINT_AUTH:
        raise DeclarationError(f"fastapi_endpoint(auth=...) must be one of: {', '.join(_ENDPOINT_AUTH)}")

    def decorate(fn: F) -> F:
        name = slugify(label or fn.__name__)
        if not name:
            raise DeclarationError("fastapi_endpoint(...) requires a non-empty label")
        route = _endpoint_path(path, name)
        header = auth_header_name or ("X-Ara-Endpoint-Secret" if mode == "header" else "")
        env = auth_secret_env or (
            "" if mode == "none" else f"ARA_ENDPOINT_{name.upper().replace('-', '_')}_SECRET"
        )
        spec = {
            "type": "fastapi_endpoint",
            "method": verb,
            "path": route,
            "label": name,
            "docs": bool(docs),
            "auth": {"mode": mode, "header_name": header, "secret_env": env},
        }
        merge(fn, "fastapi_endpoint", endpoint=EndpointDefinition(spec=spec))
        return fn

    return decorate


def _endpoint_path(path: str, label: str) -> str:
    """`/<label>` when empty; else stripped, with a leading `/` and runs of `/` collapsed.

    A trailing `/` is kept.
    """
    text = str(path or "").strip()
    if not text:
        return f"/{label}"
    out = "/" + text.lstrip("/")
    while "//" in out:
        out = out.replace("//", "/")
    return out


class App:
    """An Ara app: identity, defaults and the agents, tools and schedules declared on it.

    Two modes:

    * **strict** — `App("my-app")` or `App(project_name="my-app")`: the project name must be a DNS
      label (1-63 of `[a-z0-9-]`, no leading/trailing hyphen); `name == slug == project_name`.
    * **legacy** — `App("Display Name", project_name="dns-name", description=...)`, or `name=`/
      `slug=`/`description=` given: display name kept, slug = `slugify(project_name or slug or name)`
      (fallback `workflow`), `description` emitted.

    Args:
        project_name_or_name: The project name (strict) or display name (legacy).
        name: Display name (legacy).
        project_name: DNS project name.
        slug: Explicit slug (legacy).
        description: App description (legacy).
        interfaces: `interfaces` block (e.g. `{"inherit_owner_tools": False}`).
        runtime_profile: Usually `runtime(...)`.
        agent: Base `agent` block.

    Raises:
        DeclarationError: Invalid project name (`project_name must match ...`) or empty name.
    """

    def __init__(
        self,
        project_name_or_name: str | None = None,
        /,
        *,
        name: str | None = None,
        project_name: str | None = None,
        slug: str | None = None,
        description: str | None = None,
        interfaces: Mapping[str, Any] | None = None,
        runtime_profile: Mapping[str, Any] | None = None,
        agent: Mapping[str, Any] | None = None,
    ) -> None:
        legacy = (
            name is not None
            or slug is not None
            or description is not None
            or (project_name_or_name is not None and project_name is not None)
        )
        self.legacy = legacy
        if legacy:
            display = str(name if name is not None else project_name_or_name or "").strip()
            if not display:
                raise DeclarationError("App(name=...) requires a non-empty name")
            self.name = display
            self.slug = slugify(project_name or slug or display) or "workflow"
            self.project_name = str(project_name or "").strip() or self.slug
            self.description = str(description or "").strip()
        else:
            raw = str(project_name if project_name is not None else project_name_or_name or "").strip()
            if not PROJECT_NAME_PATTERN.match(raw):
                raise ProjectNameError(raw)
            self.name = self.slug = self.project_name = raw
            self.description = ""
        self.interfaces: dict[str, Any] = dict(interfaces or {})
        self.runtime_profile: dict[str, Any] = dict(runtime_profile or {})
        self._agent_base: dict[str, Any] = dict(agent or {})
        # The registry. Keyed by id: re-registering an id keeps its position (an in-place upsert).
        # Agents and tools map to their functions, whose frozen definitions the compiler reads;
        # workflows, subagent rows and handlers are app-level rows kept as private copies.
        self._agents: dict[str, Callable[..., Any]] = {}
        self._tools: dict[str, Callable[..., Any]] = {}
        self._workflows: dict[str, dict[str, Any]] = {}
        self._subagents: dict[str, dict[str, Any]] = {}
        self._handlers: dict[str, dict[str, Any]] = {}
        self._local_entrypoint: Callable[..., Any] | None = None
        self._entrypoint_id: str | None = None
        self._script = _caller_file()

    def __repr__(self) -> str:
        return f"App({self.slug!r})"

    # ----------------------------------------------------------------------------------- agents
    def agent(
        self,
        id: str | None = None,
        *,
        task: str = "",
        instructions: str = "",
        prompt_factory: bool = False,
        entrypoint: bool = False,
        skills: list[str] | None = None,
        schedules: list[Mapping[str, Any]] | None = None,
        handoff_to: list[str] | None = None,
        runtime: Mapping[str, Any] | None = None,
        sandbox: Mapping[str, Any] | None = None,
        always_on: bool = True,
    ) -> Callable[[F], F]:
        """Register an agent.

        Two forms: a *prompt function* of one parameter returning `str` (the run input in, the
        instructions out; emitted as `prompt_factory`), used in strict mode when neither `task` nor
        `instructions` is given or with `prompt_factory=True`; or a fixed `task=`/`instructions=`
        text with any signature. The decorated function is returned unchanged.

        Args:
            id: Agent id (default: the function name; slugified in legacy mode).
            task: Task text.
            instructions: Instructions (default: `task`).
            prompt_factory: Force the prompt-function form.
            entrypoint: Make this the app's default agent.
            skills: Skill names.
            schedules: Schedule specs.
            handoff_to: Agent ids this agent may hand off to.
            runtime: Agent runtime overrides.
            sandbox: `sandbox(...)` policy.
            always_on: Keep the agent warm.

        Raises:
            DeclarationError: Bad id, signature, return annotation, source, or schedules.
        """

        def decorate(fn: F) -> F:
            check_target(fn, "@app.agent")
            agent_id = (
                str(id).strip() if id is not None else (slugify(fn.__name__) if self.legacy else fn.__name__)
            )
            if not agent_id:
                raise DeclarationError("@app.agent requires a non-empty id")
            factory = prompt_factory or (not self.legacy and not task and not instructions)
            pf: PromptFactory | None = None
            if factory:
                _check_prompt_signature(fn)
                pf = PromptFactory(
                    function_name=fn.__name__,
                    source=function_source(fn, decorator="@app.agent"),
                    parameters=parameters_schema(fn, "@app.agent", warn=False),
                )
                if task or instructions:
                    text = task or instructions
                elif prompt_factory and self.legacy:
                    text = f"Generate instructions at runtime via prompt factory '{fn.__name__}'."
                else:
                    text = _doc(fn) or f"Generate instructions at runtime via agent function '{fn.__name__}'."
            else:
                text = task or instructions or _doc(fn) or f"Run agent {agent_id}"
            definition = AgentDefinition(
                id=agent_id,
                task=text,
                instructions=instructions or text,
                schedules=tuple(normalize_schedule_spec(s) for s in (schedules or [])),
                handoff_to=tuple(_dedupe(handoff_to)),
                always_on=bool(always_on),
                entrypoint=bool(entrypoint),
                prompt_factory=pf,
                skills=tuple(_dedupe(skills)) if skills is not None else None,
                runtime=strip_private(runtime) if runtime else None,
                sandbox=freeze(sandbox) if sandbox else None,
            )
            merge(fn, "@app.agent", agent=definition)
            self._agents[agent_id] = fn
            if entrypoint:
                self._entrypoint_id = agent_id
            return fn

        return decorate

    # ------------------------------------------------------------------------------------ tools
    def tool(
        self,
        id: str | None = None,
        *,
        parameters: Mapping[str, Any] | None = None,
        description: str | None = None,
        handler: str | None = None,
    ) -> Callable[[F], F]:
        """Register a tool the model can call; its source runs in the app's sandbox.

        The source is shipped alone: import what the tool needs inside the function.

        Args:
            id: Tool name (default: the function name; slugified in legacy mode).
            parameters: Explicit JSON schema (default: derived from the signature).
            description: Description (default: the docstring).
            handler: 0.1.5 style: the handler id; adds `id`, `handler_id`, `description`, `parameters`.

        Raises:
            DeclarationError: Source not retrievable or not a plain `def`.
        """

        def decorate(fn: F) -> F:
            check_target(fn, "@app.tool")
            name = str(id).strip() if id else (slugify(fn.__name__) if self.legacy else fn.__name__)
            if not name:
                raise DeclarationError("@app.tool requires a non-empty id")
            if parameters is not None and not isinstance(parameters, Mapping):
                raise DeclarationError("@app.tool(parameters=...) must be a JSON schema dict")
            schema = freeze(parameters) if parameters is not None else parameters_schema(fn, "@app.tool")
            check_json(schema, "@app.tool(parameters=...)")
            definition = ToolDefinition(
                name=name,
                description=description if description is not None else _doc(fn),
                parameters=schema,
                function_name=fn.__name__,
                source=function_source(fn, decorator="@app.tool"),
                handler=(handler or name) if handler is not None else None,
            )
            merge(fn, "@app.tool", tool=definition)
            self._tools[name] = fn
            return fn

        return decorate

    # -------------------------------------------------------------------------------- schedules
    def schedule(
        self,
        *,
        id: str = "",
        cron: str = "",
        at: str | list[str] | None = None,
        timezone: str = "UTC",
        run: Mapping[str, Any] | None = None,
    ) -> Callable[[F], F]:
        """Attach schedules to an agent or tool; either decorator order.

        Args:
            id: Base schedule id (default: the slugified function name).
            cron: A 5-field cron expression.
            at: `HH:MM` (daily), a 5-field cron, or an ISO-8601 instant (one shot), or a list.
            timezone: IANA zone for cron and `HH:MM` entries.
            run: An `invoke.*` target (default: the decorated agent or tool).

        Raises:
            DeclarationError: No source, a bad token, cron or zone.
        """
        tokens = [at] if isinstance(at, str) else list(at or [])

        def decorate(fn: F) -> F:
            base = slugify(id or fn.__name__)
            if not base:
                raise DeclarationError("app.schedule(...) requires a non-empty id or function name")
            sources: list[tuple[str, dict[str, Any]]] = []
            if cron.strip():
                sources.append(("cron", {"kind": "cron", "cron": cron, "timezone": timezone}))
            for n, token in enumerate(tokens, 1):
                sources.append((slugify(token) or f"at-{n}", _at_entry(token, timezone)))
            if not sources:
                raise DeclarationError("app.schedule(...) requires at least one of cron= or at=")
            target = normalize_schedule_run(run) if run is not None else None
            entries: list[ScheduleEntry] = []
            for suffix, entry in sources:
                sid = base if len(sources) == 1 else f"{base}--{suffix}"
                spec = {"id": sid, **entry, "run": target or {"type": "agent", "agent_id": "placeholder"}}
                normalized = normalize_schedule_spec(spec)
                if target is None:
                    normalized["run"] = None  # bound to the function's agent or tool, in place
                entries.append(ScheduleEntry(id=sid, spec=normalized))
            current = definition_of(fn)
            if current is None or (current.agent is None and current.tool is None):
                import logging

                logging.getLogger("ara_sdk").warning(
                    "app.schedule(...) on %s: no agent or tool yet; the schedule binds when @app.agent or "
                    "@app.tool is applied (a schedule on neither is not in the manifest)",
                    fn.__name__,
                )
            merge(fn, "@app.schedule", schedules=entries)
            return fn

        return decorate

    # ---------------------------------------------------- workflows (the original 0.1.0 – 0.1.5 surface)
    def workflow(
        self,
        *,
        mode: str = "task",
        id: str | None = None,
        agent: str | None = None,
        task: str | None = None,
        command: str | None = None,
        pipeline: list[Mapping[str, Any]] | None = None,
        trigger: Mapping[str, Any] | None = None,
        schedule: Any = None,
    ) -> Callable[[F], F]:
        """The workflow primitive behind `task`, `run` and `pipeline`.

        Args:
            mode: `task` (agent loop), `run` (a shell command) or `pipeline` (ordered steps).
            id: Workflow id (slugified; default: the function name).
            agent: Agent id running a task or pipeline (rejected in `run` mode).
            task: Task text (default: the docstring).
            command: Shell command (required in `run` mode).
            pipeline: Steps `{"id", "kind": "tool"|"agent", "tool_name"|"agent_id", "args"|"input"}`.
            trigger: Trigger dict (`{"type": "api"}` by default; `{"type": "api", "event": ...}` for hooks).
            schedule: A cron expression or `cron(...)` dict.

        Raises:
            DeclarationError: Unknown mode, `run` without command or with `agent`, bad pipeline, bad cron.
        """
        if mode not in ("task", "run", "pipeline"):
            raise DeclarationError("@app.workflow(mode=...) must be one of: task, run, pipeline")
        if mode == "run":
            if not (command and str(command).strip()):
                raise DeclarationError("@app.run(...) requires a non-empty command")
            if agent:
                raise DeclarationError(
                    "@app.run(...) does not accept agent=; run mode executes a shell command"
                )

        def decorate(fn: F) -> F:
            wid = slugify(id or fn.__name__)
            if not wid:
                raise DeclarationError("@app.workflow requires a non-empty id")
            normalized, expr = _normalize_trigger(trigger, schedule)
            row: dict[str, Any] = {"id": wid, "mode": mode}
            if mode == "run":  # the original's hook-command shape: schedule always present
                row.update(
                    task="", run={"command": str(command)}, pipeline=[], trigger=normalized, schedule=expr
                )
            else:  # the original's task shape: agent_id and schedule only when set
                text = task or _doc(fn) or f"Execute workflow {wid}"
                row.update(task=text, trigger=normalized, run={}, pipeline=_pipeline(pipeline or [], wid))
                if agent:
                    row["agent_id"] = str(agent)
                if expr:
                    row["schedule"] = expr
            self._workflows[wid] = freeze(row)
            merge(fn, f"@app.{mode if mode != 'task' else 'task'}", workflows=(wid,))
            return fn

        return decorate

    def task(
        self,
        *,
        id: str | None = None,
        agent: str | None = None,
        task: str | None = None,
        trigger: Mapping[str, Any] | None = None,
        schedule: Any = None,
    ) -> Callable[[F], F]:
        """A task-mode workflow: an agent works on `task`. See `workflow`."""
        return self.workflow(mode="task", id=id, agent=agent, task=task, trigger=trigger, schedule=schedule)

    def run(
        self,
        *,
        id: str | None = None,
        command: str | None = None,
        agent: str | None = None,
        trigger: Mapping[str, Any] | None = None,
        schedule: Any = None,
    ) -> Callable[[F], F]:
        """A run-mode workflow: a shell command. See `workflow`."""
        return self.workflow(
            mode="run", id=id, command=command, agent=agent, trigger=trigger, schedule=schedule
        )

    def pipeline(
        self,
        *,
        id: str | None = None,
        steps: list[Mapping[str, Any]] | None = None,
        agent: str | None = None,
        task: str | None = None,
        trigger: Mapping[str, Any] | None = None,
        schedule: Any = None,
    ) -> Callable[[F], F]:
        """A pipeline workflow: ordered tool/agent steps. See `workflow`."""
        return self.workflow(
            mode="pipeline", id=id, agent=agent, task=task, pipeline=steps, trigger=trigger, schedule=schedule
        )

    def hook(
        self,
        *,
        id: str | None = None,
        event: str = "hook.tick",
        agent: str | None = None,
        task: str | None = None,
        command: str | None = None,
        trigger: Mapping[str, Any] | None = None,
        schedule: Any = None,
    ) -> Callable[[F], F]:
        """A workflow run when an event arrives: `command` -> run mode, else task mode.

        Raises:
            DeclarationError: Both `task` and `command`, or an empty event.
        """
        if task and command:
            raise DeclarationError("@app.hook(...) accepts task or command, not both")
        name = str(event or "").strip()
        if not name:
            raise DeclarationError("@app.hook(...) requires a non-empty event")
        base = {"type": "api", **dict(trigger or {})}
        base.setdefault("event", name)

        def decorate(fn: F) -> F:
            if command:
                inner = self.workflow(
                    mode="run",
                    id=id,
                    command=command,
                    trigger=base,
                    schedule=schedule if isinstance(schedule, str) else None,
                )
            else:
                inner = self.workflow(
                    mode="task",
                    id=id,
                    agent=agent,
                    task=task or _doc(fn) or f"Handle hook '{name}'",
                    trigger=base,
                    schedule=schedule,
                )
            out = inner(fn)
            wid = slugify(id or fn.__name__)
            merge(fn, "@app.hook", hook={"id": wid, "event": name})
            return out

        return decorate

    def subagent(
        self,
        id: str | None = None,
        *,
        workflow_id: str | None = None,
        instructions: str = "",
        handoff_to: list[str] | None = None,
        always_on: bool = True,
        task: str | None = None,
        trigger: Mapping[str, Any] | None = None,
        schedule: Any = None,
        adapter: Mapping[str, Any] | None = None,
        runtime: Mapping[str, Any] | None = None,
        sandbox: Mapping[str, Any] | None = None,
        channels: list[str] | None = None,
        hooks: list[Mapping[str, Any]] | None = None,
    ) -> Callable[[F], F]:
        """An agent with its own workflow, runtime budget, shared-sandbox guardrails and hooks.

        Runtime defaults: `working_dir = subagents/<id>`, `timeout_seconds = 120`, `max_retries = 2`,
        `retry_backoff_seconds = 5`; sandbox `{"policy": "shared", "max_concurrency": 4}`. The task
        text gets the guardrail preamble; command hooks are wrapped in the guardrail launcher.
        """

        def decorate(fn: F) -> F:
            sid = str(id).strip() if id else slugify(fn.__name__)
            wid = slugify(workflow_id or sid)
            text = instructions or _doc(fn)
            self.agent(
                sid,
                task=text or f"Execute subagent {sid}",
                instructions=text,
                handoff_to=handoff_to,
                always_on=always_on,
            )(fn)
            rt = {
                "working_dir": f"subagents/{sid}",
                "timeout_seconds": DEFAULT_SUBAGENT_TIMEOUT_SECONDS,
                "max_retries": DEFAULT_SUBAGENT_MAX_RETRIES,
                "retry_backoff_seconds": DEFAULT_SUBAGENT_RETRY_BACKOFF_SECONDS,
                **strip_private(runtime),
            }
            if adapter:
                rt["adapter"] = dict(adapter)
            box = (
                dict(sandbox)
                if sandbox
                else {"policy": "shared", "max_concurrency": DEFAULT_SUBAGENT_MAX_CONCURRENCY}
            )
            guard: dict[str, Any] = dict(
                app_slug=self.slug,
                subagent_id=sid,
                workflow_id=wid,
                working_dir=rt["working_dir"],
                timeout_seconds=rt["timeout_seconds"],
                max_retries=rt["max_retries"],
                retry_backoff_seconds=rt["retry_backoff_seconds"],
            )
            body = task or _doc(fn) or f"Execute subagent {sid}"
            self.workflow(
                mode="task",
                id=wid,
                agent=sid,
                task=task_guardrail_prefix(**guard) + body,
                trigger=trigger,
                schedule=schedule,
            )(fn)
            hook_rows = []
            for n, hook in enumerate(hooks or [], 1):
                spec = dict(hook)
                hid = str(spec.get("id") or f"{wid}-hook-{n}")
                event = str(spec.get("event") or "hook.tick")
                hook_trigger = {"type": "api", **dict(spec.get("trigger") or {})}
                hook_trigger.setdefault("event", event)
                if spec.get("command"):
                    cmd = guardrail_command(str(spec["command"]), **{**guard, "workflow_id": slugify(hid)})
                    self.workflow(
                        mode="run",
                        id=hid,
                        command=cmd,
                        trigger=hook_trigger,
                        schedule=spec.get("schedule") if isinstance(spec.get("schedule"), str) else None,
                    )(fn)
                else:
                    self.workflow(
                        mode="task",
                        id=hid,
                        agent=sid,
                        task=task_guardrail_prefix(**guard)
                        + str(spec.get("task") or f"Handle hook '{event}' for subagent {sid}"),
                        trigger=hook_trigger,
                        schedule=spec.get("schedule"),
                    )(fn)
                hook_rows.append({**spec, "id": hid, "event": event})
            row = {
                "id": sid,
                "workflow_id": wid,
                "channels": sorted({str(c).strip().lower() for c in channels or [] if str(c).strip()}),
                "runtime": rt,
                "sandbox": box,
                "hooks": hook_rows,
            }
            self._subagents[sid] = freeze(row)
            return fn

        return decorate

    def handler(self, *, id: str | None = None, description: str = "") -> Callable[[F], F]:
        """A 0.1.5-style handler (`agent.handlers[]`)."""

        def decorate(fn: F) -> F:
            hid = str(id).strip() if id else slugify(fn.__name__)
            row = {
                "id": hid,
                "function_name": fn.__name__,
                "description": description or _doc(fn),
                "parameters": parameters_schema(fn, "@app.handler"),
                "source": function_source(fn, decorator="@app.handler"),
            }
            merge(fn, "@app.handler", handler=hid)
            self._handlers[hid] = row
            return fn

        return decorate

    # ------------------------------------------------------------------------- local entrypoint
    def local_entrypoint(self) -> Callable[[F], F]:
        """Register the function `ara local` calls on this machine."""

        def decorate(fn: F) -> F:
            self._local_entrypoint = fn
            return fn

        return decorate

    def call_local_entrypoint(self, input: Mapping[str, Any] | None = None) -> Any:
        """Call the local entrypoint: 0 params -> `fn()`, 1 -> `fn(input)`, more -> matching keywords.

        Raises:
            RuntimeError: No `@app.local_entrypoint()` registered.
        """
        fn = self._local_entrypoint
        if fn is None:
            raise RuntimeError("No @app.local_entrypoint() registered")
        data = dict(input or {})
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY, p.POSITIONAL_ONLY)
        ]
        if not params:
            return fn()
        if len(params) == 1:
            return fn(data)
        return fn(**{p.name: data[p.name] for p in params if p.name in data})

    # --------------------------------------------------------------------------------- manifest
    @property
    def manifest(self) -> dict[str, Any]:
        """The app manifest, compiled afresh on every access.

        The value shares nothing with the app: changing it never changes the app or a later
        manifest. Key order is the wire order (`name`, `slug`, `description`, `agent`,
        `workflows`, `interfaces`, `runtime_profile`).

        Returns:
            The manifest dict. `runtime_profile` may hold the private `__secret_definitions` key
            (objects, not JSON), which deploy strips.
        """
        from ._compiler import compile_manifest

        return compile_manifest(self)

    def validate(self) -> ManifestDocument:
        """Compile the manifest and check it against the wire rules; deploy should call this first.

        Private runtime-profile keys (`__secret_definitions`, `__required_env_keys`) are left out,
        as deploy leaves them out of the request.

        Returns:
            `.manifest`: the typed, frozen manifest (`ara_core.Manifest`; `ara_core.encode_manifest`
            gives the wire bytes); `.raw`: the wire document as a dict.

        Raises:
            ManifestError: A rule is broken; `errors` lists `(json_path, message)` pairs such as
                `("$.agent.tools[3].function.name", "...")`.
        """
        from ._compiler import validated_manifest

        return validated_manifest(self)

    @property
    def typed_manifest(self) -> Manifest:
        """The manifest as a typed, frozen value (`ara_core.Manifest`), validated.

        Raises:
            ManifestError: As `validate`.
        """
        return self.validate().manifest

    # -------------------------------------------------------------------------- command line
    def cli(self, argv: list[str] | None = None, *, default_command: str = "deploy") -> int:
        """Run the `ara` command line for this app, as `python app.py <command>` does.

        Args:
            argv: The command and its flags (default `sys.argv[1:]`); empty runs `default_command`.
            default_command: The command when none is given.

        Returns:
            The exit code (0 on success). Requires the `ara-cli` package.

        Raises:
            ModuleNotFoundError: `ara-cli` is not installed (the message says how to install it).
        """
        from ._cli_bridge import run_cli

        return run_cli(self, argv, default_command=default_command)


def _at_entry(token: str, timezone: str) -> dict[str, Any]:
    text = str(token or "").strip()
    if not text:
        raise DeclarationError("app.schedule(at=...) tokens must be non-empty")
    if len(text.split()) == 5:
        return {"kind": "cron", "cron": text, "timezone": timezone}
    if ":" in text and len(text) <= 5 and text.replace(":", "").isdigit():
        hour_text, minute_text = text.split(":", 1)
        hour, minute = int(hour_text), int(minute_text)
        if len(minute_text) != 2 or hour > 23 or minute > 59:
            raise DeclarationError(f"app.schedule(at={text!r}): HH:MM needs hour <= 23 and minute <= 59")
        return {"kind": "cron", "cron": f"{minute} {hour} * * *", "timezone": timezone}
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DeclarationError(
            f"app.schedule(at={text!r}) must be HH:MM, a 5-field cron expression, or an ISO8601 date-time"
        ) from None
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    return {
        "kind": "cron",
        "cron": f"{moment.minute} {moment.hour} {moment.day} {moment.month} *",
        "timezone": "UTC",
        "one_shot_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _normalize_trigger(trigger: Mapping[str, Any] | None, schedule: Any) -> tuple[dict[str, Any], str]:
    """Trigger normalisation as the original does it; returns `(trigger, cron expression or "")`."""
    from ara_core import validate_cron

    out = dict(trigger or {})
    expr = ""
    if isinstance(schedule, Mapping):
        expr = str(schedule.get("cron") or schedule.get("schedule") or "").strip()
        out.setdefault("type", str(schedule.get("type") or "cron"))
        if expr:
            out.setdefault("cron", expr)
            out.setdefault("schedule", expr)
        if schedule.get("timezone"):
            out.setdefault("timezone", schedule["timezone"])
    elif isinstance(schedule, str) and schedule.strip():
        expr = schedule.strip()
        out.setdefault("type", "cron")
        out.setdefault("cron", expr)
        out.setdefault("schedule", expr)
    else:
        expr = str(out.get("cron") or out.get("schedule") or "").strip()
    if not out:
        out = {"type": "api"}
    out.setdefault("type", "api")
    if out["type"] == "cron" and not expr:
        out = {k: v for k, v in out.items() if k not in ("cron", "schedule")} | {"type": "api"}
    if expr:
        validate_cron(expr, where="workflow schedule")
        out.setdefault("timezone", "UTC")
    return out, expr


def _pipeline(steps: list[Mapping[str, Any]], wid: str) -> list[dict[str, Any]]:
    out = []
    for n, step in enumerate(steps, 1):
        if not isinstance(step, Mapping):
            raise DeclarationError("@app.pipeline(steps=...) items must be dicts")
        kind = str(step.get("kind") or ("tool" if step.get("tool_name") else "agent"))
        if kind == "tool" and not step.get("tool_name"):
            raise DeclarationError(f"pipeline step {n} of {wid!r} needs tool_name")
        if kind == "agent" and not step.get("agent_id"):
            raise DeclarationError(f"pipeline step {n} of {wid!r} needs agent_id")
        row: dict[str, Any] = {"id": str(step.get("id") or f"{wid}--step-{n}"), "kind": kind}
        if kind == "tool":
            row.update(tool_name=str(step["tool_name"]), args=dict(step.get("args") or {}))
        else:
            row.update(agent_id=str(step["agent_id"]), input=dict(step.get("input") or {}))
        out.append(row)
    return out


def define_app(spec: App | Mapping[str, Any]) -> dict[str, Any]:
    """A manifest from an `App` or a manifest dict.

    A dict gets `name` stripped (required), `slug = slugify(slug or project_name or project or name)`
    (fallback `workflow`) and the empty defaults of the other top-level keys; other keys are kept.

    Raises:
        DeclarationError: Not an App or dict, or an empty name.
    """
    if isinstance(spec, App):
        return spec.manifest
    if not isinstance(spec, Mapping):
        raise DeclarationError("define_app(...) expects an App or a manifest dict")
    name = str(spec.get("name") or "").strip()
    if not name:
        raise DeclarationError("define_app(...) requires a non-empty name")
    out = dict(spec)
    out["name"] = name
    out["slug"] = (
        slugify(spec.get("slug") or spec.get("project_name") or spec.get("project") or name) or "workflow"
    )
    for key, default in (
        ("description", ""),
        ("agent", {}),
        ("workflows", []),
        ("interfaces", {}),
        ("runtime_profile", {}),
    ):
        out.setdefault(key, default)
    return out
