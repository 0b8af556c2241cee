"""`Store.write`: transaction functions committed together (the group-commit writer on SQLite,
`run_sync` on PostgreSQL); one function's error rolls back only its own writes; an event, its log
line and its runs are written as one unit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from ara_server.store import Store, events, new_id, now
from ara_server.store import schema as t
from sqlalchemy.exc import IntegrityError, OperationalError


async def _app(store: Store) -> str:
    async with store.begin() as conn:
        account = new_id("acct")
        await conn.execute(
            sa.insert(t.accounts).values(
                id=account, email=f"{account}@example.com", is_owner=True, created_at=now()
            )
        )
        app_id = new_id("app")
        await conn.execute(
            sa.insert(t.apps).values(
                id=app_id,
                owner_id=account,
                slug=app_id.replace("_", "-"),
                name="w",
                status="active",
                manifest={"name": "w"},
                created_at=now(),
                updated_at=now(),
            )
        )
    return app_id


def _add_log(conn: sa.Connection, app_id: str, message: str) -> str:
    conn.execute(
        sa.insert(t.logs).values(
            app_id=app_id, run_id=None, level="info", event_type="t", message=message, created_at=now()
        )
    )
    if message.startswith("fail"):
        raise ValueError(message)
    return message


async def _messages(store: Store, app_id: str) -> list[str]:
    async with store.connect() as conn:
        rows = await conn.execute(sa.select(t.logs.c.message).where(t.logs.c.app_id == app_id))
        return sorted(r[0] for r in rows)


async def test_many_writers_all_committed_and_errors_stay_with_their_caller(store: Store) -> None:
    app_id = await _app(store)
    names = [f"ok-{i}" for i in range(60)] + [f"fail-{i}" for i in range(5)]
    results = await asyncio.gather(*(store.write(_add_log, app_id, n) for n in names), return_exceptions=True)
    for name, result in zip(names, results, strict=True):
        if name.startswith("fail"):
            assert isinstance(result, ValueError) and str(result) == name
        else:
            assert result == name
    assert await _messages(store, app_id) == sorted(n for n in names if n.startswith("ok"))


def _event(
    app_id: str, run_id: str | None = None
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    event_id = new_id("evt")
    body = {"event_type": "w.test", "message": "hello"}
    response = {"ok": True, "event_id": event_id, "runs": [run_id] if run_id else []}
    runs = []
    if run_id:
        runs.append(
            {
                "run_id": run_id,
                "app_id": app_id,
                "agent_id": "",
                "workflow_id": "wf",
                "kind": "command",
                "mode": "async",
                "status": "queued",
                "input": {},
                "idempotency_key": f"{event_id}:wf",
            }
        )
    return body, response, runs


async def test_event_log_line_and_runs_are_one_unit(store: Store) -> None:
    app_id = await _app(store)
    body, response, runs = _event(app_id, new_id("run"))
    stored, outcome = await events.record_event(
        store, app_id, None, body, response, runs, log_message=events.event_log_message(body)
    )
    assert (stored, outcome) == (response, "new")
    assert await _messages(store, app_id) == ["w.test: hello"]
    async with store.connect() as conn:
        row = (await conn.execute(sa.select(t.events).where(t.events.c.id == response["event_id"]))).one()
        assert row.body == body and row.response == response
        assert (
            await conn.execute(sa.select(t.runs.c.run_id).where(t.runs.c.app_id == app_id))
        ).scalar() == runs[0]["run_id"]
    # a run id that is taken: neither the event, its log line nor its run is kept
    body2, response2, runs2 = _event(app_id, runs[0]["run_id"])
    with pytest.raises(IntegrityError):
        await events.record_event(store, app_id, None, body2, response2, runs2, log_message="second: x")
    assert await _messages(store, app_id) == ["w.test: hello"]
    async with store.connect() as conn:
        assert (
            await conn.execute(sa.select(t.events).where(t.events.c.id == response2["event_id"]))
        ).first() is None


async def test_idempotency_key_replay_and_conflict_in_one_batch(store: Store) -> None:
    app_id = await _app(store)
    body, response, _ = _event(app_id)
    other = {**body, "message": "other"}
    calls = [
        (body, response, "a"),
        (body, {**response, "event_id": new_id("evt")}, "b"),
        (other, {**response, "event_id": new_id("evt")}, "c"),
    ]
    results = await asyncio.gather(
        *(events.record_event(store, app_id, "k1", b, r, log_message=m) for b, r, m in calls)
    )
    outcomes = [outcome for _, outcome in results]
    # Exactly one write wins the key. The SQLite writer commits a batch in submission order; on
    # PostgreSQL the three transactions race, so any of them may win. Every other write answers
    # relative to the winner: replay for the same body, conflict for another, with its response.
    assert outcomes.count("new") == 1
    won_body, won_response, won_message = calls[outcomes.index("new")]
    assert store.engine is not None
    if store.engine.dialect.name == "sqlite":
        assert outcomes == ["new", "replay", "conflict"]
    assert outcomes == [
        "new" if b is won_body and r is won_response else "replay" if b == won_body else "conflict"
        for b, r, _ in calls
    ]
    assert all(stored == won_response for stored, _ in results)
    assert await _messages(store, app_id) == [won_message]


async def test_a_writer_that_cannot_open_its_database_answers_every_caller(tmp_path: Any) -> None:
    from ara_server.store.writer import GroupWriter, WriterClosedError, sqlite_writer_engine

    engine = sqlite_writer_engine(
        f"sqlite+aiosqlite:///{tmp_path}/missing/dir/ara.db", busy_timeout_ms=100, pragmas=lambda _c: None
    )
    writer = GroupWriter(engine)
    waiting = asyncio.ensure_future(writer.submit(lambda conn: 1))
    await asyncio.sleep(0)  # queued before the thread starts
    writer.start()
    with pytest.raises(OperationalError):
        await asyncio.wait_for(waiting, 30)
    with pytest.raises(WriterClosedError):
        await writer.submit(lambda conn: 1)
    writer.close()


async def test_a_batch_of_events_is_written_together_and_a_refused_one_fails_alone(store: Store) -> None:
    app_id = await _app(store)
    calls = [(app_id, *_event(app_id)[:2]) for _ in range(300)]
    # an event of an app that does not exist: its row breaks the batch's multi-row INSERT (foreign
    # key), the batch is written again row by row, and only that caller gets the error
    calls.insert(150, ("app_missing", *_event("app_missing")[:2]))
    calls[0][1]["payload"] = {"text": 'é \U0001f600 "q"', "n": [1, 2.5, None, True, 10**20]}
    results = await asyncio.gather(
        *(
            events.record_event(store, a, None, body, response, log_message=events.event_log_message(body))
            for a, body, response in calls
        ),
        return_exceptions=True,
    )
    assert isinstance(results[150], IntegrityError)
    assert [r for i, r in enumerate(results) if i != 150] == [
        (response, "new") for i, (_, _, response) in enumerate(calls) if i != 150
    ]
    async with store.connect() as conn:
        ids = {r[0] for r in await conn.execute(sa.select(t.events.c.id).where(t.events.c.app_id == app_id))}
        assert ids == {response["event_id"] for a, _, response in calls if a == app_id}
        stored = (
            await conn.execute(sa.select(t.events).where(t.events.c.id == calls[0][2]["event_id"]))
        ).one()
        assert (stored.body, stored.response) == (calls[0][1], calls[0][2])
        assert stored.created_at is not None
        if conn.dialect.name == "sqlite":  # the stored text is the one a Core insert writes
            raw = (await conn.execute(sa.text("SELECT created_at FROM events LIMIT 1"))).scalar()
            assert isinstance(raw, str) and len(raw) == len("2026-01-01 00:00:00.000000") and "+" not in raw
    assert await _messages(store, app_id) == ["w.test: hello"] * 300


def test_bulk_rows_insert_every_row_in_few_distinct_statements() -> None:
    import sqlite3

    from ara_server.store.writer import BulkRows

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE r (n INTEGER, k TEXT)")
    bulk = BulkRows()
    for n in range(300):  # 128 + 128 + 32 + 8 + 4
        bulk.add("INSERT INTO r (n, k)", "(?, 'x')", (n,))
    cursor = db.cursor()
    statements: list[str] = []
    db.set_trace_callback(lambda sql: statements.append(sql) if sql.startswith("INSERT") else None)
    bulk.flush(cursor)
    assert sorted(r[0] for r in db.execute("SELECT n FROM r WHERE k = 'x'")) == list(range(300))
    assert [s.count("(") for s in statements] == [129, 129, 33, 9, 5]  # the column list + one per row
    bulk.flush(cursor)  # flushed rows are not written twice
    assert db.execute("SELECT count(*) FROM r").fetchone() == (300,)
