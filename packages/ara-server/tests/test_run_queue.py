# pyright: reportOptionalSubscript=false, reportOptionalMemberAccess=false
"""The run queue in the store (SQLite and PostgreSQL): claims, leases, fencing, retries, concurrency
limits, cancellation and runs whose node died — with explicit clocks, no sleeping."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from ara_server.services.policy import backoff_seconds, execution_policy, policy_columns
from ara_server.store import Store, accounts, apps, now
from ara_server.store import runs as q

T0 = datetime(2030, 1, 1, 12, 0, 0).astimezone()


async def _app(store: Store) -> str:
    key = await store.run(accounts.ensure_owner, "owner@localhost", None)
    assert key is not None
    owner = await store.run(accounts.account_for_api_key, key)
    app = await apps.create_app(store, owner["id"], "queue-app", {"name": "queue-app"})
    assert app is not None
    return str(app["id"])


async def _queue(store: Store, app_id: str, run_id: str, *, at: datetime = T0, **extra: Any) -> None:
    await q.insert_run(
        store,
        {
            "run_id": run_id,
            "app_id": app_id,
            "agent_id": "a",
            "mode": "async",
            "status": "queued",
            "input": {},
            "created_at": at,
            **extra,
        },
    )


async def test_claims_are_oldest_first_and_wait_for_not_before(store: Store):
    app_id = await _app(store)
    await _queue(store, app_id, "later", at=T0 + timedelta(seconds=2))
    await _queue(store, app_id, "first", at=T0)
    await _queue(store, app_id, "future", at=T0 + timedelta(hours=1))
    at = T0 + timedelta(seconds=10)
    first = await store.run(q.claim_run, "n1", 30.0, at=at)
    second = await store.run(q.claim_run, "n1", 30.0, at=at)
    assert (first["run_id"], second["run_id"]) == ("first", "later")
    assert (first["status"], first["attempt"], first["lease_owner"]) == ("running", 1, "n1")
    assert await store.run(q.claim_run, "n1", 30.0, at=at) is None  # "future" is not due yet


async def test_a_concurrency_key_never_runs_more_than_its_limit(store: Store):
    app_id = await _app(store)
    for n in range(3):
        await _queue(
            store, app_id, f"r{n}", at=T0 + timedelta(seconds=n), concurrency_key="k", max_concurrency=2
        )
    await _queue(store, app_id, "free", at=T0 + timedelta(seconds=5))
    at = T0 + timedelta(seconds=10)
    claimed = [await store.run(q.claim_run, f"n{n}", 30.0, at=at) for n in range(4)]
    assert [c["run_id"] if c else None for c in claimed] == ["r0", "r1", "free", None]
    async with store.begin() as conn:
        assert await q.finish_run(
            conn, "r0", "n0", 1, status="completed", result={}, error=None, trace=[], at=at
        )
    again = await store.run(q.claim_run, "n9", 30.0, at=at)
    assert again is not None and again["run_id"] == "r2"


async def test_concurrent_claims_from_many_connections_respect_the_limit(store: Store):
    app_id = await _app(store)
    for n in range(12):
        await _queue(
            store, app_id, f"c{n}", at=T0 + timedelta(milliseconds=n), concurrency_key="k", max_concurrency=3
        )
    at = T0 + timedelta(seconds=1)
    claims = await asyncio.gather(*(store.run(q.claim_run, f"node{n}", 30.0, at=at) for n in range(12)))
    got = [c["run_id"] for c in claims if c is not None]
    assert len(got) == 3 and len(set(got)) == 3


async def test_an_expired_lease_is_reclaimed_and_the_old_holder_is_fenced_off(store: Store):
    app_id = await _app(store)
    await _queue(store, app_id, "r", max_attempts=1)
    claimed = await store.run(q.claim_run, "dead", 10.0, at=T0)
    assert claimed["attempt"] == 1
    assert await store.run(q.claim_run, "alive", 10.0, at=T0 + timedelta(seconds=5)) is None
    assert await store.run(q.heartbeat, "dead", {"r": 1}, 10.0, at=T0 + timedelta(seconds=5)) == {"r": False}
    # no heartbeat for longer than the lease: another node takes it over, one attempt beyond the limit
    retaken = await store.run(q.claim_run, "alive", 10.0, at=T0 + timedelta(seconds=16))
    assert (retaken["run_id"], retaken["attempt"], retaken["lease_owner"]) == ("r", 2, "alive")
    async with store.begin() as conn:
        stale = await q.finish_run(conn, "r", "dead", 1, status="failed", result=None, error="x", trace=[])
    assert stale is False  # the old holder's outcome is discarded
    assert await store.run(q.heartbeat, "dead", {"r": 1}, 10.0) == {}  # it learns it lost the run
    # it dies again: no attempt left for a lost node, the run fails with a reason
    ended = await store.run(q.end_lost_runs, at=T0 + timedelta(seconds=60))
    assert [(r["run_id"], r["status"]) for r in ended] == [("r", "failed")]
    assert "stopped responding" in ended[0]["error"]
    assert await store.run(q.claim_run, "alive", 10.0, at=T0 + timedelta(seconds=60)) is None


async def test_retry_cancel_and_release(store: Store):
    app_id = await _app(store)
    await _queue(store, app_id, "r", max_attempts=3)
    run = await store.run(q.claim_run, "n", 30.0, at=T0)
    async with store.begin() as conn:
        assert await q.retry_run(
            conn, "r", "n", 1, not_before=T0 + timedelta(seconds=5), error="boom", result=None, trace=[]
        )
    assert await store.run(q.claim_run, "n", 30.0, at=T0 + timedelta(seconds=4)) is None
    run = await store.run(q.claim_run, "n", 30.0, at=T0 + timedelta(seconds=5))
    assert run["attempt"] == 2
    assert await store.run(q.release_run, "r", "n", 2)  # a clean stop hands it back, attempt not counted
    run = await store.run(q.claim_run, "m", 30.0, at=T0 + timedelta(seconds=6))
    assert (run["attempt"], run["lease_owner"]) == (2, "m")
    async with store.begin() as conn:
        flagged = await q.request_cancel(conn, app_id, "r", reason="cancelled by request")
    assert (flagged.state, flagged.owner) == ("requested", "m")
    assert await store.run(q.heartbeat, "m", {"r": 2}, 30.0, at=T0 + timedelta(seconds=7)) == {"r": True}
    # its node dies before stopping it: the run ends cancelled, not reclaimed
    ended = await store.run(q.end_lost_runs, at=T0 + timedelta(minutes=5))
    assert [(r["run_id"], r["status"]) for r in ended] == [("r", "cancelled")]
    await _queue(store, app_id, "waiting")
    async with store.begin() as conn:
        now_cancelled = await q.request_cancel(conn, app_id, "waiting", reason="cancelled by request")
        finished = await q.request_cancel(conn, app_id, "r", reason="cancelled by request")
        missing = await q.request_cancel(conn, app_id, "nope", reason="cancelled by request")
    assert now_cancelled.state == "cancelled" and now_cancelled.row["status"] == "cancelled"
    assert (finished.state, missing.state) == ("finished", "missing")


def test_backoff_is_exponential_with_full_jitter_and_capped():
    import random

    rng = random.Random(7)
    for n in range(1, 12):
        for _ in range(50):
            d = backoff_seconds(n, 5.0, 60.0, rng)
            assert 0.0 <= d <= min(60.0, 5.0 * 2 ** (n - 1))
    assert backoff_seconds(3, 0.0, 60.0) == 0.0
    assert max(backoff_seconds(1, 5.0, 60.0, rng) for _ in range(500)) > 4.0  # the whole range is used


@pytest.mark.parametrize(
    ("agent_id", "workflow_id", "expected"),
    [
        ("booker", "booker", (120.0, 2, 5.0, 3, "app_1:booker")),
        ("", "booker-hook-1", (120.0, 2, 5.0, 3, "app_1:booker")),
        ("plain", "plain", (600.0, 0, 0.0, None, None)),
        ("limited", "limited", (600.0, 1, 0.0, 2, "app_1:limited")),
    ],
)
def test_execution_policy_comes_from_the_subagent_agent_or_workflow(agent_id, workflow_id, expected):
    manifest = {
        "name": "policies",
        "agent": {
            "agents": [
                {"id": "booker"},
                {"id": "plain"},
                {"id": "limited", "runtime": {"max_retries": 1}, "sandbox": {"max_concurrency": 2}},
            ],
            "subagents": [
                {
                    "id": "booker",
                    "workflow_id": "booker",
                    "runtime": {"timeout_seconds": 120, "max_retries": 2, "retry_backoff_seconds": 5},
                    "sandbox": {"policy": "shared", "max_concurrency": 3},
                    "hooks": [{"id": "booker-hook-1", "event": "mail.received", "command": "echo hi"}],
                }
            ],
        },
    }
    p = execution_policy(manifest, "app_1", agent_id, workflow_id, default_timeout_seconds=600.0)
    assert (
        p.timeout_seconds,
        p.max_retries,
        p.retry_backoff_seconds,
        p.max_concurrency,
        p.concurrency_key,
    ) == expected
    cols = policy_columns(manifest, {"app_id": "app_1", "agent_id": agent_id, "workflow_id": workflow_id})
    assert cols == {
        "max_attempts": 1 + expected[1],
        "concurrency_key": expected[4],
        "max_concurrency": expected[3],
    }


def test_now_is_aware():
    assert now().tzinfo is not None


async def test_an_event_and_its_runs_are_stored_together_or_not_at_all(store: Store):
    from ara_server.store import events
    from sqlalchemy.exc import IntegrityError

    app_id = await _app(store)
    run = {
        "run_id": "hook-1",
        "app_id": app_id,
        "agent_id": "",
        "mode": "async",
        "status": "queued",
        "input": {},
    }
    body = {"event_type": "ping"}
    response = {"ok": True, "event_id": "evt_1", "runs": ["hook-1", "hook-1"]}
    with pytest.raises(IntegrityError):  # the second run clashes with the first: nothing is kept
        await events.record_event(store, app_id, "k1", body, response, [run, dict(run)])
    assert await store.run(q.get_run, app_id, "hook-1") is None
    stored, outcome = await events.record_event(
        store, app_id, "k1", body, {**response, "runs": ["hook-1"]}, [run]
    )
    assert outcome == "new" and stored["runs"] == ["hook-1"]
    assert (await store.run(q.get_run, app_id, "hook-1"))["status"] == "queued"
    _, replay = await events.record_event(store, app_id, "k1", body, response, [run])
    assert replay == "replay"


def test_execution_policy_falls_back_to_the_app_wide_execution_settings():
    from ara_core import view_of

    manifest = {
        "name": "policies",
        "runtime_profile": {"execution": {"max_retries": 4, "timeout_seconds": 30}},
        "agent": {"agents": [{"id": "plain"}, {"id": "own", "runtime": {"max_retries": 1}}]},
        "workflows": [{"id": "job", "mode": "run", "run": {"command": "true"}, "trigger": {"type": "api"}}],
    }
    view = view_of(manifest)
    plain = execution_policy(view, "app_1", "plain", "plain", default_timeout_seconds=600.0)
    assert (plain.max_retries, plain.timeout_seconds, plain.max_concurrency) == (4, 30.0, None)
    own = execution_policy(view, "app_1", "own", "own", default_timeout_seconds=600.0)
    assert (own.max_retries, own.timeout_seconds) == (1, 30.0)
    job = execution_policy(manifest, "app_1", "", "job", default_timeout_seconds=600.0)
    assert (job.max_retries, job.timeout_seconds, job.concurrency_key) == (0, 600.0, None)


def _sync_row(app_id: str, run_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "app_id": app_id,
        "agent_id": "a",
        "mode": "sync",
        "status": "queued",
        "input": {},
        **extra,
    }


async def test_a_sync_run_is_stored_already_claimed_by_its_node(store: Store):
    app_id = await _app(store)
    row, claimed = await store.write(q.insert_run_claimed, _sync_row(app_id, "s1"), "n1", 30.0, at=T0)
    assert row["run_id"] == "s1" and claimed is not None
    assert (claimed["status"], claimed["attempt"], claimed["lease_owner"]) == ("running", 1, "n1")
    stored = await store.run(q.get_run, app_id, "s1")
    assert (stored["status"], stored["attempt"], stored["lease_owner"]) == ("running", 1, "n1")
    assert stored["lease_expires_at"] > stored["heartbeat_at"]
    # the one lifecycle: the node that dies leaves it reclaimable once its lease expired
    assert await store.run(q.claim_run, "n2", 30.0, at=T0 + timedelta(seconds=10)) is None
    again = await store.run(q.claim_run, "n2", 30.0, at=T0 + timedelta(seconds=31))
    assert again is not None and (again["run_id"], again["attempt"]) == ("s1", 2)


async def test_a_sync_run_over_its_concurrency_limit_stays_queued(store: Store):
    app_id = await _app(store)
    limit = {"concurrency_key": "k", "max_concurrency": 1}
    _, first = await store.write(q.insert_run_claimed, _sync_row(app_id, "s1", **limit), "n1", 30.0, at=T0)
    row, second = await store.write(q.insert_run_claimed, _sync_row(app_id, "s2", **limit), "n1", 30.0, at=T0)
    assert first is not None and second is None
    assert (await store.run(q.get_run, app_id, "s2"))["status"] == "queued" == row["status"]
    # a stopping node (no claiming node) only stores it
    _, none = await store.write(q.insert_run_claimed, _sync_row(app_id, "s3"), None, 30.0, at=T0)
    assert none is None and (await store.run(q.get_run, app_id, "s3"))["status"] == "queued"


async def test_a_sync_run_id_that_exists_is_refused_and_nothing_is_written(store: Store):
    from sqlalchemy.exc import IntegrityError

    app_id = await _app(store)
    await store.write(q.insert_run_claimed, _sync_row(app_id, "s1"), "n1", 30.0, at=T0)
    with pytest.raises(IntegrityError):
        await store.write(q.insert_run_claimed, _sync_row(app_id, "s1", agent_id="b"), "n2", 30.0, at=T0)
    stored = await store.run(q.get_run, app_id, "s1")
    assert (stored["agent_id"], stored["lease_owner"], stored["attempt"]) == ("a", "n1", 1)
