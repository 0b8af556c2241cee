"""Paired benchmark: durable event ingest (`POST /v1/apps/{app_id}/events`) against a raw sqlite3
group-commit writer, in one run, interleaved.

ours:   ara-server started the way `ara dev` starts it (`ServerThread`, SQLite in a fresh data dir),
        with a tiny app deployed and a runtime key (rate limit set out of the way).
anchor: the raw sqlite3 group-commit reference: WAL, `synchronous=FULL`, one writer thread that
        commits every waiting event (one row in `events` + one line in `logs` each) per transaction,
        answering each request only after its commit; served by a bare Starlette endpoint under
        the same uvicorn flags, so both sides pay the same HTTP cost.

For each concurrency (default 16 and 64 clients) rounds alternate anchor, ours, anchor, ours, ...
(wrk when installed, else an asyncio httpx loop). Prints per-side rps/p50/p99 and ratios ours/anchor
as median (min-max over rounds), and each server process's CPU time (user + system, all threads,
from /proc) per answered event: steadier than rps on a shared machine, and what bounds throughput
once the cores are busy.

`--kill`: instead, for each side: post events from 16 clients, `kill -9` the server mid-run,
restart it on the same data dir, then check that every acknowledged event id (a 2xx answer with its
`event_id`) is in the database. Prints the lost count (must be 0).

Run:  uv run python bench/bench_ingest.py [--seconds 3] [--rounds 3] [--clients 16 64]
      uv run python bench/bench_ingest.py --kill [--seconds 3]
Results go to docs/benchmarks.md (a benchmark, not a timed test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import time
from pathlib import Path

import httpx
from _pairs import (
    Pair,
    ServerProcess,
    check_run_args,
    deploy,
    load,
    machine,
    new_owner_key,
    print_pair,
    scratch_dir,
)

MANIFEST = {
    "name": "bench-ingest",
    "slug": "bench-ingest",
    "agent": {
        "agents": [{"id": "listener", "task": "Listen.", "instructions": "Listen."}],
        "default_agent_id": "listener",
    },
}

EVENT = {
    "event_type": "bench.event",
    "channel": "bench",
    "source": "bench",
    "message": "hello from the ingest benchmark",
    "payload": {"n": 1},
    "metadata": {},
}


def start_ours(data_dir: Path, owner_key: str) -> tuple[ServerProcess, str, str]:
    """ara-server with the bench app deployed: `(server, app_id, runtime_key)`."""
    server = ServerProcess("ara", data_dir, owner_key).start()
    app_id, key = deploy(server.base_url, owner_key, MANIFEST)
    return server, app_id, key


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(args: argparse.Namespace) -> None:
    body = json.dumps(EVENT)
    with scratch_dir("ara-bench-ingest-") as tmp:
        root = Path(tmp)
        owner_key = new_owner_key()
        ours, app_id, key = start_ours(root / "ara", owner_key)
        try:
            with ServerProcess("sqlite-ref", root / "ref", owner_key) as ref:
                path = f"/v1/apps/{app_id}/events"
                headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

                cpu: dict[str, list[float]] = {}

                def post(server: ServerProcess, clients: int, seconds: float):
                    before = cpu_seconds(server.pid)
                    sample = load(
                        server.base_url,
                        path,
                        connections=clients,
                        seconds=seconds,
                        method="POST",
                        body=body,
                        headers=headers,
                        tool=args.tool,
                    )
                    # Requests cut off when the load stops may still be queued in the server: wait
                    # for one more event to be answered, so the next round starts on an idle server.
                    httpx.post(server.base_url + path, content=body, headers=headers, timeout=120)
                    used = cpu_seconds(server.pid) - before
                    cpu.setdefault(server.kind, []).append(1e6 * used / max(1, sample.requests + 1))
                    return sample

                for clients in args.clients:
                    for server in (ref, ours):  # warm-up at this concurrency, not recorded
                        post(server, clients, 1)
                    pair = Pair(
                        f"POST /v1/apps/{{id}}/events, {clients} concurrent clients, "
                        f"{args.seconds:g} s per side per round"
                    )
                    cpu.clear()
                    for _ in range(args.rounds):
                        pair.anchor.append(post(ref, clients, args.seconds))
                        pair.ours.append(post(ours, clients, args.seconds))
                    print_pair(pair, "ara-server (ServerThread, SQLite)", "raw sqlite3 group commit, FULL")
                    mine, theirs = statistics.median(cpu["ara"]), statistics.median(cpu["sqlite-ref"])
                    print(
                        f"  server CPU per event (user+system, all threads), median: ours {mine:.0f} us, "
                        f"anchor {theirs:.0f} us, ratio {mine / theirs:.2f}x"
                    )
        finally:
            ours.stop()


async def post_until_killed(
    server: ServerProcess, app_id: str, key: str, clients: int, kill_after: float
) -> tuple[set[str], int]:
    """Post events from `clients` clients; kill -9 the server after `kill_after` seconds.

    Returns:
        The acknowledged event ids, and how many requests got no answer.
    """
    acked: set[str] = set()
    unanswered = 0
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    dead = asyncio.Event()
    async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal unanswered
            while not dead.is_set():
                try:
                    response = await client.post(f"/v1/apps/{app_id}/events", headers=headers, json=EVENT)
                except httpx.HTTPError:
                    unanswered += 1
                    if dead.is_set():
                        return
                    continue
                if response.status_code < 300:
                    acked.add(str(response.json()["event_id"]))

        async def killer() -> None:
            await asyncio.sleep(kill_after)
            server.kill()
            dead.set()

        await asyncio.gather(killer(), *(worker() for _ in range(clients)))
    return acked, unanswered


def stored_ids(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM events")}


def kill_check(args: argparse.Namespace) -> int:
    lost_total = 0
    with scratch_dir("ara-bench-kill-") as tmp:
        root = Path(tmp)
        owner_key = new_owner_key()
        for label in ("ours", "anchor"):
            if label == "ours":
                data_dir, db = root / "ara", root / "ara" / "ara.db"
                server, app_id, key = start_ours(data_dir, owner_key)
            else:
                data_dir, db = root / "ref", root / "ref" / "ref.db"
                server, app_id, key = ServerProcess("sqlite-ref", data_dir, owner_key).start(), "app", "none"
            started = time.perf_counter()
            acked, unanswered = asyncio.run(post_until_killed(server, app_id, key, 16, args.seconds))
            wall = time.perf_counter() - started
            restarted = ServerProcess(server.kind, data_dir, owner_key).start()  # recovers the database
            restarted.stop()
            stored = stored_ids(db)
            lost = len(acked - stored)
            lost_total += lost if label == "ours" else 0
            name = (
                "ara-server (ServerThread, SQLite)" if label == "ours" else "raw sqlite3 group commit, FULL"
            )
            print(
                f"  {label:<6} {name:<36} kill -9 after {wall:.1f} s: {len(acked)} acknowledged, "
                f"{unanswered} unanswered, {len(stored)} stored after restart, LOST {lost}"
            )
    return 1 if lost_total else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=3.0,
        help="load seconds per side per round (default 3; wrk rounds to whole seconds)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 64], help="concurrent clients (16 64)")
    parser.add_argument(
        "--tool",
        choices=["auto", "wrk", "raw", "httpx"],
        default="auto",
        help="load generator (auto: wrk if installed, else raw)",
    )
    parser.add_argument(
        "--kill", action="store_true", help="kill -9 mid-run and count lost acknowledged events"
    )
    args = parser.parse_args()
    check_run_args(parser, args)
    if any(n < 1 for n in args.clients):
        parser.error("--clients must all be at least 1")
    print(f"machine: {machine()}")
    if args.kill:
        return kill_check(args)
    throughput(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
