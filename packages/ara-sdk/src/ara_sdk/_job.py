"""The job-first authoring surface: `ara.Job(...)`, `@ara.tool`, `ara.secret`, `ara.env`, `ara.connectors`.

A file written this way declares no `App`: each `Job(...)` and module-level `@ara.tool` registers
into one app per calling module (named after the first job), which the loader finds. The manifest
is the one the newest original SDK emits for the same file:

* the app's name and slug are the first job's id slugified (at most 63 characters; default
  `automation-app`);
* each job is an entrypoint agent whose id is the job id and whose instructions are
  `system_instructions` (stripped; default `Run job '<id>'.`), shipped as a one-line prompt
  function `_automation_entry`, with subagent channel `linq`;
* `skills` keeps plain skill names; connector references (`ara.connectors.gmail.send_email` or
  the string `connector:gmail:send_email`) become `interfaces.tool_privileges` entries
  `{"toolkit", "allowed_actions", "scopes"}`, sorted; `interfaces.inherit_owner_tools` is
  `allow_connector_tools`, forced on when a job names connectors;
* `runtime_profile` carries the private `__required_env_keys` (deploy syncs them as a secret and
  strips the key), `startup.entrypoint` and `execution` when given;
* a tool row gains `required_env`: its explicit list, then every `secret("NAME")` literal in its
  source.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, overload

from ara_core import DeclarationError, check_json, slugify, validate_env_key

from ._app import App
from ._compiler import agent_row, assemble, tool_row
from ._definitions import (
    AgentDefinition,
    PromptFactory,
    ToolDefinition,
    check_target,
    definition_of,
    freeze,
    merge,
    parameters_schema,
)
from ._source import function_source

__all__ = [
    "Automation",
    "ConnectorRef",
    "Job",
    "JobApp",
    "connectors",
    "env",
    "forget_module_app",
    "module_app",
    "secret",
    "tool",
]

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_PROJECT_NAME = "automation-app"
_PREFIX = "connector:"
_ENTRY = "_automation_entry"
_ENTRY_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"input": {"type": "string"}},
    "required": ["input"],
}
_REQUIRED_ENV_KEY = "__required_env_keys"


class MissingSecretError(RuntimeError):
    """`secret(name)` found no value in the environment and no default was given."""


def secret(name: str, default: str | None = None) -> str:
    """Read a secret the app needs from the environment (deploy syncs it as an app secret).

    Args:
        name: The environment variable, e.g. `"CRM_TOKEN"`. A literal name in a tool's source is
            added to that tool's `required_env`.
        default: Returned when the variable is unset; None makes it required.

    Returns:
        The value.

    Raises:
        MissingSecretError: Unset and no default (`Missing required secret: NAME`).
    """
    value = os.environ.get(name)
    if value is not None:
        return value
    if default is None:
        raise MissingSecretError(f"Missing required secret: {name}")
    return default


def env(name: str, default: str | None = None) -> str:
    """Read a plain environment setting.

    Args:
        name: The environment variable.
        default: Returned when unset (default: the empty string).

    Returns:
        The value, the default, or `""`.
    """
    return os.environ.get(name, "" if default is None else default)


# ------------------------------------------------------------------------------------ connectors
def _toolkit_slug(raw: str) -> str:
    slug = re.sub(r"[^a-z0-9]", "", raw.strip().lower())
    if not slug:
        raise DeclarationError("Connector toolkit must contain letters or digits")
    return slug


def _action_name(raw: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", raw.strip().lower()).strip("_")


class ConnectorRef:
    """A connector toolkit or one of its actions: `ara.connectors.gmail` or `ara.connectors.gmail.send_email`.

    `str()` gives the skill token `connector:<toolkit>[:<action>]`. Attribute access on a toolkit
    gives an action.
    """

    __slots__ = ("action", "toolkit")

    def __init__(self, toolkit: str, action: str = "") -> None:
        self.toolkit = _toolkit_slug(toolkit)
        self.action = _action_name(action) if action else ""

    def __getattr__(self, name: str) -> ConnectorRef:
        if name.startswith("__") or self.action:
            raise AttributeError(name)
        return ConnectorRef(self.toolkit, name)

    def __str__(self) -> str:
        return f"{_PREFIX}{self.toolkit}" + (f":{self.action}" if self.action else "")

    def __repr__(self) -> str:
        return f"<ara.connectors.{self.toolkit}" + (f".{self.action}>" if self.action else ">")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConnectorRef) and (self.toolkit, self.action) == (
            other.toolkit,
            other.action,
        )

    def __hash__(self) -> int:
        return hash((self.toolkit, self.action))


class _Connectors:
    """`ara.connectors.<toolkit>[.<action>]`: references to connector toolkits for `Job(skills=[...])`."""

    def __getattr__(self, name: str) -> ConnectorRef:
        if name.startswith("__"):
            raise AttributeError(name)
        return ConnectorRef(name)

    def __repr__(self) -> str:
        return "<ara.connectors>"


connectors = _Connectors()


def _items(value: Any, where: str) -> list[Any]:
    """A list argument as a list; a lone string or a non-iterable is a declaration error."""
    if value is None:
        return []
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise DeclarationError(f"{where} must be a list, got {type(value).__name__} {value!r}")
    return list(value)  # pyright: ignore[reportUnknownArgumentType]


def _env_keys(value: Any, where: str) -> tuple[str, ...]:
    keys: list[str] = []
    for item in _items(value, where):
        try:
            key = validate_env_key(item)
        except DeclarationError as exc:
            raise DeclarationError(f"{where}: {exc}") from None
        if key not in keys:
            keys.append(key)
    return tuple(keys)


def _parse_connector(token: str) -> ConnectorRef:
    body = token[len(_PREFIX) :]
    toolkit, _, action = body.partition(":")
    return ConnectorRef(toolkit, action)


# ------------------------------------------------------------------------------------- the app
class JobApp(App):
    """The app that `Job(...)` and module-level `@ara.tool` calls of one module register into."""

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        self.jobs: list[Job] = []
        self.job_tools: dict[str, Callable[..., Any]] = {}

    def __repr__(self) -> str:
        return f"JobApp({self.slug!r})"

    @property
    def manifest(self) -> dict[str, Any]:
        """The manifest of the module's jobs and tools, compiled afresh (see the module docstring)."""
        agents: list[dict[str, Any]] = []
        privileges: dict[str, set[str]] = {}
        required: list[str] = []
        profile: dict[str, Any] = {}
        inherit = False
        for job in self.jobs:
            definition = definition_of(job.entry)
            if definition is None or definition.agent is None:  # pragma: no cover - set in Job()
                continue
            agents.append(agent_row(definition.agent, definition))
            for ref in job.connectors:
                actions = privileges.setdefault(ref.toolkit, set())
                if ref.action:
                    actions.add(ref.action)
            inherit = inherit or job.allow_connector_tools
            for key in job.required_env:
                if key not in required:
                    required.append(key)
            if job.entrypoint:
                profile["startup"] = {"entrypoint": job.entrypoint}
            if job.execution is not None:
                profile["execution"] = freeze(job.execution)
        tools: list[dict[str, Any]] = []
        for fn in self.job_tools.values():
            definition = definition_of(fn)
            if definition is not None and definition.tool is not None:
                tools.append(tool_row(definition.tool, definition))
        interfaces: dict[str, Any] = {"inherit_owner_tools": inherit or bool(privileges)}
        if privileges:
            interfaces["tool_privileges"] = [
                {"toolkit": toolkit, "allowed_actions": sorted(actions), "scopes": []}
                for toolkit, actions in sorted(privileges.items())
            ]
        runtime_profile = ({_REQUIRED_ENV_KEY: required} if required else {}) | profile
        return assemble(
            self, agents, tools, channels=["linq"], interfaces=interfaces, runtime_profile=runtime_profile
        )


_APPS: dict[str, JobApp] = {}


def _calling_module(depth: int) -> str:
    frame = sys._getframe(depth + 1)  # pyright: ignore[reportPrivateUsage]
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith("ara_sdk"):
        frame = frame.f_back
    return str(frame.f_globals.get("__name__", "__main__")) if frame is not None else "__main__"


def _app_for(module: str) -> JobApp:
    app = _APPS.get(module)
    if app is None:
        app = _APPS[module] = JobApp(DEFAULT_PROJECT_NAME)
    return app


def module_app(module: str) -> JobApp | None:
    """The app that `Job(...)`/`@ara.tool` calls in `module` registered into, if any job was declared."""
    app = _APPS.get(module)
    return app if app is not None and app.jobs else None


def forget_module_app(module: str) -> None:
    """Drop the registrations of `module` (the loader calls it before importing a script again)."""
    _APPS.pop(module, None)


def _entry_function(text: str) -> Callable[..., Any]:
    def _automation_entry(input: dict[str, Any]) -> str:
        return text

    return _automation_entry


class Job:
    """A deployable job: an always-on entrypoint agent with its instructions, skills and connectors.

    Args:
        id: Job id (the agent id; slugified, it names the app when this is the module's first job).
        system_instructions: The agent's instructions (stripped; default `Run job '<id>'.`).
        skills: Skill names, tools, and connector references (`ara.connectors.gmail`,
            `ara.connectors.gmail.send_email`, or `"connector:gmail:send_email"`).
        allow_connector_tools: Let the agent use the owner's connector tools (default True).
        required_env: Environment keys deploy must sync as secrets.
        entrypoint: A startup command for the sandbox (`runtime_profile.startup.entrypoint`).
        execution: `runtime_profile.execution` settings.

    Raises:
        DeclarationError: An empty id, a connector reference without letters or digits, or a
            non-JSON `execution`.
    """

    def __init__(
        self,
        id: str,
        *,
        system_instructions: str = "",
        skills: Iterable[Any] | None = None,
        allow_connector_tools: bool = True,
        required_env: Iterable[str] | None = None,
        entrypoint: str = "",
        execution: Mapping[str, Any] | None = None,
    ) -> None:
        job_id = str(id or "").strip()
        if not job_id:
            raise DeclarationError("Job(id) requires a non-empty id")
        module = _calling_module(1)
        names: list[str] = []
        refs: list[ConnectorRef] = []
        for item in _items(skills, "Job(skills=...)"):
            if isinstance(item, ConnectorRef):
                refs.append(item)
                continue
            text = str(getattr(item, "__name__", item) if callable(item) else item).strip()
            if text.startswith(_PREFIX):
                refs.append(_parse_connector(text))
            elif text and text not in names:
                names.append(text)
        if execution is not None:
            if not isinstance(execution, Mapping):
                raise DeclarationError(f"Job(execution=...) must be a dict, got {type(execution).__name__}")
            check_json(dict(execution), "Job(execution=...)")
        required = _env_keys(required_env, "Job(required_env=...)")
        # Everything is checked: only now touch the module's app (no half-registered job on error).
        app = _app_for(module)
        if not app.jobs:
            name = slugify(job_id)[:63].strip("-") or DEFAULT_PROJECT_NAME
            app.name = app.slug = app.project_name = name
        self.id = job_id
        self.app: JobApp = app
        self.system_instructions = str(system_instructions or "").strip() or f"Run job '{job_id}'."
        self.skills = tuple(names)
        self.connectors = tuple(refs)
        self.allow_connector_tools = bool(allow_connector_tools)
        self.required_env = required
        self.entrypoint = str(entrypoint or "").strip()
        self.execution = freeze(execution) if execution is not None else None
        self.entry = _entry_function(self.system_instructions)
        text = self.system_instructions
        merge(
            self.entry,
            "Job",
            agent=AgentDefinition(
                id=job_id,
                task=text,
                instructions=text,
                entrypoint=True,
                prompt_factory=PromptFactory(
                    function_name=_ENTRY,
                    source=f"def {_ENTRY}(input: dict) -> str:\n    return {text!r}",
                    parameters=_ENTRY_PARAMETERS,
                ),
                skills=self.skills or None,
            ),
        )
        app.jobs.append(self)
        app._agents[job_id] = self.entry  # pyright: ignore[reportPrivateUsage]
        app._entrypoint_id = job_id  # pyright: ignore[reportPrivateUsage]

    def __repr__(self) -> str:
        return f"Job({self.id!r})"


Automation = Job
"""The earlier name of `Job`."""


def _secret_literals(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:  # pragma: no cover - the source compiled already
        return []
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        first = node.args[0]
        if name == "secret" and isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.append((node.lineno, node.col_offset, first.value))
    return [value for _, _, value in sorted(found)]


@overload
def tool(fn: F, /) -> F: ...
@overload
def tool(
    fn: None = None,
    /,
    *,
    id: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    required_env: Iterable[str] | None = None,
) -> Callable[[F], F]: ...
def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    id: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    required_env: Iterable[str] | None = None,
) -> Any:
    """Register a tool of this module's job app; usable bare (`@ara.tool`) or with options.

    The source is shipped alone: import what the tool needs inside the function.

    Args:
        fn: The function (bare use).
        id: Tool name (default: the function name).
        parameters: Explicit JSON schema (default: derived from the signature).
        required_env: Environment keys the tool needs; `secret("NAME")` literals in its source
            are added.

    Returns:
        The function unchanged, or a decorator.

    Raises:
        DeclarationError: Not a plain `def` with visible source, or a non-JSON schema.
    """
    module = _calling_module(1)

    def decorate(func: F) -> F:
        check_target(func, "@ara.tool")
        name = str(id).strip() if id else func.__name__
        if not name:
            raise DeclarationError("@ara.tool requires a non-empty id")
        if parameters is not None and not isinstance(parameters, Mapping):
            raise DeclarationError("@ara.tool(parameters=...) must be a JSON schema dict")
        schema = freeze(parameters) if parameters is not None else parameters_schema(func, "@ara.tool")
        check_json(schema, "@ara.tool(parameters=...)")
        source = function_source(func, decorator="@ara.tool")
        keys = list(_env_keys(required_env, "@ara.tool(required_env=...)"))
        keys += _secret_literals(source)
        merge(
            func,
            "@ara.tool",
            tool=ToolDefinition(
                name=name,
                description=func.__doc__.strip() if func.__doc__ else "",
                parameters=schema,
                function_name=func.__name__,
                source=source,
                required_env=tuple(dict.fromkeys(keys)) or None,
            ),
        )
        _app_for(module).job_tools[name] = func
        return func

    if fn is not None:
        return decorate(fn)  # type: ignore[arg-type]
    return decorate
