"""Warm sandboxes with real processes: every call starts clean (globals, environment, temp files,
processes), the workspace persists, apps never share a sandbox, timeouts and cancellation kill the
whole sandbox, and the pool stays bounded, shrinks when idle and reports its memory."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from ara_server import Settings
from ara_server.engine import (
    SandboxPolicy,
    close_warm_sandboxes,
    isolation_status,
    run_function,
    warm_sandbox_stats,
)
from ara_server.engine._warm import warm_pool_for_loop

pytestmark = pytest.mark.skipif(
    not isolation_status(SandboxPolicy()).isolated, reason="bubblewrap is not usable on this machine"
)

STATEFUL_TOOL = """
SEEN = []

def remember(value, marker):
    import os, subprocess
    SEEN.append(value)
    before = {
        "globals": list(SEEN),
        "env_left": os.environ.get("LEFT_BY_FIRST_CALL"),
        "my_env": os.environ.get("CALL_VALUE"),
        "tmp_left": os.path.exists("/tmp/left-by-first-call"),
        "shm_left": os.path.exists("/dev/shm/left-by-first-call"),
        "workspace_file": open("kept.txt").read() if os.path.exists("kept.txt") else None,
        "cwd": os.getcwd(),
        "processes_left": [
            p for p in os.listdir("/proc")
            if p.isdigit() and marker.encode() in open(f"/proc/{p}/cmdline", "rb").read()
        ],
    }
    os.environ["LEFT_BY_FIRST_CALL"] = "yes"
    open("/tmp/left-by-first-call", "w").write("x")
    open("/dev/shm/left-by-first-call", "w").write("x")
    open("kept.txt", "w").write("workspace persists")
    subprocess.Popen(["bash", "-c", f"exec -a {marker} sleep 300"], start_new_session=True)
    print("printed", value)
    return before
"""


#: Warm sandboxes per app of a server started with its defaults (warm sandboxes are on by default).
DEFAULT_PER_APP = Settings(data_dir=Path("unused")).sandbox_warm_per_app


def test_a_server_keeps_warm_sandboxes_by_default() -> None:
    defaults = Settings(data_dir=Path("unused"))
    assert defaults.sandbox_warm_per_app >= 1
    assert defaults.sandbox_warm_total >= defaults.sandbox_warm_per_app
    assert defaults.sandbox_warm_idle_seconds > 0


@pytest.fixture(params=sorted({1, DEFAULT_PER_APP}), ids=lambda n: f"per_app={n}")
async def policy(request: pytest.FixtureRequest) -> AsyncIterator[SandboxPolicy]:
    yield SandboxPolicy(warm_per_app=request.param)
    await close_warm_sandboxes()


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


async def _call(policy: SandboxPolicy, workdir: Path, source: str, name: str, **kw: Any) -> Any:
    timeout = kw.pop("timeout_seconds", 30)
    env = kw.pop("env", None)
    return await run_function(
        source=source,
        function_name=name,
        mode="tool",
        payload=kw,
        workdir=workdir,
        timeout_seconds=timeout,
        env=env,
        policy=policy,
    )


async def test_every_call_starts_clean_and_the_workspace_persists(
    tmp_path: Path, policy: SandboxPolicy
) -> None:
    marker = f"ara-warm-{uuid.uuid4().hex[:10]}"
    first = await _call(
        policy, tmp_path, STATEFUL_TOOL, "remember", value=1, marker=marker, env={"CALL_VALUE": "one"}
    )
    assert first.ok, first.error
    assert first.logs == "printed 1\n"
    # The first call's background process is killed with its answer and gone before the next call
    # starts (the second call looks for it inside its sandbox, the same one when per_app=1).
    second = await _call(
        policy, tmp_path, STATEFUL_TOOL, "remember", value=2, marker=marker, env={"CALL_VALUE": "two"}
    )
    assert second.ok, second.error
    assert second.result == {
        "globals": [2],
        "env_left": None,
        "my_env": "two",
        "tmp_left": False,
        "shm_left": False,
        "workspace_file": "workspace persists",
        "cwd": str(tmp_path),
        "processes_left": [],
    }
    for _ in range(200):  # the second call's own background process: killed with its answer
        if not _processes_with(marker):
            break
        await asyncio.sleep(0.01)
    assert _processes_with(marker) == []
    stats = warm_sandbox_stats()
    assert stats is not None
    # the second call reused the first call's sandbox (a second one, when the policy allows it,
    # is only started in the background on that reuse)
    assert stats.calls == 2 and 1 <= stats.started <= policy.warm_per_app
    assert stats.rss_bytes > 0
    assert (tmp_path / "kept.txt").read_text() == "workspace persists"


async def test_an_app_calling_again_gets_its_next_sandbox_and_calls_alternate(tmp_path: Path) -> None:
    policy = SandboxPolicy(warm_per_app=2)
    source = "def ns():\n    import os\n    return os.readlink('/proc/self/ns/pid')\n"
    try:
        first = [(await _call(policy, tmp_path, source, "ns")).result for _ in range(2)]
        assert first[0] == first[1]  # reused: this starts the second sandbox in the background
        pool = warm_pool_for_loop(policy)
        for _ in range(200):  # until the second one is ready
            if sum(1 for s in pool._sandboxes if s.is_booted) == 2:  # pyright: ignore[reportPrivateUsage]
                break
            await asyncio.sleep(0.05)
        later = [(await _call(policy, tmp_path, source, "ns")).result for _ in range(4)]
        assert len(set(later)) == 2 and all(a != b for a, b in zip(later, later[1:], strict=False))
        stats = warm_sandbox_stats()
        assert stats is not None and stats.started == 2 and stats.sandboxes == 2 and stats.calls == 6
    finally:
        await close_warm_sandboxes()


async def test_apps_never_share_a_warm_sandbox(tmp_path: Path, policy: SandboxPolicy) -> None:
    source = "def who():\n    import os\n    return [os.getuid(), os.getcwd(), sorted(os.listdir('.'))]\n"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "only-a.txt").write_text("a")
    a = await _call(policy, tmp_path / "a", source, "who")
    b = await _call(policy, tmp_path / "b", source, "who")
    assert a.ok and b.ok
    assert a.result[1] == str(tmp_path / "a") and b.result[1] == str(tmp_path / "b")
    assert b.result[2] == []
    if os.geteuid() == 0:
        assert a.result[0] != b.result[0]
    stats = warm_sandbox_stats()
    assert stats is not None and stats.keys == 2 and stats.sandboxes == 2


async def test_a_warm_call_cannot_read_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "apps" / "mine").mkdir(parents=True)
    (data / "secrets.key").write_text("SECRET")
    policy = SandboxPolicy(warm_per_app=1, hidden_paths=(data,))
    source = (
        "def peek(path):\n"
        "    try:\n"
        "        return open(path).read()\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
    )
    try:
        res = await _call(policy, data / "apps" / "mine", source, "peek", path=str(data / "secrets.key"))
        assert res.ok and res.result in ("FileNotFoundError", "PermissionError")
    finally:
        await close_warm_sandboxes()


SPINNER = """
def spin(marker):
    import subprocess
    subprocess.Popen(["bash", "-c", f"exec -a {marker} sleep 300"], start_new_session=True)
    while True:
        pass
"""


async def test_a_timeout_kills_the_whole_sandbox_and_the_next_call_gets_a_new_one(
    tmp_path: Path, policy: SandboxPolicy
) -> None:
    marker = f"ara-warm-{uuid.uuid4().hex[:10]}"
    started = time.monotonic()
    res = await _call(policy, tmp_path, SPINNER, "spin", marker=marker, timeout_seconds=2)
    assert time.monotonic() - started < 2 + 2
    assert res.timed_out and res.error == "TimeoutError: spin timed out after 2 s"
    for _ in range(200):
        if not _processes_with(marker):
            break
        await asyncio.sleep(0.05)
    assert _processes_with(marker) == []
    again = await _call(policy, tmp_path, "def ok():\n    return 'fine'\n", "ok")
    assert again.ok and again.result == "fine"
    stats = warm_sandbox_stats()
    assert stats is not None and stats.started == 2


async def test_cancelling_a_warm_call_kills_its_sandbox(tmp_path: Path, policy: SandboxPolicy) -> None:
    marker = f"ara-warm-{uuid.uuid4().hex[:10]}"
    task = asyncio.create_task(_call(policy, tmp_path, SPINNER, "spin", marker=marker, timeout_seconds=60))
    for _ in range(200):
        if _processes_with(marker):
            break
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(200):
        if not _processes_with(marker):
            break
        await asyncio.sleep(0.05)
    assert _processes_with(marker) == []


async def test_a_full_pool_runs_calls_cold_instead_of_waiting(tmp_path: Path, policy: SandboxPolicy) -> None:
    source = "def nap():\n    import time\n    time.sleep(0.5)\n    return 'done'\n"
    results = await asyncio.gather(*(_call(policy, tmp_path, source, "nap") for _ in range(3)))
    assert [r.result for r in results] == ["done"] * 3
    stats = warm_sandbox_stats()
    assert stats is not None
    n = policy.warm_per_app  # the bound: calls beyond it run cold
    assert stats.sandboxes == n and stats.cold_fallbacks == 3 - n


async def test_an_idle_pool_closes_its_sandboxes_without_any_further_call(tmp_path: Path) -> None:
    policy = SandboxPolicy(warm_per_app=2, warm_idle_seconds=0.2)
    try:
        res = await _call(policy, tmp_path, "def ok():\n    return 1\n", "ok")
        assert res.ok
        pool = warm_pool_for_loop(policy)
        held = pool.stats()
        assert held.sandboxes == 1 and held.processes >= 2 and held.rss_bytes > 0
        for _ in range(100):  # the pool's own timer closes it; nothing calls shrink() here
            if pool.stats().sandboxes == 0:
                break
            await asyncio.sleep(0.05)
        after = pool.stats()
        assert after.sandboxes == 0 and after.closed_idle == 1 and after.rss_bytes == 0
    finally:
        await close_warm_sandboxes()


async def test_a_call_after_the_idle_time_gets_a_new_sandbox(tmp_path: Path) -> None:
    policy = SandboxPolicy(warm_per_app=1, warm_idle_seconds=0.01)
    try:
        assert (await _call(policy, tmp_path, "def ok():\n    return 1\n", "ok")).ok
        await asyncio.sleep(0.1)
        warm_pool_for_loop(policy).shrink()  # whether or not the timer came first
        assert (await _call(policy, tmp_path, "def ok():\n    return 2\n", "ok")).result == 2
        stats = warm_sandbox_stats()
        assert stats is not None and stats.started == 2 and stats.closed_idle == 1
    finally:
        await close_warm_sandboxes()


async def test_a_crashing_call_does_not_break_the_pool(tmp_path: Path, policy: SandboxPolicy) -> None:
    crash = "def boom():\n    import os\n    os._exit(3)\n"
    res = await _call(policy, tmp_path, crash, "boom")
    assert not res.ok and res.error == "RuntimeError: boom crashed (exit code 3)"
    kill_server = "def rude():\n    import os, signal\n    os.kill(2, signal.SIGKILL)\n    return 1\n"
    rude = await _call(policy, tmp_path, kill_server, "rude")
    assert not rude.ok
    after = await _call(policy, tmp_path, "def ok():\n    return 'fine'\n", "ok")
    assert after.ok and after.result == "fine"


PROBE_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "probe",
        "description": "Report what an earlier call left behind.",
        "parameters": {"type": "object", "properties": {}, "required": []},
    },
    "function_name": "probe",
    "source": (
        "def probe() -> dict:\n"
        "    import builtins, os\n"
        "    before = {\n"
        "        'builtins_left': getattr(builtins, 'left_by_a_call', None),\n"
        "        'env_left': os.environ.get('LEFT_BY_A_CALL'),\n"
        "        'tmp_left': os.path.exists('/tmp/left-by-a-call'),\n"
        "    }\n"
        "    builtins.left_by_a_call = True\n"
        "    os.environ['LEFT_BY_A_CALL'] = 'yes'\n"
        "    open('/tmp/left-by-a-call', 'w').write('x')\n"
        "    return before\n"
    ),
}


async def test_a_server_with_its_defaults_runs_tools_warm_and_each_call_starts_clean(server: Any) -> None:
    manifest = {
        "name": "warm-default",
        "slug": "warm-default",
        "agent": {
            "agents": [{"id": "prober", "task": "Probe.", "instructions": "Probe."}],
            "default_agent_id": "prober",
            "tools": [PROBE_TOOL],
        },
    }
    app_id = await server.deploy(manifest)
    key = await server.runtime_key(app_id, rpm=100000)
    results = []
    for n in range(3):
        resp = await server.client.post(
            f"/v1/apps/{app_id}/run",
            json={"agent_id": "prober", "input": {"message": f"probe {n}"}},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert resp.status_code == 200 and resp.json()["status"] == "completed", resp.text
        results += [c["result"] for c in resp.json()["result"]["tool_calls"]]
    assert results == [{"builtins_left": None, "env_left": None, "tmp_left": False}] * 3
    warm = (await server.client.get("/readyz")).json()["warm_sandboxes"]
    assert warm["enabled"] is True and warm["per_app"] == DEFAULT_PER_APP
    # fewer sandboxes than calls: a sandbox served more than one (the clean state above is not
    # just a fresh sandbox's)
    assert warm["calls"] == 3 and 1 <= warm["started"] <= DEFAULT_PER_APP < warm["calls"]
    assert warm["processes"] >= 2 and warm["rss_bytes"] > 0 and warm["cold_fallbacks"] == 0


async def test_a_fork_server_that_never_gets_ready_makes_the_call_run_cold(
    tmp_path: Path, policy: SandboxPolicy
) -> None:
    # `true` is no Python: the warm sandbox exits without its ready frame, the call runs cold
    # (and fails there, as any call with that interpreter would), and nothing waits forever.
    res = await run_function(
        source="def ok():\n    return 1\n",
        function_name="ok",
        mode="tool",
        payload={},
        workdir=tmp_path,
        timeout_seconds=30,
        python="/bin/true",
        policy=policy,
    )
    assert not res.ok and res.error is not None and res.error.startswith("RuntimeError: ok crashed")
    stats = warm_sandbox_stats()
    assert stats is not None and stats.cold_fallbacks == 1 and stats.sandboxes == 0 and stats.calls == 0


async def test_a_call_reads_nothing_of_the_host_pipe_it_got_its_request_from(
    tmp_path: Path, policy: SandboxPolicy
) -> None:
    source = (
        "def peek():\n    import os\n    return [os.read(0, 4096).decode(), os.readlink('/proc/self/fd/0')]\n"
    )
    first = await _call(policy, tmp_path, source, "peek")
    second = await _call(policy, tmp_path, source, "peek")
    assert first.ok and second.ok, (first.error, second.error)
    assert first.result == ["", "/dev/null"] and second.result == ["", "/dev/null"]


EARLY_REPORTER = """
def early(marker):
    import os, subprocess, time
    subprocess.Popen(["bash", "-c", f"exec -a {marker} sleep 300"], start_new_session=True)
    for fd in os.listdir("/proc/self/fd"):
        try:
            if int(fd) > 2 and os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                os.write(int(fd), b"1" * 64)  # claim the reply is ready, and again for later calls
        except OSError:
            pass
    time.sleep(0.5)
    open("/tmp/left-by-early", "w").write("x")
    return "late"
"""


async def test_a_call_that_reports_done_early_spoils_only_its_own_answer(
    tmp_path: Path, policy: SandboxPolicy
) -> None:
    marker = f"ara-warm-{uuid.uuid4().hex[:10]}"
    res = await _call(policy, tmp_path, EARLY_REPORTER, "early", marker=marker)
    # answered at its false report, with no reply; its processes were killed before the answer
    assert not res.ok and res.error == "RuntimeError: early crashed (no reply)"
    probe = "def probe():\n    import os\n    return [os.path.exists('/tmp/left-by-early'), 'fine']\n"
    for _ in range(3):  # the same sandbox again (per_app=1) or in turn: each call is answered normally
        again = await _call(policy, tmp_path, probe, "probe")
        assert again.ok and again.result == [False, "fine"], again.error
    for _ in range(200):
        if not _processes_with(marker):
            break
        await asyncio.sleep(0.01)
    assert _processes_with(marker) == []
