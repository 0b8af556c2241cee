"""ManifestView: the accessors a server needs, the one dispatch rule (table-driven), schedules
normalised from every place they are declared, subagent execution settings, and caching."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from ara_core import (
    EndpointAuth,
    HookSpec,
    ManifestError,
    PipelineStep,
    RunTarget,
    ScheduleSpec,
    Workflow,
    decode_manifest,
    dispatch,
    view_for,
    view_of,
)
from hypothesis import given
from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
RICH = (HERE / "data" / "rich_g2_app.manifest.json").read_bytes()
JOB = (HERE / "data" / "job_connectors_app.manifest.json").read_bytes()
LEGACY = (HERE / "data" / "legacy_g0_app.manifest.json").read_bytes()


STEP = {"id": "s1", "kind": "tool", "tool_name": "t", "args": {"x": 1}}


@pytest.mark.parametrize(
    ("workflow", "expected"),
    [
        ({"id": "w"}, RunTarget(kind="agent", workflow_id="w", agent_id="boss")),
        (
            {"id": "w", "mode": "task", "task": "Do it"},
            RunTarget(kind="agent", workflow_id="w", agent_id="boss", task="Do it"),
        ),
        (
            {"id": "w", "mode": "task", "agent_id": "a2"},
            RunTarget(kind="agent", workflow_id="w", agent_id="a2"),
        ),
        (
            {"id": "w", "mode": "run", "agent_id": "a2", "run": {"command": "echo hi"}},
            RunTarget(kind="command", workflow_id="w", command="echo hi"),
        ),
        ({"id": "w", "mode": "run"}, RunTarget(kind="command", workflow_id="w")),
        (
            {"id": "w", "mode": "pipeline", "pipeline": [STEP]},
            RunTarget(
                kind="pipeline",
                workflow_id="w",
                agent_id="boss",
                steps=(PipelineStep(id="s1", kind="tool", tool_name="t", args={"x": 1}),),
            ),
        ),
        (
            {
                "id": "w",
                "mode": "pipeline",
                "agent_id": "a2",
                "task": "T",
                "trigger": {"type": "api", "event": "e"},
            },
            RunTarget(kind="pipeline", workflow_id="w", agent_id="a2", task="T"),
        ),
    ],
)
def test_dispatch_rule(workflow: dict[str, Any], expected: RunTarget) -> None:
    assert dispatch(msgspec.convert(workflow, Workflow), default_agent_id="boss") == expected


def test_events_and_schedules_use_the_same_rule() -> None:
    doc = {
        "name": "x",
        "agent": {
            "agents": [{"id": "a"}, {"id": "b"}],
            "tools": [{"type": "function", "function": {"name": "t"}}],
        },
        "workflows": [
            {
                "id": "on-mail",
                "mode": "run",
                "run": {"command": "echo mail"},
                "trigger": {"type": "api", "event": "mail"},
            },
            {
                "id": "mail-agent",
                "mode": "task",
                "agent_id": "b",
                "trigger": {"type": "api", "event": "mail"},
            },
            {
                "id": "mail-pipe",
                "mode": "pipeline",
                "pipeline": [STEP],
                "trigger": {"type": "api", "event": "mail"},
            },
            {
                "id": "nightly",
                "mode": "run",
                "run": {"command": "echo night"},
                "trigger": {"type": "cron", "cron": "0 2 * * *"},
            },
            {"id": "hourly", "mode": "pipeline", "pipeline": [STEP], "schedule": "0 * * * *"},
            {"id": "other", "trigger": {"type": "api", "event": "other"}},
        ],
    }
    view = view_of(doc)
    by_event = view.event_targets("mail")
    assert [(t.kind, t.workflow_id, t.agent_id) for t in by_event] == [
        ("command", "on-mail", ""),
        ("agent", "mail-agent", "b"),
        ("pipeline", "mail-pipe", "a"),
    ]
    assert [w.id for w in view.workflows_for_event("mail")] == ["on-mail", "mail-agent", "mail-pipe"]
    schedules = {s.id: s for s in view.schedules()}
    assert schedules["nightly"].target == view.dispatch(view.workflow("nightly"))  # type: ignore[arg-type]
    assert (
        schedules["nightly"].target.kind == "command" and schedules["nightly"].target.command == "echo night"
    )
    assert schedules["hourly"].target.kind == "pipeline" and schedules["hourly"].expr == "0 * * * *"
    assert view.event_targets("none") == ()


def test_schedules_are_normalised_from_every_declaration() -> None:
    view = view_for(RICH)
    assert view.schedules() == (
        ScheduleSpec(
            key="workflow:boss--other-0-9-1-5",
            id="boss--other-0-9-1-5",
            kind="cron",
            expr="0 9 * * 1-5",
            timezone="Europe/London",
            target=RunTarget(kind="agent", workflow_id="boss--other-0-9-1-5", agent_id="other", task="Lead."),
        ),
        *(
            ScheduleSpec(
                key=f"workflow:boss--{sid}",
                id=f"boss--{sid}",
                kind=kind,
                expr=expr,
                at=at,
                target=RunTarget(
                    kind="pipeline",
                    workflow_id=f"boss--{sid}",
                    agent_id="boss",
                    task="Run scheduled tool send_mail",
                    steps=(
                        PipelineStep(id=f"boss--{sid}--tool", kind="tool", tool_name="send_mail", args={}),
                    ),
                ),
            )
            for sid, kind, expr, at in [
                ("send--cron", "cron", "0 * * * *", None),
                ("send--09-30", "cron", "30 9 * * *", None),
                ("send--2030-01-02t03-04-05z", "at", "4 3 2 1 *", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
            ]
        ),
        ScheduleSpec(
            key="every:boss:boss-every-120s",
            id="boss-every-120s",
            kind="every",
            every_seconds=120,
            target=RunTarget(
                kind="agent", workflow_id="boss-every-120s", agent_id="boss", task="Lead.", input={"m": 1}
            ),
        ),
    )


def test_an_agent_cron_schedule_without_its_workflow_still_fires() -> None:
    doc = {
        "name": "x",
        "agent": {
            "agents": [
                {
                    "id": "a",
                    "schedules": [
                        {
                            "id": "s",
                            "kind": "cron",
                            "cron": "0 9 * * *",
                            "timezone": "Europe/Paris",
                            "run": {"type": "tool", "tool_name": "t", "args": {}},
                        },
                        {
                            "id": "e",
                            "kind": "every",
                            "every_seconds": 300,
                            "run": {"type": "tool", "tool_name": "t", "args": {"k": 1}},
                        },
                    ],
                }
            ],
            "tools": [{"type": "function", "function": {"name": "t"}}],
        },
    }
    specs = view_of(doc).schedules()
    assert [(s.key, s.kind, s.expr, s.timezone, s.every_seconds) for s in specs] == [
        ("schedule:a:s", "cron", "0 9 * * *", "Europe/Paris", None),
        ("every:a:e", "every", "", "UTC", 300),
    ]
    assert specs[1].target == RunTarget(
        kind="tool", workflow_id="e", agent_id="a", tool_name="t", args={"k": 1}
    )


def test_agents_tools_workflows_and_resolution() -> None:
    view = view_for(RICH)
    assert view.name == "rich-app" and view.slug == "rich-app"
    assert view.agent_ids() == ("boss", "other")
    assert view.agent("boss") is not None and view.agent("ghost") is None
    assert view.entrypoint_agent() == view.agent("boss")
    assert view.default_agent_id == "boss"
    assert view.instructions("boss") == "Lead."
    assert view.instructions("ghost") == ""
    assert view.skills() == ("send_mail", "connector:gmail")
    tool = view.tool("send_mail")
    assert tool is not None and tool.function_name == "send"
    assert view.tool("send") is None and view.tool_names() == ("send_mail",)
    assert [w.id for w in view.workflows()][:2] == ["boss", "boss--other-0-9-1-5"]
    assert view.resolve_agent("") == "boss"
    assert view.resolve_agent("other") == "other"
    assert view.resolve_agent("boss--other-0-9-1-5") == "other"  # a workflow id names its agent
    assert view.resolve_agent("ghost") is None
    assert view.target("boss--send--cron") is not None and view.target("nope") is None


@pytest.mark.parametrize(
    ("agent_block", "expected"),
    [
        ({"agents": [{"id": "a"}, {"id": "b", "entrypoint": True}]}, "a"),  # no declared default: first agent
        ({"agents": [{"id": "a"}, {"id": "b", "entrypoint": True}], "default_agent_id": "b"}, "b"),
        ({"agents": [{"id": "a"}, {"id": "b"}], "default_agent_id": "ghost"}, None),
        ({}, None),
    ],
)
def test_entrypoint_agent(agent_block: dict[str, Any], expected: str | None) -> None:
    view = view_of({"name": "x", "agent": agent_block})
    agent = view.entrypoint_agent()
    if expected is None and agent_block.get("default_agent_id") == "ghost":
        assert agent is not None and agent.id == "a"  # an unknown default falls back to the first agent
    elif expected is None:
        assert agent is None
    else:
        assert agent is not None and agent.id == expected


def test_endpoints_from_interfaces_and_agent_rows() -> None:
    doc = json.loads(RICH)
    doc["agent"]["agents"][0]["fastapi_endpoint"] = {
        "type": "fastapi_endpoint",
        "method": "POST",
        "label": "boss-hook",
    }
    view = view_of(doc)
    labels = [(e.label, e.method, e.path, e.agent_id, e.workflow_id) for e in view.endpoints()]
    assert labels == [
        ("other", "GET", "/other", "other", "other"),
        ("boss-hook", "POST", "/boss-hook", "boss", "boss"),
    ]
    endpoint = view.endpoint("other")
    assert endpoint is not None and endpoint.auth == EndpointAuth(
        mode="header", header_name="X-Ara-Endpoint-Secret", secret_env="ARA_ENDPOINT_OTHER_SECRET"
    )
    assert view.endpoint("nope") is None


def test_subagent_execution_settings_and_hooks() -> None:
    doc = {
        "name": "x",
        "agent": {
            "agents": [
                {"id": "booker", "sandbox": {"policy": "dedicated", "max_concurrency": 9}},
                {"id": "plain"},
            ],
            "subagents": [
                {
                    "id": "booker",
                    "workflow_id": "booking",
                    "channels": ["email", "sms"],
                    "runtime": {
                        "working_dir": "subagents/booker",
                        "timeout_seconds": 120,
                        "max_retries": 2,
                        "retry_backoff_seconds": 5,
                    },
                    "sandbox": {"policy": "shared", "max_concurrency": 4},
                    "hooks": [
                        {
                            "id": "mail-received-hook",
                            "event": "mail.received",
                            "channel": "api",
                            "command": "echo hi",
                        },
                        {"task": "Follow up"},
                    ],
                }
            ],
        },
        "runtime_profile": {"execution": {"max_retries": 7, "timeout_seconds": 30}},
    }
    view = view_of(doc)
    booker = view.subagent("booker")
    assert booker is not None
    assert (booker.workflow_id, booker.channels, booker.max_concurrency, booker.policy) == (
        "booking",
        ("email", "sms"),
        4,
        "shared",
    )
    assert (booker.timeout_seconds, booker.max_retries, booker.retry_backoff_seconds) == (120.0, 2, 5.0)
    assert booker.guardrails and booker.working_dir == "subagents/booker"
    assert view.hooks == (
        HookSpec(subagent_id="booker", id="mail-received-hook", event="mail.received", command="echo hi"),
        HookSpec(subagent_id="booker", id="booking-hook-2", event="hook.tick", task="Follow up"),
    )
    assert view.event_targets("mail.received") == (
        RunTarget(kind="command", workflow_id="mail-received-hook", command="echo hi"),
    )
    assert view.event_targets("hook.tick") == (
        RunTarget(kind="agent", workflow_id="booking-hook-2", agent_id="booker", task="Follow up"),
    )
    assert view.target("booking-hook-2") == view.event_targets("hook.tick")[0]
    plain = view.subagent("plain")  # no subagent row: the agent row and the app's execution settings
    assert plain is not None
    assert (plain.max_retries, plain.timeout_seconds, plain.max_concurrency, plain.guardrails) == (
        7,
        30.0,
        None,
        False,
    )
    assert view.subagent("ghost") is None


def test_runtime_and_declared_integrations() -> None:
    rich = view_for(RICH).runtime()
    assert rich.python_packages == ("requests",) and rich.env == {"MODE": "3"}
    assert rich.files and rich.files[0].path == "a.txt"
    assert (
        rich.startup
        and not isinstance(rich.startup, msgspec.UnsetType)
        and rich.startup.entrypoint == "python a.py"
    )
    job = view_for(JOB)
    assert job.runtime().required_env_keys == ("OTHER_KEY",)
    assert [(d.kind, d.name, d.path) for d in job.declared_integrations()] == [
        ("channel", "linq", "$.agent.subagents[0].channels[0]"),
        ("connector", "gmail:send_email", "$.interfaces.tool_privileges[0]"),
        ("connector", "slack", "$.interfaces.tool_privileges[1]"),
    ]
    assert job.interfaces.inherit_owner_tools is True


def test_views_are_cached_per_manifest_bytes() -> None:
    assert view_for(RICH) is view_for(RICH)
    assert view_of(json.loads(RICH)) is view_of(json.loads(RICH))
    assert view_of(RICH.decode()) is view_for(RICH.decode().encode())
    assert view_of(decode_manifest(RICH)).name == "rich-app"


def test_a_stored_manifest_of_the_wrong_shape_is_a_manifest_error() -> None:
    with pytest.raises(ManifestError, match=r"at `\$\.runtime_profile\.python_packages`"):
        view_of({"name": "x", "runtime_profile": {"python_packages": "requests"}})
    with pytest.raises(ManifestError, match=r"at `\$\.workflows\[0\]\.trigger\.type`"):
        view_of({"name": "x", "workflows": [{"id": "w", "trigger": {"type": "webhook"}}]})
    with pytest.raises(ManifestError, match="not JSON-serialisable"):
        view_of({"name": object()})


_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)


@given(
    mode=st.sampled_from([None, "task", "run", "pipeline"]),
    agent_id=st.one_of(st.none(), _ids),
    default=st.one_of(st.just(""), _ids),
    command=st.one_of(st.none(), st.text(max_size=20)),
)
def test_dispatch_invariants(
    mode: str | None, agent_id: str | None, default: str, command: str | None
) -> None:
    doc: dict[str, Any] = {"id": "w"}
    if mode:
        doc["mode"] = mode
    if agent_id:
        doc["agent_id"] = agent_id
    if command is not None:
        doc["run"] = {"command": command}
    target = dispatch(msgspec.convert(doc, Workflow), default_agent_id=default)
    assert target.workflow_id == "w"
    if mode == "run":
        assert target.kind == "command" and target.agent_id == "" and target.command == (command or "")
    else:
        assert target.kind == ("pipeline" if mode == "pipeline" else "agent")
        assert target.agent_id == (agent_id or default) and target.command == ""


def test_a_manifest_of_the_oldest_sdk_reads_like_any_other() -> None:
    view = view_for(LEGACY)  # agents only as profiles; explicit task, hook and subagent workflows
    assert view.agent_ids() == ("coordinator", "booking-coordinator")
    assert (
        view.default_agent_id == "coordinator" and view.instructions("coordinator") == "Coordinate bookings."
    )
    assert [(t.kind, t.workflow_id, t.command) for t in view.event_targets("mail.received")] == [
        ("command", "on-mail", "python handle.py"),
        ("command", "mail-received-hook", "echo hi"),
    ]
    assert view.event_targets("cal.changed") == (
        RunTarget(
            kind="agent", workflow_id="cal-changed-hook", agent_id="booking-coordinator", task="Recheck"
        ),
    )
    assert [(s.id, s.kind, s.expr, s.timezone, s.target.agent_id) for s in view.schedules()] == [
        ("morning-digest", "cron", "0 9 * * 1-5", "Europe/London", "coordinator"),
        ("followups", "cron", "0 13 * * 1-5", "UTC", "coordinator"),
        ("booking-coordinator", "cron", "0 10 * * 1-5", "UTC", "booking-coordinator"),
    ]
    booking = view.subagent("booking-coordinator")
    assert booking is not None and booking.max_concurrency == 3 and booking.channels == ("email", "sms")
    assert booking.runtime.adapter == {
        "type": "command",
        "framework": "custom",
        "transport": "stdio",
        "entrypoint": "python worker.py",
        "args": [],
    }
    tool = view.tool("lookup-tool")
    assert tool is not None and tool.handler_id == "lookup"


def test_two_subagents_hooking_one_event_get_distinct_hook_ids() -> None:
    hook = {"id": "mail-received-hook", "event": "mail.received", "channel": "api"}
    view = view_of(
        {
            "name": "x",
            "agent": {
                "agents": [{"id": "a"}, {"id": "b"}],
                "subagents": [
                    {"id": "a", "hooks": [{**hook, "command": "echo a"}]},
                    {"id": "b", "workflow_id": "b-flow", "hooks": [{**hook, "command": "echo b"}]},
                ],
            },
        }
    )
    targets = view.event_targets("mail.received")
    assert [(t.workflow_id, t.command) for t in targets] == [
        ("mail-received-hook", "echo a"),
        ("b-flow--mail-received-hook", "echo b"),
    ]
    assert all(view.target(t.workflow_id) == t for t in targets)
    settings = view.subagent("b")
    assert settings is not None and settings.hooks[0].id == "b-flow--mail-received-hook"
