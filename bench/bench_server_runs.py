"""Benchmark: ara-server under concurrent runs — the event loop must not block on tool subprocesses.

Deploys an app whose tool sleeps S seconds, then fires N sync runs at once through real HTTP on
loopback (ServerThread + uvicorn, SQLite), and reports wall time against the serial cost N x S,
plus /healthz latency measured while the runs are in flight.

Run:  uv run python bench/bench_server_runs.py [--runs 20] [--sleep 0.5]
Results go to docs/benchmarks.md (a benchmark, not a timed test).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from ara_server import ServerThread, Settings

MANIFEST = {
    "name": "bench-runs",
    "slug": "bench-runs",
    "agent": {
        "agents": [{"id": "sleeper", "task": "Sleep.", "instructions": "Sleep."}],
        "default_agent_id": "sleeper",
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "nap",
                    "description": "",
                    "parameters": {
                        "type": "object",
                        "properties": {"seconds": {"type": "number"}},
                        "required": ["seconds"],
                    },
                },
                "function_name": "nap",
                "source": (
                    "def nap(seconds: float) -> dict:\n"
                    "    import time\n"
                    "    time.sleep(seconds)\n"
                    "    return {'slept': seconds}\n"
                ),
            }
        ],
    },
}


async def main(runs: int, sleep: float) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        ServerThread(Settings(data_dir=Path(tmp), port=0, workers=1)) as server,
    ):
        owner = {"Authorization": f"Bearer {server.owner_api_key}"}
        async with httpx.AsyncClient(base_url=server.base_url, timeout=300) as client:
            app = (await client.post("/apps", headers=owner, json=MANIFEST)).json()["app"]
            key = (
                await client.post(
                    f"/apps/{app['id']}/keys", headers=owner, json={"requests_per_minute": 10_000}
                )
            ).json()["key"]
            auth = {"Authorization": f"Bearer {key}"}

            async def one(i: int) -> float:
                started = time.perf_counter()
                response = await client.post(
                    f"/v1/apps/{app['id']}/run",
                    headers=auth,
                    json={"agent_id": "sleeper", "input": {"seconds": sleep, "run_id": f"run-b-{i}"}},
                )
                assert response.json()["status"] == "completed", response.text
                return time.perf_counter() - started

            health: list[float] = []

            async def probe() -> None:
                while True:
                    t0 = time.perf_counter()
                    await client.get("/healthz")
                    health.append((time.perf_counter() - t0) * 1000)
                    await asyncio.sleep(0.05)

            prober = asyncio.create_task(probe())
            started = time.perf_counter()
            latencies = await asyncio.gather(*(one(i) for i in range(runs)))
            wall = time.perf_counter() - started
            prober.cancel()
    print(
        "| runs | tool sleep (s) | wall (s) | serial cost (s) | speed-up | run p50 (s) "
        "| /healthz p50 / max (ms) |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {runs} | {sleep} | {wall:.2f} | {runs * sleep:.1f} | {runs * sleep / wall:.1f}x | "
        f"{statistics.median(latencies):.2f} | {statistics.median(health):.1f} / {max(health):.1f} |"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sleep", type=float, default=0.5)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.sleep))
