"""Scale-out benchmark: async 1-tool runs drained by 1 and by 2 `ara server` nodes on one PostgreSQL.

For each node count (1, then 2) in one run: a fresh database on a throwaway PostgreSQL server
(`scripts/start-postgres.sh`, or the one `ARA_TEST_POSTGRES_URL` names), that many `ara server`
processes (`--workers W`, offline model), one app whose agent calls one sandboxed tool; `--runs N`
async runs are submitted (spread over the nodes), then the benchmark waits until every run has
ended. It reports:

- runs/s: N / (last `finished_at` - first `created_at`), server clocks (one machine);
- queue wait: `started_at - created_at` of each run (the claim of its last attempt), p50 and p99;
- how the runs split between the nodes.

Run:  uv run python bench/bench_scaleout.py [--runs 300] [--workers 4]
Results go to docs/benchmarks.md (a benchmark, not a timed test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[1]
OWNER = "ara_owner_bench_scaleout_0123456789"
MANIFEST: dict[str, Any] = {
    "name": "scaleout",
    "slug": "scaleout",
    "agent": {
        "agents": [{"id": "echoer", "task": "Echo.", "instructions": "Echo the text."}],
        "default_agent_id": "echoer",
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "echo",
                    "description": "Echo a text.",
                    "parameters": {
                        "type": "object",
                        "properties": {"text": {"type": "string"}},
                        "required": ["text"],
                    },
                },
                "function_name": "echo",
                "source": "def echo(text: str) -> dict:\n    return {'reply': text}\n",
            }
        ],
    },
    "workflows": [
        {"id": "echoer", "mode": "task", "agent_id": "echoer", "task": "Echo.", "trigger": {"type": "api"}}
    ],
}


def postgres_url() -> str:
    """`ARA_TEST_POSTGRES_URL`, or a throwaway server started by scripts/start-postgres.sh."""
    url = os.environ.get("ARA_TEST_POSTGRES_URL", "")
    if url:
        return url
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "start-postgres.sh")], capture_output=True, text=True, check=True
    ).stdout
    for line in out.splitlines():
        if line.startswith("export ARA_TEST_POSTGRES_URL="):
            return line.split("=", 1)[1].strip()
    raise SystemExit(f"scripts/start-postgres.sh printed no URL: {out!r}")


def admin(url: str, sql: str) -> None:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    async def run() -> None:
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(sa.text(sql))
        await engine.dispose()

    asyncio.run(run())


class Node:
    def __init__(self, name: str, database_url: str, data_dir: Path, workers: int, secrets_key: str) -> None:
        self.log = data_dir.parent / f"{name}.log"
        self._err = self.log.open("wb")
        env = {
            **os.environ,
            "ARA_API_KEY": OWNER,
            "ARA_SECRETS_KEY": secrets_key,
            "HOME": str(data_dir.parent),
        }
        env.pop("ARA_MODEL_BASE_URL", None)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ara_cli",
                "server",
                "--database-url",
                database_url,
                "--port",
                "0",
                "--workers",
                str(workers),
                "--data-dir",
                str(data_dir),
                "--node-id",
                name,
                "--without-scheduler",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self._err,
            start_new_session=True,
        )
        self.url = ""

    def wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for line in self.log.read_text(errors="replace").splitlines():
                if line.startswith("{") and '"listening"' in line:
                    self.url = json.loads(line)["url"]
                    return
            if self.proc.poll() is not None:
                raise SystemExit(f"node exited: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        raise SystemExit("node did not start")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._err.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def stamp(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def measure(base: str, nodes: int, runs: int, workers: int, tmp: Path) -> dict[str, Any]:
    name = f"scale_{uuid.uuid4().hex[:8]}"
    admin(base, f'CREATE DATABASE "{name}"')
    url = base.rsplit("/", 1)[0].replace("postgresql+asyncpg://", "postgresql://") + f"/{name}"
    data_dir = tmp / f"n{nodes}" / "data"  # shared by the nodes of this round (key files, app dirs)
    data_dir.mkdir(parents=True)
    key = Fernet.generate_key().decode()
    started: list[Node] = []
    try:
        for n in range(nodes):
            node = Node(f"node-{n + 1}", url, data_dir, workers, key)
            node.wait()
            started.append(node)
        owner = {"Authorization": f"Bearer {OWNER}"}
        with httpx.Client(base_url=started[0].url, timeout=60) as c:
            app_id = c.post("/apps", json=MANIFEST, headers=owner).json()["app"]["id"]
            runtime = c.post(
                f"/apps/{app_id}/keys", json={"requests_per_minute": 10**6}, headers=owner
            ).json()["key"]
        auth = {"Authorization": f"Bearer {runtime}"}
        clients = [httpx.Client(base_url=n.url, timeout=60) for n in started]

        def submit(i: int) -> str:
            resp = clients[i % len(clients)].post(
                f"/v1/apps/{app_id}/runs", json={"input": {"text": f"t{i}"}}, headers=auth
            )
            resp.raise_for_status()
            return str(resp.json()["run_id"])

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(submit, range(runs)))
        done: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + 600
        while len(done) < len(ids) and time.monotonic() < deadline:
            for rid in ids:
                if rid not in done:
                    run = clients[0].get(f"/v1/apps/{app_id}/runs/{rid}", headers=auth).json()["run"]
                    if run["status"] in ("completed", "failed", "cancelled"):
                        done[rid] = run
            time.sleep(0.2)
        stream = clients[0].get(f"/v1/apps/{app_id}/logs/stream?follow=false", headers=auth).text
        for c in clients:
            c.close()
    finally:
        for node in started:
            node.stop()
        admin(base, f'DROP DATABASE "{name}" WITH (FORCE)')
    per_node: dict[str, int] = {}
    for line in stream.splitlines():
        if line.startswith("data: "):
            row = json.loads(line[6:])
            if row["event_type"] == "run.attempt":
                node_name = row["message"].rsplit(" ", 1)[-1]
                per_node[node_name] = per_node.get(node_name, 0) + 1
    failed = [r for r in done.values() if r["status"] != "completed"]
    first = min(stamp(r["created_at"]) for r in done.values())
    last = max(stamp(r["finished_at"]) for r in done.values())
    waits = [stamp(r["started_at"]) - stamp(r["created_at"]) for r in done.values()]
    return {
        "nodes": nodes,
        "runs": len(done),
        "failed": len(failed),
        "runs_per_s": len(done) / (last - first),
        "wait_p50_ms": percentile(waits, 50) * 1000,
        "wait_p99_ms": percentile(waits, 99) * 1000,
        "per_node": per_node,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    if args.runs < 1 or args.workers < 1:
        parser.error("--runs and --workers must be at least 1")
    base = postgres_url()
    print(f"machine: {os.cpu_count()} CPUs; {args.runs} async 1-tool runs; --workers {args.workers} per node")
    with tempfile.TemporaryDirectory(prefix="ara-scaleout-") as tmp:
        results = [measure(base, nodes, args.runs, args.workers, Path(tmp)) for nodes in (1, 2)]
    print("| nodes | runs | failed | runs/s | queue wait p50 | queue wait p99 | attempts per node |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        split = ", ".join(f"{k}: {v}" for k, v in sorted(r["per_node"].items()))
        print(
            f"| {r['nodes']} | {r['runs']} | {r['failed']} | {r['runs_per_s']:.1f} "
            f"| {r['wait_p50_ms']:.0f} ms | {r['wait_p99_ms']:.0f} ms | {split} |"
        )


if __name__ == "__main__":
    main()
