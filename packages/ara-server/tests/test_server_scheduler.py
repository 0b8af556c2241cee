"""The scheduler on a real SQLite store with injected clocks: cron in time zones and DST, one-shot,
every-N-seconds, tool pipelines, inactive apps, and no double firing across two nodes."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from ara_server import Settings
from ara_server.services.execution import Execution
from ara_server.services.logbus import LogBus
from ara_server.services.scheduler import Scheduler, due_firings
from ara_server.store import Store, accounts, apps
from ara_server.store import runs as runs_store

TOOL = {
    "type": "function",
    "function": {
        "name": "stamp",
        "description": "",
        "parameters": {
            "type": "object",
            "properties": {"label": {"type": "string"}, "n": {"type": "integer"}},
            "required": ["label"],
        },
    },
    "function_name": "stamp",
    "source": "def stamp(label: str, n: int = 1) -> dict:\n    return {'label': label, 'n': n * 2}\n",
}

MANIFEST = {
    "name": "sched",
    "slug": "sched",
    "agent": {
        "agents": [
            {
                "id": "briefer",
                "task": "Brief.",
                "instructions": "Brief.",
                "schedules": [
                    {
                        "id": "pulse",
                        "kind": "every",
                        "every_seconds": 300,
                        "run": {"type": "tool", "tool_name": "stamp", "args": {"label": "pulse"}},
                    }
                ],
            }
        ],
        "default_agent_id": "briefer",
        "tools": [TOOL],
    },
    "workflows": [
        {
            "id": "briefer",
            "mode": "task",
            "agent_id": "briefer",
            "task": "Brief.",
            "trigger": {"type": "api"},
        },
        {
            "id": "briefer--morning",
            "mode": "task",
            "agent_id": "briefer",
            "task": "Brief.",
            "schedule": "0 9 * * *",
            "trigger": {
                "type": "cron",
                "cron": "0 9 * * *",
                "schedule": "0 9 * * *",
                "timezone": "Europe/London",
            },
        },
        {
            "id": "briefer--stamp",
            "mode": "pipeline",
            "agent_id": "briefer",
            "task": "Run scheduled tool stamp",
            "pipeline": [
                {
                    "id": "briefer--stamp--tool",
                    "kind": "tool",
                    "tool_name": "stamp",
                    "args": {"label": "x", "n": "21"},
                }
            ],
            "schedule": "30 7 * * *",
            "trigger": {"type": "cron", "cron": "30 7 * * *", "schedule": "30 7 * * *", "timezone": "UTC"},
        },
        {
            "id": "launch",
            "mode": "task",
            "agent_id": "briefer",
            "task": "Launch.",
            "schedule": "4 3 2 1 *",
            "trigger": {
                "type": "cron",
                "cron": "4 3 2 1 *",
                "schedule": "4 3 2 1 *",
                "timezone": "UTC",
                "one_shot_at": "2030-01-02T03:04:00Z",
            },
        },
    ],
}


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_due_firings_respect_zones_dst_and_one_shots():
    app = {"manifest": MANIFEST}
    winter = due_firings(app, at(2026, 1, 5, 8, 59), at(2026, 1, 5, 9, 0, 30))
    assert [(f.key, f.fire_time) for f in winter] == [
        ("workflow:briefer--morning", at(2026, 1, 5, 9, 0)),
        ("every:briefer:pulse", at(2026, 1, 5, 9, 0)),
    ]
    summer = due_firings(app, at(2026, 6, 1, 7, 59), at(2026, 6, 1, 8, 0, 30))  # 09:00 BST is 08:00 UTC
    assert [f.key for f in summer] == ["workflow:briefer--morning", "every:briefer:pulse"]
    assert summer[0].run == {
        "workflow_id": "briefer--morning",
        "kind": "agent",
        "agent_id": "briefer",
        "input": {
            "task": "Brief.",
            "scheduled": True,
            "schedule_key": "workflow:briefer--morning",
            "fire_time": "2026-06-01T08:00:00+00:00",
        },
    }
    assert [f.key for f in due_firings(app, at(2030, 1, 2, 3, 3), at(2030, 1, 2, 3, 4, 30))] == [
        "workflow:launch"
    ]
    assert due_firings(app, at(2031, 1, 2, 3, 3), at(2031, 1, 2, 3, 4, 30)) == []  # one shot: never again
    pulse = due_firings(app, at(2026, 1, 5, 10, 4, 59), at(2026, 1, 5, 10, 5, 0))
    assert [(f.key, f.fire_time) for f in pulse] == [("every:briefer:pulse", at(2026, 1, 5, 10, 5))]
    # A long outage fires each schedule once, at its latest due time.
    missed = {f.key: f.fire_time for f in due_firings(app, at(2026, 1, 1), at(2026, 1, 5, 9, 1))}
    assert missed["workflow:briefer--morning"] == at(2026, 1, 5, 9, 0)


@pytest.fixture
async def store(tmp_path: Path):
    s = Store(Settings(data_dir=tmp_path))
    await s.open()
    key = await s.run(accounts.ensure_owner, "owner@localhost", None)
    assert key is not None
    owner = await s.run(accounts.account_for_api_key, key)
    assert owner is not None
    app = await apps.create_app(s, owner["id"], "sched", MANIFEST)
    yield s, app
    await s.close()


async def test_two_nodes_fire_each_schedule_once_and_the_pipeline_runs(store, tmp_path):
    s, app = store
    node_a, node_b = Scheduler(s, catch_up_seconds=60), Scheduler(s, catch_up_seconds=60)
    assert await node_a.tick(at(2026, 1, 5, 7, 30, 10)) == []  # inactive apps do not fire
    await s.run(apps.update_app, app["id"], status="active")
    node_a, node_b = Scheduler(s, catch_up_seconds=60), Scheduler(s, catch_up_seconds=60)
    first = await node_a.tick(at(2026, 1, 5, 7, 30, 10))
    second = await node_b.tick(at(2026, 1, 5, 7, 30, 20))
    assert len(first) == 2 and second == []  # the 07:30 pipeline and the 5-minute pulse, fired by one node
    assert await node_a.tick(at(2026, 1, 5, 7, 30, 40)) == []
    runs = {r["workflow_id"]: r for r in [await s.run(runs_store.get_run, app["id"], rid) for rid in first]}
    run = runs["briefer--stamp"]
    assert (run["kind"], run["status"]) == ("pipeline", "queued")
    assert (runs["pulse"]["kind"], runs["pulse"]["input"]["tool_name"]) == ("tool", "stamp")

    execution = Execution(Settings(data_dir=tmp_path), s, LogBus(s))
    done = await execution.outcome(await s.run(apps.get_app, app["id"]), run)
    assert done.status == "completed", done.error
    assert done.result["tool_calls"] == [
        {
            "name": "stamp",
            "arguments": {"label": "x", "n": 21},
            "result": {"label": "x", "n": 42},
            "error": None,
        }
    ]
    pulse = await execution.outcome(await s.run(apps.get_app, app["id"]), runs["pulse"])
    assert pulse.status == "completed" and pulse.result["tool_calls"][0]["result"] == {
        "label": "pulse",
        "n": 2,
    }
    # node_b's next window spans a day: each schedule due in it fires once, at its latest time.
    later = [
        await s.run(runs_store.get_run, app["id"], rid)
        for rid in await node_b.tick(at(2026, 1, 6, 7, 30, 20))
    ]
    assert sorted(r["workflow_id"] for r in later) == ["briefer--morning", "briefer--stamp", "pulse"]
