"""What a decorator records: one frozen definition per function.

Every Ara decorator returns the function it was given, unchanged and still callable, with one
attribute, `__ara_definition__`, holding a frozen `FunctionDefinition`. Stacking decorators
replaces that value with a merged copy (`msgspec.structs.replace`); nothing is mutated after the fact.
A stack that cannot mean anything (the same role set twice, an endpoint on a tool, a decorator
placed above a foreign wrapper) raises `DecoratorStackError` at declaration, saying how to fix it.

JSON-like values held here (schemas, runtime dicts) are private copies: the compiler copies them
again into each manifest it builds, so no manifest shares state with a definition.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from ara_core import DeclarationError, signature_schema

__all__ = [
    "AgentDefinition",
    "DecoratorStackError",
    "EndpointDefinition",
    "FunctionDefinition",
    "PromptFactory",
    "ScheduleEntry",
    "StringAnnotationWarning",
    "ToolDefinition",
    "check_target",
    "definition_of",
    "freeze",
    "merge",
    "parameters_schema",
]

ATTRIBUTE = "__ara_definition__"


class DecoratorStackError(DeclarationError):
    """Decorators stacked on one function contradict each other; the message says how to fix it."""


class StringAnnotationWarning(UserWarning):
    """Annotations are strings (`from __future__ import annotations`), so the parameter schema says
    `string` where the annotation means another type, as the original SDK reads them."""


def parameters_schema(fn: Callable[..., Any], decorator: str, *, warn: bool = True) -> dict[str, Any]:
    """The JSON schema of `fn`'s parameters, read as the original SDK reads them.

    Under `from __future__ import annotations` every annotation is a string, which the original
    (and therefore the manifest) types as `string`. When that hides another type (`a: int`), a
    `StringAnnotationWarning` names the parameters and the fix (tools and handlers, whose arguments
    come from the schema; not prompt functions); the schema stays byte-compatible.
    """
    schema = signature_schema(fn, resolve_string_annotations=False)
    props: dict[str, Any] = schema.get("properties", {})
    if (
        warn
        and any(isinstance(p.get("type"), str) for p in props.values())
        and any(isinstance(a, str) for a in getattr(fn, "__annotations__", {}).values())
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            resolved = signature_schema(fn)
        changed = [
            f"{name} ({resolved['properties'][name]['type']})"
            for name, prop in props.items()
            if resolved["properties"].get(name, {}).get("type") != prop.get("type")
        ]
        if changed:
            warnings.warn(
                f"{decorator} on {getattr(fn, '__name__', fn)}: the annotations are strings (from __future__ "
                "import annotations), so these parameters reach the function as strings: "
                f"{', '.join(changed)}; "
                "remove that import from the app file, or pass parameters= with the JSON schema",
                StringAnnotationWarning,
                stacklevel=4,
            )
    return schema


def freeze(value: Any) -> Any:
    """A private deep copy of a JSON-like value (dicts and lists copied, other objects kept)."""
    if isinstance(value, Mapping):
        return {k: freeze(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list | tuple):
        return [freeze(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return copy.copy(value)


class PromptFactory(msgspec.Struct, frozen=True, kw_only=True):
    """The agent function that builds the instructions at run time.

    Attributes:
        function_name: The function's `__name__`.
        source: Its source (see `function_source`).
        parameters: JSON schema of its parameters.
    """

    function_name: str
    source: str
    parameters: dict[str, Any]


class AgentDefinition(msgspec.Struct, frozen=True, kw_only=True):
    """An agent row as declared (`agent.agents[]`), before schedules from other decorators bind.

    Attributes:
        id: Agent id.
        task: Task text.
        instructions: Instructions (also the persona).
        schedules: Normalised schedule dicts from `schedules=` (already bound to a run).
        handoff_to: Agent ids, de-duplicated.
        always_on: Keep the agent warm.
        entrypoint: Whether it is the app's default agent.
        prompt_factory: The prompt function, or None for a fixed text.
        skills: Skill names, or None when not given (then the key is absent).
        runtime: Runtime overrides, or None.
        sandbox: Sandbox policy, or None.
    """

    id: str
    task: str
    instructions: str
    schedules: tuple[dict[str, Any], ...] = ()
    handoff_to: tuple[str, ...] = ()
    always_on: bool = True
    entrypoint: bool = False
    prompt_factory: PromptFactory | None = None
    skills: tuple[str, ...] | None = None
    runtime: dict[str, Any] | None = None
    sandbox: dict[str, Any] | None = None


class ToolDefinition(msgspec.Struct, frozen=True, kw_only=True):
    """A tool row (`agent.tools[]`).

    Attributes:
        name: Tool name the model calls.
        description: Description.
        parameters: JSON schema of the arguments.
        function_name: The function's `__name__`.
        source: Its source.
        handler: The handler id of the handler-style tool, or None.
        required_env: Environment keys the tool needs (newest surface), or None.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    function_name: str
    source: str
    handler: str | None = None
    required_env: tuple[str, ...] | None = None


class ScheduleEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One `@app.schedule` entry parked on a function until it binds to the agent or tool.

    Attributes:
        id: Schedule id.
        spec: The normalised schedule; its `run` is None when the decorator named no target
            (the agent or tool of the function is the target).
    """

    id: str
    spec: dict[str, Any]


class EndpointDefinition(msgspec.Struct, frozen=True, kw_only=True):
    """A `fastapi_endpoint` spec (`interfaces.fastapi_endpoints[]` and the agent row).

    Attributes:
        spec: `{"type", "method", "path", "label", "docs", "auth": {...}}`.
    """

    spec: dict[str, Any]


class FunctionDefinition(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the Ara decorators declared on one function.

    Attributes:
        function_name: The function's `__name__`.
        agent: The agent it defines, if any.
        tool: The tool it defines, if any.
        schedules: `@app.schedule` entries, in declaration order (upsert by id).
        endpoint: Its HTTP endpoint, if any.
        workflows: Ids of the workflows it declares (`@app.task`, `@app.hook`, ...).
        hook: `{"id", "event"}` of the hook it declares, if any.
        handler: Id of the handler it declares, if any.
    """

    function_name: str
    agent: AgentDefinition | None = None
    tool: ToolDefinition | None = None
    schedules: tuple[ScheduleEntry, ...] = ()
    endpoint: EndpointDefinition | None = None
    workflows: tuple[str, ...] = ()
    hook: dict[str, str] | None = None
    handler: str | None = None


def definition_of(fn: Callable[..., Any]) -> FunctionDefinition | None:
    """The definition the Ara decorators attached to `fn`, or None."""
    value = getattr(fn, ATTRIBUTE, None)
    return value if isinstance(value, FunctionDefinition) else None


def check_target(fn: Any, decorator: str) -> None:
    """Raise `DecoratorStackError` unless `fn` is a plain function (not a foreign wrapper)."""
    if not callable(fn) or not hasattr(fn, "__code__"):
        kind = type(fn).__name__
        raise DecoratorStackError(
            f"{decorator} must decorate a plain function, got a {kind}; swap the decorators so that "
            f"{decorator} sits directly above `def` (other decorators go above it)"
        )
    if hasattr(fn, "__wrapped__") and definition_of(fn) is None:
        raise DecoratorStackError(
            f"{decorator} on {fn.__name__}: the function is a wrapper made by another decorator, so its "
            f"source is not {fn.__name__}'s; "
            f"swap the decorators so that {decorator} sits directly above `def`"
        )


def merge(fn: Any, decorator: str, **changes: Any) -> FunctionDefinition:
    """Attach a merged definition to `fn` and return it.

    Args:
        fn: The decorated function.
        decorator: The decorator's name for messages (`@app.agent`).
        **changes: Fields of `FunctionDefinition` this decorator sets: `agent`, `tool`,
            `endpoint`, `hook`, `handler` (each at most once per function), `schedules` (entries
            to upsert by id) and `workflows` (ids to add).

    Returns:
        The new definition (also stored as `fn.__ara_definition__`).

    Raises:
        DecoratorStackError: `fn` is not a plain function or is a foreign wrapper ("swap the
            decorators"), a role is set twice, or the roles conflict (agent and tool, an endpoint
            on a tool).
    """
    check_target(fn, decorator)
    name = fn.__name__
    current = definition_of(fn) or FunctionDefinition(function_name=name)
    updates: dict[str, Any] = {}
    for key in ("agent", "tool", "endpoint", "hook", "handler"):
        if key not in changes:
            continue
        if getattr(current, key) is not None:
            raise DecoratorStackError(
                f"{decorator} on {name}: {'an' if key[0] in 'aeh' else 'a'} {key} is set twice on this "
                f"function; remove one decorator, or declare the second {key} on its own function"
            )
        updates[key] = changes[key]
    merged = msgspec.structs.replace(current, **updates)
    if merged.agent is not None and merged.tool is not None:
        raise DecoratorStackError(
            f"{decorator} on {name}: a function is either an agent or a tool, not both; "
            "move one of the two decorators to a separate function"
        )
    if merged.endpoint is not None and merged.tool is not None:
        raise DecoratorStackError(
            f"{decorator} on {name}: fastapi_endpoint exposes an agent, not a tool; "
            "put fastapi_endpoint on an @app.agent function"
        )
    if "schedules" in changes:
        entries = list(merged.schedules)
        position = {e.id: i for i, e in enumerate(entries)}
        for entry in changes["schedules"]:
            if entry.id in position:
                raise DecoratorStackError(
                    f"{decorator} on {name}: schedule id {entry.id!r} is set twice on this function; "
                    "give each @app.schedule a distinct id="
                )
            position[entry.id] = len(entries)
            entries.append(entry)
        merged = msgspec.structs.replace(merged, schedules=tuple(entries))
    if "workflows" in changes:
        merged = msgspec.structs.replace(merged, workflows=merged.workflows + tuple(changes["workflows"]))
    setattr(fn, ATTRIBUTE, merged)
    return merged
