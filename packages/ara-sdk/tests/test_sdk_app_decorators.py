"""One test per G1/G2 decorator asserting the exact rows (spec §1.2-§1.10, §2.7, C1-C6)."""

import logging
from typing import Any

import pytest
from ara_core import DeclarationError
from ara_sdk import App, fastapi_endpoint, invoke, runtime
from inline_snapshot import snapshot


def definition_of(fn: object) -> Any:
    """The frozen definition the Ara decorators attached to `fn`."""
    value = getattr(fn, "__ara_definition__", None)
    assert value is not None
    return value


FACTORY_PARAMS = {"type": "object", "properties": {"input": {"type": "object"}}, "required": ["input"]}
DEFAULT_SUBAGENT = {
    "channels": [],
    "runtime": {},
    "sandbox": {"policy": "shared", "max_concurrency": 8},
    "hooks": [],
}


def test_app_modes():
    strict = App("my-app")
    assert (strict.legacy, strict.name, strict.slug, strict.project_name) == (
        False,
        "my-app",
        "my-app",
        "my-app",
    )
    assert App(project_name=" my-app-1 ").slug == "my-app-1"
    legacy = App("Get Started", project_name="get-started", description=" Hi. ")
    assert (legacy.legacy, legacy.name, legacy.slug, legacy.description) == (
        True,
        "Get Started",
        "get-started",
        "Hi.",
    )
    assert App(name="Test App").slug == "test-app"
    assert App(name="!!!").slug == "workflow"  # C2: legacy empty slug falls back
    assert App(name="X", slug="Custom Slug").slug == "custom-slug"
    empty = App("empty-app").manifest
    assert empty == {
        "name": "empty-app",
        "slug": "empty-app",
        "description": "",
        "agent": {},
        "workflows": [],
        "interfaces": {},
        "runtime_profile": {},
    }
    for bad in ("", "a" * 64, "UPPER", "under_score", "-lead", "trail-", "dot.name"):
        with pytest.raises(ValueError, match=r"^project_name must match \^\[a-z0-9\]"):
            App(bad)


def test_prompt_factory_agent_exact_row():
    app = App("pf-app")

    @app.agent()
    def planner(input: dict) -> str:
        return f"Plan {input}"

    assert planner({"a": 1}) == "Plan {'a': 1}"
    text = "Generate instructions at runtime via agent function 'planner'."
    row = {
        "id": "planner",
        "task": text,
        "instructions": text,
        "persona": text,
        "schedules": [],
        "handoff_to": [],
        "always_on": True,
        "entrypoint": False,
        "prompt_factory": {
            "function_name": "planner",
            "source": 'def planner(input: dict) -> str:\n    return f"Plan {input}"',
            "parameters": FACTORY_PARAMS,
        },
    }
    assert app.manifest["agent"]["agents"] == [row]
    definition = definition_of(planner)
    assert definition.agent is not None and definition.agent.id == "planner" and definition.tool is None
    m = app.manifest
    assert m["agent"] == {
        "agents": [row],
        "default_agent_id": "planner",
        "profiles": [
            {"id": "planner", "instructions": text, "persona": text, "handoff_to": [], "always_on": True}
        ],
        "default_profile_id": "planner",
        "subagents": [{"id": "planner", "workflow_id": "planner", **DEFAULT_SUBAGENT}],
    }
    assert m["workflows"] == [
        {
            "id": "planner",
            "mode": "task",
            "agent_id": "planner",
            "task": text,
            "run": {},
            "pipeline": [],
            "schedule": "",
            "trigger": {"type": "api"},
        }
    ]


def test_task_agent_any_signature_and_legacy_prompt_factory_text():
    app = App("Legacy", project_name="legacy-app")

    @app.agent(task="Greet.", handoff_to=["b"], always_on=False)
    def greet_user(a, b, c=1):
        pass

    @app.agent(prompt_factory=True)
    def make_prompt(input: dict) -> "str":
        """Ignored docstring."""
        return "x"

    @app.agent(instructions="Only instructions.")
    def other():
        pass

    rows = app.manifest["agent"]["agents"]
    assert rows[0] == {
        "id": "greet-user",
        "task": "Greet.",
        "instructions": "Greet.",
        "persona": "Greet.",
        "schedules": [],
        "handoff_to": ["b"],
        "always_on": False,
        "entrypoint": False,
    }
    g1 = "Generate instructions at runtime via prompt factory 'make_prompt'."
    assert rows[1]["id"] == "make-prompt" and rows[1]["task"] == rows[1]["persona"] == g1
    assert rows[1]["prompt_factory"]["function_name"] == "make_prompt"
    assert (
        rows[2]["task"] == rows[2]["instructions"] == "Only instructions." and "prompt_factory" not in rows[2]
    )
    with pytest.raises(DeclarationError, match="^@app.agent requires a non-empty id$"):
        app.agent(id="  ", task="x")(greet_user)


def test_default_agent_is_last_entrypoint_and_generated_profile_id_overwrites_the_users():
    # As the published originals (0.1.30 and 0.1.45) do: generated keys keep the user's key position.
    app = App("defaults-app", agent={"default_profile_id": "custom", "extra": 1, "agents": "overwritten"})
    for name, entry in (("a", False), ("b", True), ("c", True), ("d", False)):
        app.agent(id=name, task=name, entrypoint=entry)(lambda: None)
    agent = app.manifest["agent"]
    assert list(agent) == [
        "default_profile_id",
        "extra",
        "agents",
        "default_agent_id",
        "profiles",
        "subagents",
    ]
    assert agent["default_agent_id"] == "c" and agent["default_profile_id"] == "c" and agent["extra"] == 1


def test_tool_exact_row_explicit_parameters_and_handler_style():
    app = App("tool-app")

    @app.tool()
    def send_email(to: str, n: int = 3) -> dict:
        """Send an email."""
        import json

        return json.loads("{}")

    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}

    @app.tool(id=" search ", parameters=schema)
    def lookup(**kwargs):
        return kwargs

    @app.tool(handler="h1", description="Legacy.")
    def legacy(x: int):
        return x

    tools = app.manifest["agent"]["tools"]
    assert tools[0] == snapshot(
        {
            "type": "function",
            "function": {
                "name": "send_email",
                "description": "Send an email.",
                "parameters": {
                    "type": "object",
                    "properties": {"to": {"type": "string"}, "n": {"type": "integer", "default": 3}},
                    "required": ["to"],
                },
            },
            "function_name": "send_email",
            "source": "def send_email(to: str, n: int = 3) -> dict:\n"
            '    """Send an email."""\n    import json\n\n'
            '    return json.loads("{}")',
        }
    )
    assert tools[1]["function"] == {"name": "search", "description": "", "parameters": schema}
    assert (
        tools[2]["id"] == "legacy" and tools[2]["handler_id"] == "h1" and tools[2]["description"] == "Legacy."
    )
    assert tools[2]["parameters"] == {
        "type": "object",
        "properties": {"x": {"type": "integer"}},
        "required": ["x"],
    }
    assert send_email("x") == {} and definition_of(send_email).tool.name == "send_email"
    assert "agents" not in app.manifest["agent"]  # tools alone add no agent
    with pytest.raises(DeclarationError, match="^@app.tool requires source-visible functions"):
        app.tool()(lambda: 1)
    with pytest.raises(DeclarationError, match="^@app.tool only supports standard def functions$"):

        @app.tool()
        async def coro():
            return 1


@pytest.mark.parametrize("schedule_first", [True, False])
def test_schedule_on_tool_either_order_anchors_on_default_agent(schedule_first):
    app = App("anchor-app")

    @app.agent(entrypoint=True)
    def boss(input: dict) -> str:
        return ""

    def send(to: str = "x") -> dict:
        return {}

    if schedule_first:
        send = app.tool()(app.schedule(cron="0 * * * *", at="09:30")(send))
    else:
        send = app.schedule(cron="0 * * * *", at="09:30")(app.tool()(send))
    entries = [
        {
            "id": "send--cron",
            "kind": "cron",
            "cron": "0 * * * *",
            "timezone": "UTC",
            "run": {"type": "tool", "tool_name": "send", "args": {}},
        },
        {
            "id": "send--09-30",
            "kind": "cron",
            "cron": "30 9 * * *",
            "timezone": "UTC",
            "run": {"type": "tool", "tool_name": "send", "args": {}},
        },
    ]
    m = app.manifest
    assert m["agent"]["tools"][0]["schedules"] == entries
    assert m["agent"]["agents"][0]["schedules"] == entries
    assert definition_of(boss).agent.schedules == ()  # anchoring lives in the manifest only
    assert [w["id"] for w in m["workflows"]] == ["boss", "boss--send--cron", "boss--send--09-30"]
    assert m["workflows"][2]["task"] == "Run scheduled tool send"


def test_schedule_on_agent_with_explicit_run_and_error_messages(caplog):
    app = App("sched-errors")

    @app.schedule(at="2030-01-02T04:04:05+01:00", run=invoke.agent("other", input={"x": 1}))
    @app.agent()
    def owner(input: dict) -> str:
        return ""

    row = app.manifest["agent"]["agents"][0]
    assert row["schedules"] == [
        {
            "id": "owner",
            "kind": "cron",
            "cron": "4 3 2 1 *",
            "timezone": "UTC",
            "one_shot_at": "2030-01-02T03:04:05Z",
            "run": {"type": "agent", "agent_id": "other", "input": {"x": 1}},
        }
    ]
    assert app.manifest["workflows"][1]["agent_id"] == "other"
    with pytest.raises(
        DeclarationError, match=r"^app\.schedule\(\.\.\.\) requires a non-empty id or function name$"
    ):
        app.schedule(id="!!", cron="0 * * * *")(owner)
    with pytest.raises(DeclarationError, match="HH:MM.*5-field cron.*ISO8601"):
        app.schedule(at="tomorrow")(owner)
    with pytest.raises(DeclarationError, match="non-empty"):
        app.schedule(at=" ")(owner)
    with caplog.at_level(logging.WARNING, logger="ara_sdk"):

        def loose():
            pass

        app.schedule(cron="0 1 * * *")(loose)
    assert "loose" in caplog.text and definition_of(loose).schedules[0].id == "loose"


@pytest.mark.parametrize("endpoint_first", [True, False])
def test_fastapi_endpoint_either_order(endpoint_first):
    app = App("ep-order")
    deco = fastapi_endpoint(auth="bearer", label="In Bound", docs=True)

    def inbound(input: dict) -> str:
        return ""

    if endpoint_first:
        app.agent()(deco(inbound))
    else:
        deco(app.agent()(inbound))
    spec = {
        "type": "fastapi_endpoint",
        "method": "POST",
        "path": "/in-bound",
        "label": "in-bound",
        "docs": True,
        "auth": {"mode": "bearer", "header_name": "", "secret_env": "ARA_ENDPOINT_IN_BOUND_SECRET"},
    }
    m = app.manifest
    assert m["agent"]["agents"][0]["fastapi_endpoint"] == spec
    assert m["interfaces"] == {
        "fastapi_endpoints": [spec | {"agent_id": "inbound", "workflow_id": "inbound"}]
    }
    with pytest.raises(DeclarationError, match="non-empty label"):
        fastapi_endpoint(label="!!")(inbound)


def test_user_interfaces_and_runtime_profile_are_copied():
    listed = {"type": "fastapi_endpoint", "label": "mine", "agent_id": "x", "workflow_id": "x"}
    app = App(
        "copy-app",
        interfaces={"inherit_owner_tools": False, "fastapi_endpoints": [listed]},
        runtime_profile=runtime(memory_mb=256),
    )

    @app.agent()
    @fastapi_endpoint()
    def hook(input: dict) -> str:
        return ""

    m = app.manifest
    assert m["interfaces"]["fastapi_endpoints"][0] == listed
    assert m["interfaces"]["fastapi_endpoints"][1]["label"] == "hook"
    assert app.interfaces["fastapi_endpoints"] == [listed]  # the App's own dict is untouched
    assert m["runtime_profile"] == runtime(memory_mb=256)
    assert m is not app.manifest  # recomputed on every access


def test_worked_example_1_9b_full_snapshot_in_key_order():
    """The whole §1.9b manifest, compared as JSON text so key order counts too."""
    import json
    from pathlib import Path

    from ara_sdk import load_app

    apps = Path(__file__).parent / "apps"
    manifest = load_app(apps / "support_ops.py").manifest
    expected = (apps / "support_ops.manifest.json").read_text()
    assert json.dumps(manifest, indent=2) + "\n" == expected
