"""The helpers of spec §2, output JSON and error messages."""

import json
import os

import pytest
from ara_core import (
    DeclarationError,
    Secret,
    SecretDefinition,
    command_adapter,
    cron,
    entrypoint,
    event_envelope,
    file,
    git_artifact,
    invoke,
    langgraph_adapter,
    local_file,
    runtime,
    sandbox,
    schedule,
    scheduler,
    subagent_hook,
    tarball_artifact,
)


def test_runtime_example_from_the_spec():
    profile = runtime(image="python:3.12-slim", env={"MODE": 3}, secrets=["shared"])
    defs = profile.pop("__secret_definitions")
    assert profile == {"image": "python:3.12-slim", "env": {"MODE": "3"}, "secret_refs": [{"name": "shared"}]}
    assert isinstance(defs[0], SecretDefinition) and defs[0].values is None
    assert runtime(env={}) == {"env": {}}
    assert runtime(secrets=[]) == {"secret_refs": []}
    assert runtime(python_packages=[" a ", ""], memory_mb="512") == {  # pyright: ignore[reportArgumentType]
        "memory_mb": 512,
        "python_packages": ["a"],
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"": "x"}, "Environment key cannot be empty"),
        ({"1BAD": "x"}, "Invalid environment key: 1BAD"),
        ({"ARA_X": "x"}, "Reserved environment key is not allowed: ARA_X"),
        ({"APP_ID": "x"}, "Reserved environment key"),
    ],
)
def test_env_key_errors(env, message):
    with pytest.raises(DeclarationError) as info:
        runtime(env=env)
    assert str(info.value).startswith(message)


def test_secrets():
    assert Secret.from_name("ab").ref() == {"name": "ab"}
    with pytest.raises(DeclarationError, match=r"^Secret name must match \[a-z0-9\]"):
        Secret.from_name("a")
    a = Secret.from_dict({"B": 1, "A": None})
    b = Secret.from_dict({"A": "other", "B": "values"})
    assert a.name == b.name and a.name.startswith("sdk-dict-") and len(a.name) == len("sdk-dict-") + 12
    assert a.values == {"B": "1", "A": ""}
    assert Secret.from_dict("mail", {"K": "v"}).name == "mail"
    assert Secret.from_dict({"K": "v"}, name="mail").name == "mail"
    with pytest.raises(DeclarationError, match="^from_dict requires a non-empty env_dict"):
        Secret.from_dict({})
    with pytest.raises(DeclarationError, match="^from_dict requires either"):
        Secret.from_dict("mail")
    with pytest.raises(DeclarationError, match="^from_dict positional name conflicts"):
        Secret.from_dict("mail", {"K": "v"}, name="other")
    with pytest.raises(DeclarationError, match="does not accept a second env_dict"):
        Secret.from_dict({"K": "v"}, {"L": "w"})


def test_dotenv_and_local_environ(tmp_path, monkeypatch):
    env = tmp_path / "prod.env"
    env.write_text("# c\nA = 'quoted'\nB=\"x\"\nnoequals\nC='mismatch\"\n=skip\n")
    definition = Secret.from_dotenv(str(env))
    assert definition.values == {"A": "quoted", "B": "x", "C": "'mismatch\""}
    assert definition.source == "dotenv"
    with pytest.raises(DeclarationError, match="^Secret dotenv file not found"):
        Secret.from_dotenv("named", str(tmp_path / "nope.env"))
    (tmp_path / "empty.env").write_text("# nothing\n")
    with pytest.raises(DeclarationError, match="^Secret dotenv file has no key=value entries"):
        Secret.from_dotenv(filename=str(tmp_path / "empty.env"))
    monkeypatch.setenv("HAS", "1")
    monkeypatch.delenv("MISSING_ONE", raising=False)
    assert Secret.from_local_environ("svc", ["HAS"]).values == {"HAS": "1"}
    with pytest.raises(DeclarationError, match="^Missing environment variables for secret svc: MISSING_ONE"):
        Secret.from_local_environ("svc", ["HAS", "MISSING_ONE"])


def test_secret_dedup_and_rename():
    profile = runtime(
        secrets=[
            Secret.from_name("provider-shared", required_keys=["K"]),
            Secret.from_dict("provider-shared", {"K": "v"}),
            Secret.from_dict("dup", {"K": "1"}),
            Secret.from_dict("dup", {"K": "1"}),
            Secret.from_dict("dup", {"K": "2"}),
            {"name": "ref", "required_keys": ["X"]},
        ]
    )
    assert profile["secret_refs"] == [
        {"name": "provider-shared", "required_keys": ["K"]},
        {"name": "dup"},
        {"name": "dup-2"},
        {"name": "ref", "required_keys": ["X"]},
    ]
    with pytest.raises(DeclarationError, match=r"^runtime\(secrets=...\) items must be"):
        runtime(secrets=[3])
    with pytest.raises(DeclarationError, match=r"^runtime\(secrets=...\) expects a list"):
        runtime(secrets="x")  # pyright: ignore[reportArgumentType]


def test_sandbox():
    assert sandbox() == {"policy": "shared", "max_concurrency": 8}
    assert sandbox(policy="Dedicated", key="k", max_concurrency=0, idle_ttl_minutes=0) == {
        "policy": "dedicated",
        "key": "k",
        "max_concurrency": 8,
        "idle_ttl_minutes": 1,
    }
    assert sandbox(spawn_to=["a", " "], child_policy="ephemeral", child_runtime=runtime(memory_mb=1))[
        "spawn"
    ] == {
        "allow": True,
        "to": ["a"],
        "max_depth": 1,
        "max_children_per_parent": 6,
        "max_total_child_sessions_per_run": 24,
        "ephemeral_ttl_minutes": 10,
        "child_policy": "ephemeral",
        "child_runtime": {"memory_mb": 1},
    }
    assert "spawn" not in sandbox(spawn_to=["a"], allow_spawn=False)
    with pytest.raises(
        DeclarationError,
        match=r"^sandbox\(policy=...\) must be one of: dedicated, ephemeral, inherited, shared",
    ):
        sandbox(policy="per_run")
    with pytest.raises(DeclarationError, match=r"^sandbox\(max_spawn_depth=...\) exceeds hard limit 5"):
        sandbox(allow_spawn=True, max_spawn_depth=6)
    with pytest.raises(DeclarationError, match=r"expects a list\[str\]"):
        sandbox(spawn_to="a")  # pyright: ignore[reportArgumentType]


def test_files_and_entrypoint(tmp_path):
    assert file(" a.txt ", None) == {"path": "a.txt", "content": "", "executable": False}
    src = tmp_path / "run.sh"
    src.write_text("echo hi\n")
    assert local_file(src) == {"path": "run.sh", "content": "echo hi\n", "executable": True}
    with pytest.raises(DeclarationError, match="^local_file\\(\\) source not found"):
        local_file(tmp_path / "none")
    with pytest.raises(DeclarationError, match="^file\\(\\) requires a non-empty path"):
        file("", "x")
    assert entrypoint("python main.py", args=["--x", ""]) == {
        "entrypoint": "python main.py",
        "shell": "bash",
        "args": ["--x"],
    }
    with pytest.raises(DeclarationError, match="^entrypoint\\(\\) requires a non-empty command"):
        entrypoint(" ")


def test_adapters_and_artifacts():
    art = git_artifact("https://example.com/r.git")
    assert art == {"type": "git", "repo_url": "https://example.com/r.git", "ref": "main", "subdir": ""}
    assert tarball_artifact("https://x/t.tgz") == {
        "type": "tarball",
        "url": "https://x/t.tgz",
        "strip_prefix": "",
    }
    assert command_adapter("bin/run", env={" K ": 1}, artifact=art) == {
        "type": "command",
        "framework": "custom",
        "transport": "stdio",
        "entrypoint": "bin/run",
        "args": [],
        "artifact": art,
        "env": {"K": "1"},
    }
    assert langgraph_adapter()["env"] == {"AGENT_FRAMEWORK": "langgraph"}
    assert langgraph_adapter()["entrypoint"] == "python3 langgraph_worker.py"


def test_event_envelope():
    env = event_envelope(
        "channel.web.inbound", message="hello", metadata={"run_id": "run-20260410T010203Z-1a2b3c4d"}
    )
    assert env == {
        "event": {
            "type": "channel.web.inbound",
            "source": "api",
            "channel": "api",
            "message": "hello",
            "payload": {},
            "metadata": {
                "run_id": "run-20260410T010203Z-1a2b3c4d",
                "idempotency_key": "channel-web-inbound-run-20260410t010203z-1a2b3c4d",
            },
        }
    }
    with pytest.raises(DeclarationError):
        event_envelope(" ")


def test_invoke_schedule_scheduler():
    assert invoke.agent("a") == {"type": "agent", "agent_id": "a"}
    assert invoke.agent("a", input={"x": 1}) == {"type": "agent", "agent_id": "a", "input": {"x": 1}}
    with pytest.raises(DeclarationError, match=r"must be JSON-serializable"):
        invoke.agent("a", input={"x": object()})
    spec = schedule.cron(expr="0 9 * * 1-5", run=invoke.agent("booker"))
    assert spec == {
        "id": "booker-0-9-1-5",
        "kind": "cron",
        "cron": "0 9 * * 1-5",
        "timezone": "UTC",
        "run": {"type": "agent", "agent_id": "booker"},
    }
    every = schedule.every(seconds=300, run=invoke.tool("sync"))
    assert every["id"] == "sync-every-300s"
    with pytest.raises(DeclarationError, match="minimum interval is 60 seconds"):
        schedule.every(seconds=30, run=invoke.tool("sync"))
    assert scheduler.create(spec, app_id=" app_1 ") == {
        "tool": "automation_create",
        "args": {
            "name": "booker-0-9-1-5",
            "schedule_kind": "cron",
            "schedule_expr": "0 9 * * 1-5",
            "timezone": "UTC",
            "execution_kind": "app_agent_call",
            "agent_id": "booker",
            "app_id": "app_1",
        },
    }
    assert scheduler.upsert(every)["args"] == {
        "name": "sync-every-300s",
        "schedule_kind": "every",
        "every_seconds": 300,
        "execution_kind": "app_tool_call",
        "tool_name": "sync",
        "upsert": True,
    }
    with pytest.raises(DeclarationError, match="schedule run type must be 'agent' or 'tool'"):
        schedule.cron(expr="0 9 * * *", run={"type": "shell"})
    with pytest.raises(DeclarationError, match=r"invoke.agent\(...\) requires non-empty agent id"):
        schedule.cron(expr="0 9 * * *", run={"type": "agent", "agent": "legacy"})


def test_cron_and_hooks():
    assert cron("0 9 * * 1-5", timezone="Europe/Paris") == {
        "type": "cron",
        "cron": "0 9 * * 1-5",
        "schedule": "0 9 * * 1-5",
        "timezone": "Europe/Paris",
    }
    with pytest.raises(DeclarationError, match=r"^cron\(\) requires a non-empty expression"):
        cron("")
    assert subagent_hook(event="mail.received", command="echo hi") == {
        "id": "mail-received-hook",
        "event": "mail.received",
        "channel": "api",
        "command": "echo hi",
    }
    with pytest.raises(DeclarationError):
        subagent_hook(event="x", task="a", command="b")
    json.dumps(cron("* * * * *"))
    assert os.sep
