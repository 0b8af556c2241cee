"""The request path's read cache: used keys are served from memory, and a revoke, rotation, role
change or redeploy committed on this node takes effect on the very next request."""

from __future__ import annotations

import asyncio
from typing import Any

from ara_server.store.readcache import ReadCache


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _event(server: Any, app_id: str, headers: dict[str, str]) -> int:
    resp = await server.client.post(
        f"/v1/apps/{app_id}/events", json={"event_type": "cache.check"}, headers=headers
    )
    return resp.status_code


async def test_revoked_runtime_key_refused_on_next_request(server: Any) -> None:
    app_id = await server.deploy()
    minted = await server.client.post(f"/apps/{app_id}/keys", json={}, headers=server.owner())
    key, key_id = str(minted.json()["key"]), str(minted.json()["id"])
    for _ in range(3):  # cached after the first request
        assert await _event(server, app_id, _bearer(key)) == 202
    revoked = await server.client.delete(f"/apps/{app_id}/keys/{key_id}", headers=server.owner())
    assert revoked.status_code == 200, revoked.text
    assert await _event(server, app_id, _bearer(key)) == 401


async def test_revoked_app_header_key_refused_on_next_request(server: Any) -> None:
    app_id = await server.deploy()
    minted = await server.client.post(f"/apps/{app_id}/x-keys", json={}, headers=server.owner())
    key, key_id = str(minted.json()["key"]), str(minted.json()["id"])
    headers = {"X-Ara-App-Key": key}
    assert await _event(server, app_id, headers) == 202
    assert await _event(server, app_id, headers) == 202
    revoked = await server.client.delete(f"/apps/{app_id}/x-keys/{key_id}", headers=server.owner())
    assert revoked.status_code == 200, revoked.text
    assert await _event(server, app_id, headers) == 401


async def test_rotated_api_key_refused_on_next_request(server: Any) -> None:
    app_id = await server.deploy()
    old = await server.api_key_for("rotor@example.com", app_id, "member")
    assert (await server.client.get("/apps", headers=_bearer(old))).status_code == 200
    assert await _event(server, app_id, _bearer(old)) == 202
    rotated = await server.client.post("/apps/api-key/rotate", headers=_bearer(old))
    assert rotated.status_code == 200, rotated.text
    new = str(rotated.json()["api_key"])
    assert (await server.client.get("/apps", headers=_bearer(old))).status_code == 401
    assert await _event(server, app_id, _bearer(old)) == 401
    assert (await server.client.get("/apps", headers=_bearer(new))).status_code == 200
    assert await _event(server, app_id, _bearer(new)) == 202


async def test_redeploy_changes_what_the_next_event_triggers(server: Any) -> None:
    manifest = server.manifest("retrigger")
    app_id = await server.deploy(manifest)
    key = await server.runtime_key(app_id, rpm=1000)

    async def matched() -> list[str]:
        resp = await server.client.post(
            f"/v1/apps/{app_id}/events", json={"event_type": "cache.redeploy"}, headers=_bearer(key)
        )
        assert resp.status_code == 202, resp.text
        return list(resp.json()["matched_workflows"])

    assert await matched() == []
    manifest["workflows"].append(
        {
            "id": "on-redeploy",
            "mode": "run",
            "run": {"command": "echo again"},
            "trigger": {"type": "api", "event": "cache.redeploy"},
        }
    )
    redeployed = await server.client.patch(f"/apps/{app_id}", json=manifest, headers=server.owner())
    assert redeployed.status_code == 200, redeployed.text
    assert await matched() == ["on-redeploy"]


async def test_cache_keeps_values_until_invalidated() -> None:
    cache = ReadCache(ttl=60)
    loads: list[int] = []

    async def load() -> dict[str, int]:
        loads.append(1)
        return {"n": len(loads)}

    assert await cache.get("k", load) == {"n": 1}
    assert await cache.get("k", load) == {"n": 1}
    cache.invalidate()
    assert await cache.get("k", load) == {"n": 2}
    assert len(loads) == 2


async def test_value_read_during_an_invalidation_is_not_kept() -> None:
    cache = ReadCache(ttl=60)
    gate = asyncio.Event()
    calls: list[str] = []

    async def slow_load() -> str:
        calls.append("slow")
        await gate.wait()
        return "stale"

    async def fresh_load() -> str:
        calls.append("fresh")
        return "fresh"

    task = asyncio.create_task(cache.get("k", slow_load))
    await asyncio.sleep(0)
    cache.invalidate()  # a write committed while the read was in flight
    gate.set()
    assert await task == "stale"  # the caller that started before the write gets its read
    assert await cache.get("k", fresh_load) == "fresh"  # but it was not kept


async def test_missing_values_are_not_cached() -> None:
    cache = ReadCache(ttl=60)
    loads: list[int] = []

    async def load() -> None:
        loads.append(1)

    assert await cache.get("k", load) is None
    assert await cache.get("k", load) is None
    assert len(loads) == 2


async def test_zero_ttl_disables_the_cache() -> None:
    cache = ReadCache(ttl=0)
    loads: list[int] = []

    async def load() -> int:
        loads.append(1)
        return len(loads)

    assert await cache.get("k", load) == 1
    assert await cache.get("k", load) == 2


async def test_concurrent_misses_share_one_read() -> None:
    cache = ReadCache(ttl=60)
    gate = asyncio.Event()
    loads: list[int] = []

    async def load() -> dict[str, int]:
        loads.append(1)
        await gate.wait()
        return {"n": len(loads)}

    waiters = [asyncio.create_task(cache.get("k", load)) for _ in range(20)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiters) == [{"n": 1}] * 20
    assert loads == [1]
    assert await cache.get("k", load) == {"n": 1}  # and kept


async def test_a_shared_read_that_fails_fails_every_waiter_and_is_not_kept() -> None:
    cache = ReadCache(ttl=60)
    gate = asyncio.Event()
    loads: list[int] = []

    async def broken() -> int:
        loads.append(1)
        await gate.wait()
        raise ConnectionError("database unreachable")

    async def working() -> int:
        return 7

    waiters = [asyncio.create_task(cache.get("k", broken)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert [type(r) for r in results] == [ConnectionError] * 3
    assert loads == [1]
    assert await cache.get("k", working) == 7


async def test_a_cancelled_caller_does_not_cancel_the_shared_read() -> None:
    cache = ReadCache(ttl=60)
    gate = asyncio.Event()

    async def load() -> str:
        await gate.wait()
        return "value"

    first = asyncio.create_task(cache.get("k", load))
    second = asyncio.create_task(cache.get("k", load))
    await asyncio.sleep(0)
    first.cancel()
    gate.set()
    assert await second == "value"
    assert first.cancelled()


async def test_a_read_started_before_an_invalidation_is_not_shared_after_it() -> None:
    cache = ReadCache(ttl=60)
    gate = asyncio.Event()

    async def before() -> str:
        await gate.wait()
        return "before the write"

    async def after() -> str:
        return "after the write"

    early = asyncio.create_task(cache.get("k", before))
    await asyncio.sleep(0)
    cache.invalidate()
    assert await cache.get("k", after) == "after the write"
    gate.set()
    assert await early == "before the write"
    assert await cache.get("k", before) == "after the write"
