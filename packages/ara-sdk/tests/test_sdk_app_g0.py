"""The seed-001 / G0 surface: subagent, hook, task, run, pipeline, workflow, local entrypoint, handler,
define_app (spec §1.13, §1.14, §1.15 PROPOSED assembly)."""

from typing import Any

import pytest
from ara_core import DeclarationError, guardrail_command, task_guardrail_prefix
from ara_sdk import App, cron, define_app, sandbox, subagent_hook


def definition_of(fn: object) -> Any:
    """The frozen definition the Ara decorators attached to `fn`."""
    value = getattr(fn, "__ara_definition__", None)
    assert value is not None
    return value


GUARD: dict[str, Any] = dict(
    app_slug="meeting-booker",
    subagent_id="booking-coordinator",
    workflow_id="booking-coordinator",
    working_dir="subagents/booking-coordinator",
    timeout_seconds=120,
    max_retries=2,
    retry_backoff_seconds=5,
)


def test_task_workflow_exact_rows():
    app = App(name="Meeting Booker")

    @app.task(agent="booker", schedule="0 9 * * *")
    def some_task():
        """Do it."""

    @app.task(id="Plain Task")
    def plain():
        pass

    assert definition_of(some_task).workflows == ("some-task",)
    assert app.manifest["workflows"][0] == {
        "id": "some-task",
        "mode": "task",
        "task": "Do it.",
        "trigger": {"type": "cron", "cron": "0 9 * * *", "schedule": "0 9 * * *", "timezone": "UTC"},
        "run": {},
        "pipeline": [],
        "agent_id": "booker",
        "schedule": "0 9 * * *",
    }
    assert app.manifest["workflows"][1] == {
        "id": "plain-task",
        "mode": "task",
        "task": "Execute workflow plain-task",
        "trigger": {"type": "api"},
        "run": {},
        "pipeline": [],
    }
    assert app.manifest["agent"] == {}  # workflows alone declare no agent


def test_run_pipeline_and_workflow_modes():
    app = App("modes-app")

    @app.run(command="echo run", schedule=cron("0 1 * * *", timezone="Europe/Paris"))
    def runner():
        pass

    @app.pipeline(steps=[{"tool_name": "t"}, {"id": "s2", "agent_id": "a", "input": {"x": 1}}], agent="a")
    def pipe():
        pass

    @app.workflow(mode="task", trigger={"type": "cron", "cron": ""})
    def empty_cron():
        pass

    wfs = app.manifest["workflows"]
    assert wfs[0] == {
        "id": "runner",
        "mode": "run",
        "task": "",
        "run": {"command": "echo run"},
        "pipeline": [],
        "trigger": {"type": "cron", "cron": "0 1 * * *", "schedule": "0 1 * * *", "timezone": "Europe/Paris"},
        "schedule": "0 1 * * *",
    }
    assert wfs[1] == {
        "id": "pipe",
        "mode": "pipeline",
        "task": "Execute workflow pipe",
        "trigger": {"type": "api"},
        "run": {},
        "pipeline": [
            {"id": "pipe--step-1", "kind": "tool", "tool_name": "t", "args": {}},
            {"id": "s2", "kind": "agent", "agent_id": "a", "input": {"x": 1}},
        ],
        "agent_id": "a",
    }
    assert wfs[2]["trigger"] == {"type": "api"}  # empty cron expression -> API trigger
    with pytest.raises(DeclarationError, match=r"^@app\.run\(\.\.\.\) requires a non-empty command$"):
        app.run()
    with pytest.raises(DeclarationError, match="does not accept agent="):
        app.run(command="ls", agent="a")
    with pytest.raises(DeclarationError, match="must be one of: task, run, pipeline"):
        app.workflow(mode="loop")
    with pytest.raises(DeclarationError, match="needs tool_name"):
        app.pipeline(steps=[{"kind": "tool"}])(pipe)
    with pytest.raises(DeclarationError, match="invalid cron expression"):
        app.task(schedule="61 * * * *")(pipe)


def test_hooks():
    app = App("hook-app")

    @app.hook(event="scheduler.followups", schedule=cron("0 13 * * 1-5"), agent="a")
    def follow():
        pass

    @app.hook(id="on-mail", event="mail.received", command="./handle.sh", schedule="0 2 * * *")
    def mail():
        pass

    wfs = app.manifest["workflows"]
    assert wfs[0] == {
        "id": "follow",
        "mode": "task",
        "task": "Handle hook 'scheduler.followups'",
        "trigger": {
            "type": "api",
            "event": "scheduler.followups",
            "cron": "0 13 * * 1-5",
            "schedule": "0 13 * * 1-5",
            "timezone": "UTC",
        },
        "run": {},
        "pipeline": [],
        "agent_id": "a",
        "schedule": "0 13 * * 1-5",
    }
    assert wfs[1] == {
        "id": "on-mail",
        "mode": "run",
        "task": "",
        "run": {"command": "./handle.sh"},
        "pipeline": [],
        "trigger": {
            "type": "api",
            "event": "mail.received",
            "cron": "0 2 * * *",
            "schedule": "0 2 * * *",
            "timezone": "UTC",
        },
        "schedule": "0 2 * * *",
    }
    assert definition_of(mail).hook == {"id": "on-mail", "event": "mail.received"}
    with pytest.raises(DeclarationError, match="task or command, not both"):  # C20
        app.hook(event="x", task="t", command="c")
    with pytest.raises(DeclarationError, match="non-empty event"):
        app.hook(event=" ")


def test_subagent_macro_exact_rows():
    app = App(name="Meeting Booker", description="d")

    @app.subagent(
        "booking-coordinator",
        channels=["SMS", " email ", "sms"],
        schedule=cron("0 10 * * 1-5"),
        sandbox=sandbox(max_concurrency=3),
        hooks=[subagent_hook(event="mail.received", command="echo hi"), {"task": "Tick."}],
    )
    def booking():
        """Book meetings."""

    m = app.manifest
    assert m["agent"]["subagents"] == [
        {
            "id": "booking-coordinator",
            "workflow_id": "booking-coordinator",
            "channels": ["email", "sms"],
            "runtime": {
                "working_dir": "subagents/booking-coordinator",
                "timeout_seconds": 120,
                "max_retries": 2,
                "retry_backoff_seconds": 5,
            },
            "sandbox": {"policy": "shared", "max_concurrency": 3},
            "hooks": [
                {
                    "id": "mail-received-hook",
                    "event": "mail.received",
                    "channel": "api",
                    "command": "echo hi",
                },
                {"task": "Tick.", "id": "booking-coordinator-hook-2", "event": "hook.tick"},
            ],
        }
    ]
    assert m["agent"]["profiles"][0]["instructions"] == "Book meetings."
    wf, cmd_hook, task_hook = m["workflows"]
    assert wf == {
        "id": "booking-coordinator",
        "mode": "task",
        "task": task_guardrail_prefix(**GUARD) + "Book meetings.",
        "trigger": {"type": "cron", "cron": "0 10 * * 1-5", "schedule": "0 10 * * 1-5", "timezone": "UTC"},
        "run": {},
        "pipeline": [],
        "agent_id": "booking-coordinator",
        "schedule": "0 10 * * 1-5",
    }
    assert cmd_hook["id"] == "mail-received-hook" and cmd_hook["mode"] == "run"
    assert cmd_hook["run"] == {
        "command": guardrail_command("echo hi", **{**GUARD, "workflow_id": "mail-received-hook"})
    }
    assert cmd_hook["trigger"] == {"type": "api", "event": "mail.received"}
    assert task_hook["id"] == "booking-coordinator-hook-2" and task_hook["task"].endswith("\n\nTick.")
    assert task_hook["trigger"] == {"type": "api", "event": "hook.tick"}


def test_subagent_defaults_sandbox_four_slots():
    app = App("sub-app")

    @app.subagent()
    def helper_bot():
        pass

    (sub,) = app.manifest["agent"]["subagents"]
    assert sub["id"] == "helper-bot" and sub["sandbox"] == {"policy": "shared", "max_concurrency": 4}
    assert app.manifest["workflows"][0]["task"].endswith("Execute subagent helper-bot")


def test_handler_rows():
    app = App(name="Handlers")

    @app.handler(description="Echo it.")
    def echo_back(text: str):
        return text

    assert app.manifest["agent"]["handlers"] == [
        {
            "id": "echo-back",
            "function_name": "echo_back",
            "description": "Echo it.",
            "parameters": {
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
            },
            "source": "def echo_back(text: str):\n    return text",
        }
    ]
    assert echo_back("x") == "x"


def test_local_entrypoint_calling_rules():
    app = App("local-app")
    with pytest.raises(RuntimeError, match=r"^No @app\.local_entrypoint\(\) registered$"):
        app.call_local_entrypoint({})

    @app.local_entrypoint()
    def none():
        return "none"

    assert app.call_local_entrypoint({"a": 1}) == "none"

    @app.local_entrypoint()
    def one(payload):
        return payload

    assert app.call_local_entrypoint({"a": 1}) == {"a": 1} and app.call_local_entrypoint(None) == {}

    @app.local_entrypoint()
    def many(name, count=1, flag=False):
        return (name, count, flag)

    assert app.call_local_entrypoint({"name": "n", "flag": True, "unused": 0}) == ("n", 1, True)


def test_define_app():
    app = App("def-app")
    assert define_app(app) == app.manifest
    assert define_app({"name": " Meeting Booker ", "project": "Booker Proj", "extra": 1}) == {
        "name": "Meeting Booker",
        "project": "Booker Proj",
        "extra": 1,
        "slug": "booker-proj",
        "description": "",
        "agent": {},
        "workflows": [],
        "interfaces": {},
        "runtime_profile": {},
    }
    assert define_app({"name": "!!"})["slug"] == "workflow"
    with pytest.raises(DeclarationError, match="non-empty name"):
        define_app({"name": " "})
    with pytest.raises(DeclarationError, match="expects an App or a manifest dict"):
        define_app(["not", "a", "dict"])  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
