"""App.manifest key for key (spec §1), with the worked example of §1.9b."""

import json
from pathlib import Path

import pytest
from ara_core import DeclarationError
from ara_sdk import App, fastapi_endpoint, invoke, load_app, runtime, sandbox, schedule

HERE = Path(__file__).parent

HMAC_ENDPOINT = {
    "type": "fastapi_endpoint",
    "method": "POST",
    "path": "/inbound-webhook",
    "label": "inbound-webhook",
    "docs": False,
    "auth": {"mode": "hmac", "header_name": "", "secret_env": "ARA_ENDPOINT_INBOUND_WEBHOOK_SECRET"},
}
SEND_EMAIL_SCHEDULE = {
    "id": "send-email",
    "kind": "cron",
    "cron": "0 * * * *",
    "timezone": "UTC",
    "run": {"type": "tool", "tool_name": "send_email", "args": {}},
}
WEBHOOK_TEXT = "Generate instructions at runtime via agent function 'inbound_webhook'."


def test_worked_example_1_9b():
    m = load_app(HERE / "apps" / "support_ops.py").manifest
    assert list(m) == ["name", "slug", "description", "agent", "workflows", "interfaces", "runtime_profile"]
    assert (m["name"], m["slug"], m["description"], m["runtime_profile"]) == (
        "support-ops",
        "support-ops",
        "",
        {},
    )
    agent = m["agent"]
    assert list(agent) == [
        "agents",
        "default_agent_id",
        "profiles",
        "default_profile_id",
        "subagents",
        "tools",
    ]
    coord, hook = agent["agents"]
    assert list(coord) == [
        "id",
        "task",
        "instructions",
        "persona",
        "schedules",
        "handoff_to",
        "always_on",
        "entrypoint",
        "prompt_factory",
    ]
    assert coord | {"prompt_factory": None} == {
        "id": "support_coordinator",
        "task": "Coordinate support.",
        "instructions": "Coordinate support.",
        "persona": "Coordinate support.",
        "schedules": [SEND_EMAIL_SCHEDULE],
        "handoff_to": [],
        "always_on": True,
        "entrypoint": True,
        "prompt_factory": None,
    }
    assert coord["prompt_factory"] == {
        "function_name": "support_coordinator",
        "source": "def support_coordinator(input: dict) -> str:\n"
        '    """Coordinate support."""\n'
        '    return "Coordinate support."',
        "parameters": {"type": "object", "properties": {"input": {"type": "object"}}, "required": ["input"]},
    }
    assert (
        hook["id"] == "inbound_webhook"
        and hook["task"] == WEBHOOK_TEXT
        and hook["fastapi_endpoint"] == HMAC_ENDPOINT
    )
    assert hook["schedules"] == [] and hook["entrypoint"] is False
    assert agent["default_agent_id"] == agent["default_profile_id"] == "support_coordinator"
    assert agent["profiles"][0] == {
        "id": "support_coordinator",
        "instructions": "Coordinate support.",
        "persona": "Coordinate support.",
        "handoff_to": [],
        "always_on": True,
    }
    assert agent["subagents"] == [
        {
            "id": i,
            "workflow_id": i,
            "channels": [],
            "runtime": {},
            "sandbox": {"policy": "shared", "max_concurrency": 8},
            "hooks": [],
        }
        for i in ("support_coordinator", "inbound_webhook")
    ]
    (tool,) = agent["tools"]
    assert tool == {
        "type": "function",
        "function": {
            "name": "send_email",
            "description": "",
            "parameters": {
                "type": "object",
                "properties": {"to": {"type": "string"}, "body": {"type": "string", "default": "x"}},
                "required": ["to"],
            },
        },
        "function_name": "send_email",
        "source": 'def send_email(to: str, body: str = "x") -> dict:\n    return {"sent": to}',
        "schedules": [SEND_EMAIL_SCHEDULE],
    }
    assert m["workflows"] == [
        {
            "id": "support_coordinator",
            "mode": "task",
            "agent_id": "support_coordinator",
            "task": "Coordinate support.",
            "run": {},
            "pipeline": [],
            "schedule": "",
            "trigger": {"type": "api"},
        },
        {
            "id": "support_coordinator--send-email",
            "mode": "pipeline",
            "agent_id": "support_coordinator",
            "task": "Run scheduled tool send_email",
            "run": {},
            "pipeline": [
                {
                    "id": "support_coordinator--send-email--tool",
                    "kind": "tool",
                    "tool_name": "send_email",
                    "args": {},
                }
            ],
            "schedule": "0 * * * *",
            "trigger": {"type": "cron", "cron": "0 * * * *", "schedule": "0 * * * *", "timezone": "UTC"},
        },
        {
            "id": "inbound_webhook",
            "mode": "task",
            "agent_id": "inbound_webhook",
            "task": WEBHOOK_TEXT,
            "run": {},
            "pipeline": [],
            "schedule": "",
            "trigger": {"type": "api"},
        },
    ]
    assert m["interfaces"] == {
        "inherit_owner_tools": False,
        "fastapi_endpoints": [
            HMAC_ENDPOINT | {"agent_id": "inbound_webhook", "workflow_id": "inbound_webhook"}
        ],
    }
    json.dumps(m)


def test_public_example_style_app(tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / ".env").write_text("API_TOKEN='abc'\n# comment\nOTHER=1\n")
    monkeypatch.chdir(tmp_path)
    from ara_sdk import Secret, local_file

    app = App(
        "Get Started",
        project_name="get-started",
        description="A first app.",
        runtime_profile=runtime(files=[local_file("notes.txt")], secrets=[Secret.from_dotenv()]),
    )

    @app.agent(task="Greet the user.")
    def greeter():
        pass

    @app.agent(entrypoint=True)
    def helper(input: dict) -> str:
        return "Help."

    m = app.manifest
    assert (m["name"], m["slug"], m["description"]) == ("Get Started", "get-started", "A first app.")
    assert [a["id"] for a in m["agent"]["agents"]] == ["greeter", "helper"]
    assert (
        m["agent"]["agents"][0]["task"] == "Greet the user."
        and "prompt_factory" not in m["agent"]["agents"][0]
    )
    assert m["agent"]["default_agent_id"] == "helper"
    assert m["runtime_profile"]["files"] == [{"path": "notes.txt", "content": "hello", "executable": True}]
    assert m["runtime_profile"]["secret_refs"][0]["name"].startswith("sdk-dotenv-")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: App("Bad_Name"), "project_name must match"),
        (lambda: App("-x"), "project_name must match"),
        (lambda: App(name="  "), "App(name=...) requires a non-empty name"),
    ],
)
def test_app_errors(build, message):
    with pytest.raises(ValueError, match=None) as info:
        build()
    assert str(info.value).startswith(message)


def test_agent_signature_rules():
    app = App("sig-rules")
    with pytest.raises(DeclarationError, match="requires exactly one input parameter"):

        @app.agent()
        def two(a, b) -> str:
            return ""

    with pytest.raises(DeclarationError, match="return annotation must be str"):

        @app.agent()
        def wrong(a) -> int:
            return 1

    with pytest.raises(DeclarationError, match="only supports standard def functions"):

        @app.agent()
        async def coro(a) -> str:
            return ""

    with pytest.raises(DeclarationError, match="requires source-visible functions"):
        app.agent()(lambda a: "x")


def test_upsert_in_place_and_decorators_return_the_function():
    app = App("upsert-app")

    @app.agent()
    def a(input: dict) -> str:
        return "first"

    @app.agent()
    def b(input: dict) -> str:
        return "b"

    @app.agent(id="a", task="replaced", prompt_factory=True)
    def a2(input: dict) -> str:
        return "second"

    assert a({"x": 1}) == "first"
    assert [r["id"] for r in app.manifest["agent"]["agents"]] == ["a", "b"]
    assert app.manifest["agent"]["agents"][0]["task"] == "replaced"


def test_schedule_at_forms_and_ids():
    app = App("sched-app")

    @app.agent()
    @app.schedule(cron="0 9 * * 1-5", at=["09:30", "2030-01-02T03:04:05Z"], timezone="Europe/London")
    def booker(input: dict) -> str:
        return "book"

    schedules = app.manifest["agent"]["agents"][0]["schedules"]
    assert schedules == [
        {
            "id": "booker--cron",
            "kind": "cron",
            "cron": "0 9 * * 1-5",
            "timezone": "Europe/London",
            "run": {"type": "agent", "agent_id": "booker"},
        },
        {
            "id": "booker--09-30",
            "kind": "cron",
            "cron": "30 9 * * *",
            "timezone": "Europe/London",
            "run": {"type": "agent", "agent_id": "booker"},
        },
        {
            "id": "booker--2030-01-02t03-04-05z",
            "kind": "cron",
            "cron": "4 3 2 1 *",
            "timezone": "UTC",
            "one_shot_at": "2030-01-02T03:04:05Z",
            "run": {"type": "agent", "agent_id": "booker"},
        },
    ]
    workflows = app.manifest["workflows"]
    assert workflows[-1]["trigger"] == {
        "type": "cron",
        "cron": "4 3 2 1 *",
        "schedule": "4 3 2 1 *",
        "timezone": "UTC",
        "one_shot_at": "2030-01-02T03:04:05Z",
    }
    with pytest.raises(DeclarationError, match="requires at least one of cron= or at="):
        app.schedule()(booker)
    with pytest.raises(DeclarationError, match="HH:MM"):
        app.schedule(at="25:00")(booker)
    with pytest.raises(DeclarationError, match="invalid cron expression"):
        app.schedule(cron="0 25 * * *")(booker)
    with pytest.raises(DeclarationError, match="unknown time zone"):
        app.schedule(cron="0 1 * * *", timezone="Mars/Olympus")(booker)


def test_scheduled_jobs_agent_for_tool_only_schedules():
    app = App("jobs-app")

    @app.tool()
    @app.schedule(at="07:00", run=invoke.tool("cleanup", args={"days": 7}))
    def cleanup(days: int = 3) -> dict:
        return {}

    agent = app.manifest["agent"]
    assert agent["agents"][0]["id"] == "scheduled-jobs" and agent["default_agent_id"] == "scheduled-jobs"
    assert agent["agents"][0]["schedules"][0]["run"] == {
        "type": "tool",
        "tool_name": "cleanup",
        "args": {"days": 7},
    }
    assert app.manifest["workflows"][1]["pipeline"][0]["args"] == {"days": 7}


def test_endpoint_options_and_errors():
    app = App("ep-app")

    @app.agent()
    @fastapi_endpoint(method="get", path="hooks//in", auth="header")
    def inbound(input: dict) -> str:
        return ""

    assert app.manifest["agent"]["agents"][0]["fastapi_endpoint"] == {
        "type": "fastapi_endpoint",
        "method": "GET",
        "path": "/hooks/in",
        "label": "inbound",
        "docs": False,
        "auth": {
            "mode": "header",
            "header_name": "X-Ara-Endpoint-Secret",
            "secret_env": "ARA_ENDPOINT_INBOUND_SECRET",
        },
    }
    with pytest.raises(DeclarationError, match="method"):
        fastapi_endpoint(method="FETCH")
    with pytest.raises(DeclarationError, match="auth"):
        fastapi_endpoint(auth="oauth")


def test_legacy_mode_slugifies_ids_and_keeps_description():
    app = App(name="Investor Booker", project_name="Team Internal App", description=" d ")
    assert (app.slug, app.name) == ("team-internal-app", "Investor Booker")

    @app.agent(task="Book.")
    def booking_coordinator():
        pass

    assert app.manifest["agent"]["agents"][0]["id"] == "booking-coordinator"
    assert app.manifest["description"] == "d"


def test_agent_options_pass_through():
    app = App("opts-app")

    @app.agent(
        skills=["send_email", "send_email", " "],
        handoff_to=["b", "b"],
        runtime=runtime(memory_mb=512),
        sandbox=sandbox(policy="dedicated", max_concurrency=2),
        schedules=[schedule.cron(expr="0 9 * * 1-5", run=invoke.agent("opts"))],
    )
    def opts(input: dict) -> str:
        return ""

    row = app.manifest["agent"]["agents"][0]
    assert row["skills"] == ["send_email"] and row["handoff_to"] == ["b"]
    assert row["runtime"] == {"memory_mb": 512} and row["sandbox"] == {
        "policy": "dedicated",
        "max_concurrency": 2,
    }
    assert row["schedules"][0]["id"] == "opts-0-9-1-5"
    assert app.manifest["agent"]["profiles"][0]["skills"] == ["send_email"]
