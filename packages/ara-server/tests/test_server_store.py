"""The store on real databases: SQLite always, PostgreSQL when ARA_TEST_POSTGRES_URL is set
(`.ci/run` starts one). Migrations, key hashing, idempotent runs and events, queue claims."""

from __future__ import annotations

import sqlalchemy as sa
from ara_server.store import accounts, apps, events, keys, runs, secrets


async def test_migrations_create_every_table(store):
    async with store.engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    assert {
        "accounts",
        "api_keys",
        "apps",
        "app_members",
        "invites",
        "app_keys",
        "secrets",
        "runs",
        "events",
        "logs",
        "alembic_version",
    } <= names


async def test_owner_key_is_stored_only_as_a_hash(store):
    key = await store.run(accounts.ensure_owner, "owner@localhost", None)
    assert key and key.startswith("ara_sk_")
    assert await store.run(accounts.ensure_owner, "owner@localhost", None) is None  # shown once
    account = await store.run(accounts.account_for_api_key, key)
    assert account and account["is_owner"]
    async with store.engine.connect() as conn:
        dump = str((await conn.execute(sa.text("select * from api_keys"))).all())
    assert key not in dump


async def test_apps_keys_secrets_runs_events(store):
    key = await store.run(accounts.ensure_owner, "owner@localhost", None)
    owner = await store.run(accounts.account_for_api_key, key)
    app = await apps.create_app(store, owner["id"], "demo-app", {"name": "demo-app"})
    assert app is not None
    assert await apps.create_app(store, owner["id"], "demo-app", {"name": "x"}) is None  # slug taken

    runtime, _ = await store.run(keys.create_app_key, app["id"], "runtime", "k", 60)
    assert await store.run(keys.app_key, app["id"], runtime.key, ("runtime",))
    assert not await store.run(keys.app_key, app["id"], runtime.key, ("app_header",))

    await store.run(secrets.put_secret, store.box, app["id"], "mail", {"SMTP_PASSWORD": "hunter2"})
    assert await store.run(secrets.secret_env, store.box, app["id"]) == {"SMTP_PASSWORD": "hunter2"}
    async with store.engine.connect() as conn:
        assert "hunter2" not in str((await conn.execute(sa.text("select * from secrets"))).all())
    assert [s["name"] for s in await store.run(secrets.list_secrets, app["id"])] == ["mail"]

    row, created = await runs.insert_run(
        store,
        {
            "run_id": "r1",
            "app_id": app["id"],
            "agent_id": "a",
            "mode": "async",
            "status": "queued",
            "input": {},
            "idempotency_key": "k1",
        },
    )
    assert created
    again, created = await runs.insert_run(
        store,
        {
            "run_id": "r2",
            "app_id": app["id"],
            "agent_id": "a",
            "mode": "async",
            "status": "queued",
            "input": {},
            "idempotency_key": "k1",
        },
    )
    assert not created and again["run_id"] == "r1"
    claimed = await store.run(runs.claim_run, "node-a", 30.0)
    assert claimed and (claimed["run_id"], claimed["attempt"], claimed["lease_owner"]) == ("r1", 1, "node-a")
    assert await store.run(runs.claim_run, "node-b", 30.0) is None

    first, outcome = await events.record_event(
        store, app["id"], "e1", {"a": 1}, {"event_id": "evt_1", "ok": True}
    )
    assert outcome == "new"
    same, outcome = await events.record_event(
        store, app["id"], "e1", {"a": 1}, {"event_id": "evt_2", "ok": True}
    )
    assert outcome == "replay" and same == first
    _, outcome = await events.record_event(
        store, app["id"], "e1", {"a": 2}, {"event_id": "evt_3", "ok": True}
    )
    assert outcome == "conflict"


def test_rate_limiter_sliding_window():
    from ara_server.services.ratelimit import RateLimiter

    now = [100.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert [limiter.check("k", 2) for _ in range(2)] == [None, None]
    assert limiter.check("k", 2) == 60.0
    now[0] += 30
    assert limiter.check("k", 2) == 30.0
    assert limiter.check("other", 2) is None
    now[0] += 30.5
    assert limiter.check("k", 2) is None
