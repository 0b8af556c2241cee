"""Decorators attach one frozen definition and return the function; the app compiles, never mutates."""

import functools
import json
from typing import Any

import pytest
from ara_sdk import App, DecoratorStackError, fastapi_endpoint, runtime, sandbox
from ara_sdk._definitions import FunctionDefinition


def definition_of(fn: object) -> Any:
    """The frozen definition the Ara decorators attached to `fn`."""
    value = getattr(fn, "__ara_definition__", None)
    assert value is not None
    return value


def _app_with_everything() -> App:
    app = App(
        "mutation-app", interfaces={"inherit_owner_tools": False}, runtime_profile=runtime(memory_mb=256)
    )

    @app.schedule(cron="0 * * * *")
    @app.tool(parameters={"type": "object", "properties": {"to": {"type": "string"}}, "required": ["to"]})
    def send_email(to: str) -> dict:
        return {"to": to}

    @fastapi_endpoint(auth="hmac")
    @app.agent(
        entrypoint=True, skills=["send_email"], sandbox=sandbox(policy="dedicated"), runtime={"m": [1]}
    )
    def coordinator(input: dict) -> str:
        """Coordinate."""
        return "Coordinate."

    return app


def _mutate(value: object) -> None:
    """Change every dict and list inside `value`, in place."""
    if isinstance(value, dict):
        for key in list(value):
            _mutate(value[key])
        value["__mutated__"] = True
    elif isinstance(value, list):
        for item in value:
            _mutate(item)
        value.append("mutated")


def test_mutating_a_manifest_never_changes_the_app() -> None:
    app = _app_with_everything()
    before = json.dumps(app.manifest, sort_keys=True, default=str)
    first = app.manifest
    first["agent"]["tools"][0]["function"]["name"] = "X"
    first["agent"]["agents"][0]["schedules"][0]["run"]["tool_name"] = "X"
    _mutate(first)
    assert json.dumps(app.manifest, sort_keys=True, default=str) == before
    assert app.manifest is not app.manifest


def test_mutating_the_inputs_after_declaring_never_changes_the_app() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    interfaces = {"inherit_owner_tools": False}
    app = App("inputs-app", interfaces=interfaces)

    @app.tool(parameters=schema)
    def search(q: str) -> str:
        return q

    before = json.dumps(app.manifest)
    schema["properties"]["q"]["type"] = "integer"
    interfaces["inherit_owner_tools"] = True
    assert json.dumps(app.manifest) == before


def test_decorators_return_the_function_unchanged_with_one_frozen_definition() -> None:
    app = App("plain-app")

    def add(a: int, b: int) -> int:
        return a + b

    decorated = app.schedule(cron="0 * * * *")(app.tool()(add))
    assert decorated is add and add(1, 2) == 3
    definition = definition_of(add)
    assert isinstance(definition, FunctionDefinition)
    assert definition.tool is not None and [s.id for s in definition.schedules] == ["add"]
    with pytest.raises(AttributeError):  # frozen
        definition.tool = None  # type: ignore[misc]
    assert [k for k in vars(add) if k.startswith("__ara")] == ["__ara_definition__"]


def _foreign(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


def _agent_twice(app: App) -> None:
    @app.agent(id="b")
    @app.agent(id="a")
    def f(input: dict) -> str:
        return ""


def _tool_twice(app: App) -> None:
    @app.tool(id="b")
    @app.tool()
    def f(x: str) -> str:
        return x


def _agent_and_tool(app: App) -> None:
    @app.tool()
    @app.agent()
    def f(input: dict) -> str:
        return ""


def _endpoint_on_tool(app: App) -> None:
    @fastapi_endpoint()
    @app.tool()
    def f(x: str) -> str:
        return x


def _endpoint_twice(app: App) -> None:
    @fastapi_endpoint(label="one")
    @fastapi_endpoint(label="two")
    @app.agent()
    def f(input: dict) -> str:
        return ""


def _schedule_twice(app: App) -> None:
    @app.schedule(cron="0 1 * * *")
    @app.schedule(cron="0 2 * * *")
    @app.tool()
    def f(x: str = "") -> str:
        return x


def _over_staticmethod(app: App) -> None:
    class Holder:
        @app.tool()  # type: ignore[arg-type]
        @staticmethod
        def f(x: str) -> str:
            return x


def _over_foreign_wrapper(app: App) -> None:
    @app.tool()
    @_foreign
    def f(x: str) -> str:
        return x


def _subagent_and_agent(app: App) -> None:
    @app.agent(id="again", task="t")
    @app.subagent(id="helper")
    def f() -> None:
        """Help."""


STACKS = [
    (_agent_twice, "set twice"),
    (_tool_twice, "set twice"),
    (_agent_and_tool, "either an agent or a tool"),
    (_endpoint_on_tool, "put fastapi_endpoint on an @app.agent function"),
    (_endpoint_twice, "set twice"),
    (_schedule_twice, "set twice on this function; give each @app.schedule a distinct id="),
    (_over_staticmethod, "swap the decorators"),
    (_over_foreign_wrapper, "swap the decorators"),
    (_subagent_and_agent, "set twice"),
]


@pytest.mark.parametrize(("declare", "fix"), STACKS, ids=[d.__name__.strip("_") for d, _ in STACKS])
def test_impossible_stacks_fail_at_declaration_and_say_how_to_fix(declare, fix) -> None:
    app = App("stack-app")
    with pytest.raises(DecoratorStackError, match=fix) as caught:
        declare(app)
    assert isinstance(caught.value, ValueError)  # declaration errors stay ValueErrors
    assert "f" in str(caught.value)


def test_possible_stacks_in_either_order_compile_the_same() -> None:
    def build(endpoint_first: bool, schedule_first: bool) -> str:
        app = App("order-app")

        def agent_fn(input: dict) -> str:
            return ""

        steps = [fastapi_endpoint(auth="bearer"), app.agent(entrypoint=True)]
        if not endpoint_first:
            steps.reverse()
        for step in steps:
            step(agent_fn)

        def tool_fn(x: str = "") -> str:
            return x

        tsteps = [app.schedule(cron="0 * * * *"), app.tool()]
        if not schedule_first:
            tsteps.reverse()
        for step in tsteps:
            step(tool_fn)
        return json.dumps(app.manifest)

    outputs = {build(a, b) for a in (True, False) for b in (True, False)}
    assert len(outputs) == 1


FUTURE_APP = """from __future__ import annotations

from ara_sdk import App

app = App("future-app")


@app.tool()
def add(a: int, b: int, note: str = "") -> int:
    return a + b
"""


def test_string_annotations_keep_the_original_schema_and_warn(tmp_path) -> None:
    from ara_sdk import load_app
    from ara_sdk._definitions import StringAnnotationWarning

    script = tmp_path / "app.py"
    script.write_text(FUTURE_APP)
    with pytest.warns(StringAnnotationWarning, match=r"a \(integer\), b \(integer\); remove that import"):
        manifest = load_app(script).manifest
    props = manifest["agent"]["tools"][0]["function"]["parameters"]["properties"]
    assert props == {
        "a": {"type": "string"},
        "b": {"type": "string"},
        "note": {"type": "string", "default": ""},
    }
