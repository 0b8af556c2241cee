"""The manifest Structs: byte-identical round trips of manifests the original SDK produced, the worked
example, faithful UNSET handling, immutability, and hostile manifests rejected with exact JSON paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from ara_core import (
    AgentBlock,
    AgentRun,
    ApiTrigger,
    CronTrigger,
    Manifest,
    ManifestError,
    ToolRun,
    decode_manifest,
    encode_manifest,
    validate_manifest,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

#: Manifests printed by the original SDK for the apps next to them (0.1.30 for the display-name
#: style, 0.1.45 for the project-name decorator style, 0.1.58 for `Job`/`tool`), and the SDK
#: package's own golden manifest.
ORIGINAL_MANIFESTS = [
    HERE / "data" / "display_name_g1_app.manifest.json",
    HERE / "data" / "rich_g2_app.manifest.json",
    HERE / "data" / "job_quickstart_app.manifest.json",
    HERE / "data" / "job_connectors_app.manifest.json",
    REPO / "packages" / "ara-sdk" / "tests" / "apps" / "support_ops.manifest.json",
]


def _worked_example() -> dict[str, Any]:
    """The spec's worked example (a tool scheduled hourly, an entrypoint agent, a webhook agent)."""
    endpoint = {
        "type": "fastapi_endpoint",
        "method": "POST",
        "path": "/inbound-webhook",
        "label": "inbound-webhook",
        "docs": False,
        "auth": {"mode": "hmac", "header_name": "", "secret_env": "ARA_ENDPOINT_INBOUND_WEBHOOK_SECRET"},
    }
    tool_schedule = {
        "id": "send-email",
        "kind": "cron",
        "cron": "0 * * * *",
        "timezone": "UTC",
        "run": {"type": "tool", "tool_name": "send_email", "args": {}},
    }
    params = {"type": "object", "properties": {"input": {"type": "object"}}, "required": ["input"]}
    webhook_text = "Generate instructions at runtime via agent function 'inbound_webhook'."
    return {
        "name": "support-ops",
        "slug": "support-ops",
        "description": "",
        "agent": {
            "agents": [
                {
                    "id": "support_coordinator",
                    "task": "Coordinate support.",
                    "instructions": "Coordinate support.",
                    "persona": "Coordinate support.",
                    "schedules": [tool_schedule],
                    "handoff_to": [],
                    "always_on": True,
                    "entrypoint": True,
                    "prompt_factory": {
                        "function_name": "support_coordinator",
                        "source": (
                            'def support_coordinator(input: dict) -> str:\n    """Coordinate support."""'
                        ),
                        "parameters": params,
                    },
                },
                {
                    "id": "inbound_webhook",
                    "task": webhook_text,
                    "instructions": webhook_text,
                    "persona": webhook_text,
                    "schedules": [],
                    "handoff_to": [],
                    "always_on": True,
                    "entrypoint": False,
                    "prompt_factory": {
                        "function_name": "inbound_webhook",
                        "source": "def inbound_webhook(input: dict) -> str:\n    return 'ok'",
                        "parameters": params,
                    },
                    "fastapi_endpoint": endpoint,
                },
            ],
            "default_agent_id": "support_coordinator",
            "profiles": [
                {
                    "id": "support_coordinator",
                    "instructions": "Coordinate support.",
                    "persona": "Coordinate support.",
                    "handoff_to": [],
                    "always_on": True,
                },
                {
                    "id": "inbound_webhook",
                    "instructions": webhook_text,
                    "persona": webhook_text,
                    "handoff_to": [],
                    "always_on": True,
                },
            ],
            "default_profile_id": "support_coordinator",
            "subagents": [
                {
                    "id": agent_id,
                    "workflow_id": agent_id,
                    "channels": [],
                    "runtime": {},
                    "sandbox": {"policy": "shared", "max_concurrency": 8},
                    "hooks": [],
                }
                for agent_id in ("support_coordinator", "inbound_webhook")
            ],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "send_email",
                        "description": "",
                        "parameters": {
                            "type": "object",
                            "properties": {
                                "to": {"type": "string"},
                                "body": {"type": "string", "default": "x"},
                            },
                            "required": ["to"],
                        },
                    },
                    "function_name": "send_email",
                    "source": 'def send_email(to: str, body: str = "x") -> dict:\n    return {"to": to}',
                    "schedules": [tool_schedule],
                }
            ],
        },
        "workflows": [
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
                "task": webhook_text,
                "run": {},
                "pipeline": [],
                "schedule": "",
                "trigger": {"type": "api"},
            },
        ],
        "interfaces": {
            "inherit_owner_tools": False,
            "fastapi_endpoints": [
                {**endpoint, "agent_id": "inbound_webhook", "workflow_id": "inbound_webhook"}
            ],
        },
        "runtime_profile": {},
    }


@pytest.mark.parametrize("path", ORIGINAL_MANIFESTS, ids=lambda p: p.name)
def test_original_manifests_round_trip_byte_for_byte(path: Path) -> None:
    raw = path.read_bytes()
    expected = msgspec.json.encode(json.loads(raw))  # the original's keys, in its order, compact
    decoded = decode_manifest(raw)
    assert encode_manifest(decoded) == expected
    doc = validate_manifest(raw)
    assert encode_manifest(doc.manifest) == expected
    assert msgspec.json.encode(doc.raw) == expected


GOLDEN = sorted((REPO / "packages" / "ara-sdk" / "tests" / "golden").glob("*.json"))


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_the_sdk_golden_manifests_round_trip_byte_for_byte(path: Path) -> None:
    document = json.loads(path.read_bytes())  # each printed by an original SDK release
    expected = msgspec.json.encode(document)
    manifest = validate_manifest(document).manifest
    agent = document.get("agent") or {}
    known = set(AgentBlock.__struct_fields__)
    first = next((i for i, key in enumerate(agent) if key in known and key not in ("default_profile_id",)), 0)
    base = dict(list(agent.items())[:first])  # the app's own agent dict comes first
    assert encode_manifest(manifest, agent_base=base) == expected


def test_oldest_workflow_layouts_round_trip_byte_for_byte() -> None:
    raw = (HERE / "data" / "legacy_g0_app.manifest.json").read_bytes()  # printed by the original 0.1.5
    expected = msgspec.json.encode(json.loads(raw))
    manifest = validate_manifest(raw).manifest
    assert not isinstance(manifest.workflows, msgspec.UnsetType)
    ids = [w.id for w in manifest.workflows]
    assert encode_manifest(manifest, legacy_workflow_ids=ids) == expected
    assert encode_manifest(manifest) != expected  # the current layout orders workflow keys differently
    assert decode_manifest(encode_manifest(manifest, legacy_workflow_ids=ids)) == manifest


def test_an_app_agent_base_dict_keeps_its_keys_first() -> None:
    example = _worked_example()
    base = {"model": "gpt-test", "default_profile_id": "custom", "agents": "replaced"}
    agent = dict(base)
    agent.update(example["agent"])  # how the original starts the block from the app's own dict
    expected = msgspec.json.encode({**example, "agent": agent})
    manifest = validate_manifest(example).manifest
    assert encode_manifest(manifest, agent_base=base) == expected
    assert list(json.loads(expected)["agent"])[:3] == ["model", "default_profile_id", "agents"]


def test_worked_example_round_trips_byte_for_byte() -> None:
    example = _worked_example()
    expected = msgspec.json.encode(example)
    doc = validate_manifest(example)
    assert encode_manifest(doc.manifest) == expected
    assert json.dumps(msgspec.to_builtins(doc.manifest)) == json.dumps(example)


def test_tagged_unions_decode_into_their_types() -> None:
    manifest = decode_manifest((HERE / "data" / "rich_g2_app.manifest.json").read_bytes())
    assert not isinstance(manifest.agent, msgspec.UnsetType)
    agents = manifest.agent.agents
    assert not isinstance(agents, msgspec.UnsetType)
    runs = [s.run for s in agents[0].schedules or ()]
    assert [type(r) for r in runs] == [AgentRun, AgentRun, ToolRun, ToolRun, ToolRun]
    assert runs[0] == AgentRun(agent_id="boss", input={"m": 1})
    assert not isinstance(manifest.workflows, msgspec.UnsetType)
    triggers = [w.trigger for w in manifest.workflows]
    assert isinstance(triggers[0], ApiTrigger) and isinstance(triggers[1], CronTrigger)


def test_absent_keys_stay_absent() -> None:
    minimal = {
        "name": "x",
        "agent": {"agents": [{"id": "a"}]},
        "workflows": [{"id": "w", "trigger": {"type": "api"}}],
    }
    assert msgspec.json.decode(encode_manifest(decode_manifest(json.dumps(minimal)))) == minimal


def test_a_decoded_manifest_is_immutable() -> None:
    manifest = decode_manifest((HERE / "data" / "job_quickstart_app.manifest.json").read_bytes())
    with pytest.raises(AttributeError):
        manifest.name = "other"  # type: ignore[misc]
    assert isinstance(manifest.workflows, tuple)


def _bad(**over: Any) -> dict[str, Any]:
    base = _worked_example()
    base.update(over)
    return base


def _tools(*rows: Any) -> dict[str, Any]:
    return {"agents": [{"id": "a"}], "tools": list(rows)}


def _tool(name: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}, "function_name": "f", "source": "def f(): ..."}


@pytest.mark.parametrize(
    ("manifest", "path", "fragment"),
    [
        (
            _bad(agent=_tools(_tool("a"), _tool("b"), _tool("c"), _tool(3))),
            "$.agent.tools[3].function.name",
            "Expected `str`, got `int`",
        ),
        (_bad(agent=_tools(_tool("a"), _tool("a"))), "$.agent.tools[1].function.name", "duplicate tool name"),
        (_bad(name=["x"]), "$.name", "Expected `str`, got `array`"),
        (
            _bad(workflows=[{"id": "w", "trigger": {"type": "webhook"}}]),
            "$.workflows[0].trigger.type",
            "Invalid value 'webhook'",
        ),
        (
            _bad(workflows=[{"id": "w", "trigger": {}}]),
            "$.workflows[0].trigger",
            "missing required field `type`",
        ),
        (_bad(workflows=[{"id": "w", "mode": "later"}]), "$.workflows[0].mode", "Invalid enum value 'later'"),
        (_bad(workflows=[{"id": "w"}, {"id": "w"}]), "$.workflows[1].id", "duplicate workflow id"),
        (
            _bad(
                workflows=[
                    {
                        "id": "w",
                        "mode": "pipeline",
                        "pipeline": [{"id": "s", "kind": "tool", "tool_name": "nope"}],
                    }
                ]
            ),
            "$.workflows[0].pipeline[0].tool_name",
            "names no tool",
        ),
        (
            _bad(
                workflows=[
                    {
                        "id": "w",
                        "mode": "pipeline",
                        "pipeline": [{"id": "s", "kind": "agent", "agent_id": "ghost"}],
                    }
                ]
            ),
            "$.workflows[0].pipeline[0].agent_id",
            "names no agent",
        ),
        (
            _bad(
                workflows=[
                    {"id": "w", "trigger": {"type": "cron", "cron": "0 9 * * *", "timezone": "Mars/Base"}}
                ]
            ),
            "$.workflows[0].trigger.timezone",
            "unknown time zone",
        ),
        (
            _bad(
                workflows=[
                    {"id": "w", "trigger": {"type": "cron", "cron": "0 9 * * *", "one_shot_at": "soon"}}
                ]
            ),
            "$.workflows[0].trigger.one_shot_at",
            "ISO-8601",
        ),
        (_bad(workflows=[{"id": "w", "schedule": "61 * * * *"}]), "$.workflows[0].schedule", "invalid cron"),
        (
            _bad(
                agent={
                    "agents": [
                        {
                            "id": "a",
                            "schedules": [
                                {
                                    "id": "s",
                                    "kind": "every",
                                    "every_seconds": 5,
                                    "run": {"type": "agent", "agent_id": "a"},
                                }
                            ],
                        }
                    ]
                }
            ),
            "$.agent.agents[0].schedules[0].every_seconds",
            "minimum interval is 60 seconds",
        ),
        (
            _bad(
                agent={
                    "agents": [
                        {
                            "id": "a",
                            "schedules": [
                                {
                                    "id": "s",
                                    "kind": "every",
                                    "every_seconds": 60,
                                    "run": {"type": "agent", "agent_id": "b"},
                                }
                            ],
                        }
                    ]
                }
            ),
            "$.agent.agents[0].schedules[0].run.agent_id",
            "names no agent",
        ),
        (
            _bad(
                agent={
                    "agents": [{"id": "a", "schedules": [{"id": "s", "kind": "every", "every_seconds": 60}]}]
                }
            ),
            "$.agent.agents[0].schedules[0].run",
            "needs a run target",
        ),
        (
            _bad(
                agent={
                    "agents": [
                        {
                            "id": "a",
                            "schedules": [
                                {"id": "s", "kind": "cron", "cron": "0 9 * * *", "run": {"type": "shell"}}
                            ],
                        }
                    ]
                }
            ),
            "$.agent.agents[0].schedules[0].run.type",
            "Invalid value 'shell'",
        ),
        (
            _bad(agent={"agents": [{"id": "a", "sandbox": {"policy": "per_run"}}]}),
            "$.agent.agents[0].sandbox.policy",
            "must be one of",
        ),
        (
            _bad(agent={"agents": [{"id": "a", "sandbox": {"max_concurrency": "2"}}]}),
            "$.agent.agents[0].sandbox.max_concurrency",
            "Expected `int`, got `str`",
        ),
        (
            _bad(
                agent={"agents": [{"id": "a"}], "subagents": [{"id": "a", "sandbox": {"max_concurrency": 0}}]}
            ),
            "$.agent.subagents[0].sandbox.max_concurrency",
            "at least 1",
        ),
        (
            _bad(
                agent={
                    "agents": [{"id": "a"}],
                    "subagents": [{"id": "a", "hooks": [{"event": "e", "task": "t", "command": "c"}]}],
                }
            ),
            "$.agent.subagents[0].hooks[0]",
            "not both",
        ),
        (
            _bad(runtime_profile={"env": {"MODE": 3}}),
            "$.runtime_profile.env.MODE",
            "must be a string, got integer",
        ),
        (
            _bad(runtime_profile={"env": {"ARA_API_KEY": "x"}}),
            "$.runtime_profile.env.ARA_API_KEY",
            "Reserved environment key",
        ),
        (
            _bad(agent={"agents": [{"id": "a", "runtime": {"env": {"1BAD": "x"}}}]}),
            "$.agent.agents[0].runtime.env.1BAD",
            "Invalid environment key",
        ),
        (_bad(runtime_profile={"env": ["MODE"]}), "$.runtime_profile.env", "Expected `object`, got `array`"),
        (
            _bad(runtime_profile={"python_packages": "requests"}),
            "$.runtime_profile.python_packages",
            "Expected `array`",
        ),
        (
            _bad(runtime_profile={"files": [{"path": "../etc/passwd"}]}),
            "$.runtime_profile.files[0].path",
            "relative path",
        ),
        (
            _bad(runtime_profile={"files": [{"path": "/abs"}]}),
            "$.runtime_profile.files[0].path",
            "relative path",
        ),
        (
            _bad(runtime_profile={"files": [{"path": "a//b"}]}),
            "$.runtime_profile.files[0].path",
            "relative path",
        ),
        (
            _bad(runtime_profile={"files": [{"path": "a\\b"}]}),
            "$.runtime_profile.files[0].path",
            "relative path",
        ),
        (
            _bad(runtime_profile={"files": [{"path": "a/./b"}]}),
            "$.runtime_profile.files[0].path",
            "relative path",
        ),
        (
            _bad(runtime_profile={"files": [{"path": "a\x00b"}]}),
            "$.runtime_profile.files[0].path",
            "relative path",
        ),
        (
            _bad(runtime_profile={"files": [{"path": "x" * 1025}]}),
            "$.runtime_profile.files[0].path",
            "relative path",
        ),
        (
            _bad(runtime_profile={"files": [{"path": "a.txt"}, {"path": "a.txt"}]}),
            "$.runtime_profile.files[1].path",
            "is also files[0]",
        ),
        (
            _bad(runtime_profile={"files": [{"path": "x"}, {"path": "x/y"}]}),
            "$.runtime_profile.files[1].path",
            "needs 'x' to be a directory",
        ),
        (
            _bad(interfaces={"fastapi_endpoints": [{"method": "GET"}]}),
            "$.interfaces.fastapi_endpoints[0]",
            "missing required field `label`",
        ),
        (
            _bad(agent={"agents": [{"id": "a"}], "default_agent_id": "b"}),
            "$.agent.default_agent_id",
            "names no agent",
        ),
        (
            _bad(
                agent={
                    "agents": [
                        {
                            "id": "a",
                            "schedules": [
                                {
                                    "id": "s",
                                    "kind": "every",
                                    "every_seconds": 60,
                                    "run": {"type": "agent", "agent_id": "a"},
                                },
                                {
                                    "id": "s",
                                    "kind": "every",
                                    "every_seconds": 90,
                                    "run": {"type": "agent", "agent_id": "a"},
                                },
                            ],
                        }
                    ]
                }
            ),
            "$.agent.agents[0].schedules[1].id",
            "duplicate schedule id 's'",
        ),
    ],
)
def test_hostile_manifests_name_the_json_path(manifest: dict[str, Any], path: str, fragment: str) -> None:
    with pytest.raises(ManifestError) as info:
        validate_manifest(manifest)
    paths = dict(info.value.errors)
    assert path in paths, info.value.errors
    assert fragment in paths[path]
    assert f"at `{path}`" in str(info.value)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b'{"name": "\xff"}', "not UTF-8"),
        (b"[1, 2]", "expected a JSON object, got array"),
        ("null", "got null"),
        ("", "not valid JSON"),
        ('{"name": NaN}', "not valid JSON"),
        ("[" * 100_000, "nested too deeply"),
        ('{"name": "x", "interfaces": {"k": ' + "[" * 20_000 + "]" * 20_000 + "}}", "nested too deeply"),
    ],
)
def test_not_a_manifest(payload: str | bytes, fragment: str) -> None:
    with pytest.raises(ManifestError, match=fragment):
        validate_manifest(payload)


def test_every_problem_is_reported_at_once() -> None:
    manifest = _bad(name=" ", workflows=[{"id": "w", "agent_id": "ghost"}, {"id": "r", "mode": "run"}])
    with pytest.raises(ManifestError) as info:
        validate_manifest(manifest, require_slug=True)
    assert [p for p, _ in info.value.errors] == [
        "$.name",
        "$.workflows[0].agent_id",
        "$.workflows[1].run.command",
    ]


def test_require_slug() -> None:
    manifest = _worked_example()
    del manifest["slug"]
    assert validate_manifest(manifest).raw.get("slug") is None
    with pytest.raises(ManifestError, match=r"at `\$\.slug`"):
        validate_manifest(manifest, require_slug=True)


def test_a_non_json_value_in_a_dict_is_reported() -> None:
    with pytest.raises(ManifestError, match="not JSON-serialisable"):
        validate_manifest({"name": "x", "runtime_profile": {"__secret_definitions": [object()]}})


def test_big_integers_survive_in_raw() -> None:
    doc = validate_manifest(b'{"name": "x", "interfaces": {"n": 123456789012345678901234567890}}')
    assert doc.raw["interfaces"]["n"] == 123456789012345678901234567890


def test_deep_nesting_in_free_form_json_is_kept_in_raw() -> None:
    nested: Any = {"leaf": 1}
    for _ in range(200):
        nested = {"n": nested}
    doc = validate_manifest(_bad(interfaces={"custom": nested}))
    assert doc.raw["interfaces"]["custom"] == nested


def test_manifest_struct_rejects_nothing_a_newer_sdk_adds() -> None:
    newer = _bad(future_block={"x": 1})
    newer["agent"]["agents"][0]["future_key"] = [1, 2]
    doc = validate_manifest(newer)
    assert doc.raw["future_block"] == {"x": 1}
    assert doc.raw["agent"]["agents"][0]["future_key"] == [1, 2]
    assert isinstance(doc.manifest, Manifest)


@pytest.mark.parametrize(
    ("manifest", "path", "fragment"),
    [
        (
            _bad(interfaces={"fastapi_endpoints": [{"label": "x", "method": "FETCH"}]}),
            "$.interfaces.fastapi_endpoints[0].method",
            "must be one of: GET",
        ),
        (
            _bad(interfaces={"fastapi_endpoints": [{"label": "x"}, {"label": "x"}]}),
            "$.interfaces.fastapi_endpoints[1].label",
            "duplicate endpoint label 'x'",
        ),
        (
            _bad(
                agent={"agents": [{"id": "a", "fastapi_endpoint": {"label": "a", "auth": {"mode": "oauth"}}}]}
            ),
            "$.agent.agents[0].fastapi_endpoint.auth.mode",
            "must be one of: none, header, bearer, hmac",
        ),
        (
            _bad(agent={"agents": [{"id": "a", "fastapi_endpoint": {"label": " "}}]}),
            "$.agent.agents[0].fastapi_endpoint.label",
            "non-empty",
        ),
    ],
)
def test_endpoints_are_checked(manifest: dict[str, Any], path: str, fragment: str) -> None:
    with pytest.raises(ManifestError) as info:
        validate_manifest(manifest)
    paths = dict(info.value.errors)
    assert path in paths, info.value.errors
    assert fragment in paths[path]


def test_references_in_a_profile_only_manifest_name_profiles() -> None:
    manifest = json.loads((HERE / "data" / "legacy_g0_app.manifest.json").read_bytes())
    validate_manifest(manifest)
    manifest["workflows"][0]["agent_id"] = "nobody"
    with pytest.raises(
        ManifestError, match=r"at `\$\.workflows\[0\]\.agent_id`: names no agent; agents are coordinator"
    ):
        validate_manifest(manifest)
