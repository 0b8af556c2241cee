"""Paired benchmark: ara-server's HTTP path against the framework floor, in one run, interleaved.

1. `GET /healthz` with 16 keep-alive connections (wrk when installed, else an asyncio httpx loop):
   ara-server started the way `ara dev` starts it (`ServerThread`) against a bare Starlette
   hello-JSON app under the same uvicorn flags. Rounds alternate anchor, ours, anchor, ours, ...
2. One keep-alive `GET /apps` client (httpx, sequential requests), p50 latency: ara-server under
   `ServerThread` against the same app served by plain `uvicorn.run`.

Each server runs in its own process (bench/_pairs.py). Prints per-side rps/p50/p99 (medians over
rounds) and the ratios ours/anchor as median (min-max over rounds).

Run:  uv run python bench/bench_http.py [--seconds 2] [--rounds 3] [--connections 16]
Results go to docs/benchmarks.md (a benchmark, not a timed test).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import httpx
from _pairs import (
    Pair,
    Sample,
    ServerProcess,
    check_run_args,
    load,
    machine,
    new_owner_key,
    percentile,
    print_pair,
    scratch_dir,
)


def healthz_pair(ours: ServerProcess, anchor: ServerProcess, args: argparse.Namespace) -> Pair:
    pair = Pair(
        f"GET /healthz, {args.connections} keep-alive connections, {args.seconds:g} s per side per round"
    )
    for server in (anchor, ours):  # warm-up, not recorded
        load(server.base_url, "/healthz", connections=args.connections, seconds=1, tool=args.tool)
    for _ in range(args.rounds):
        pair.anchor.append(
            load(
                anchor.base_url,
                "/healthz",
                connections=args.connections,
                seconds=args.seconds,
                tool=args.tool,
            )
        )
        pair.ours.append(
            load(
                ours.base_url, "/healthz", connections=args.connections, seconds=args.seconds, tool=args.tool
            )
        )
    return pair


def sequential(server: ServerProcess, path: str, seconds: float, at_least: int = 20) -> Sample:
    """Sequential keep-alive GETs from one httpx client for `seconds` (and at least `at_least` of them),
    after 5 unrecorded ones."""
    headers = {"Authorization": f"Bearer {server.owner_key}"}
    latencies: list[float] = []
    errors = 0
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        for _ in range(5):
            client.get(path)
        started = time.perf_counter()
        while len(latencies) < at_least or time.perf_counter() - started < seconds:
            t0 = time.perf_counter()
            errors += client.get(path).status_code != 200
            latencies.append((time.perf_counter() - t0) * 1000)
        wall = time.perf_counter() - started
    count = len(latencies)
    return Sample(count / wall, percentile(latencies, 50), percentile(latencies, 99), count, errors)


def apps_pair(ours: ServerProcess, anchor: ServerProcess, args: argparse.Namespace) -> Pair:
    pair = Pair(f"GET /apps, one keep-alive httpx client, sequential, {args.seconds:g} s per side per round")
    for _ in range(args.rounds):
        pair.anchor.append(sequential(anchor, "/apps", args.seconds))
        pair.ours.append(sequential(ours, "/apps", args.seconds))
    return pair


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=2.0,
        help="load seconds per side per round (default 2; wrk rounds to whole seconds)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections (default 16)")
    parser.add_argument(
        "--tool",
        choices=["auto", "wrk", "raw", "httpx"],
        default="auto",
        help="load generator (auto: wrk if installed, else raw)",
    )
    args = parser.parse_args()
    check_run_args(parser, args)
    if args.connections < 1:
        parser.error("--connections must be at least 1")
    print(f"machine: {machine()}")
    with scratch_dir("ara-bench-http-") as tmp:
        root = Path(tmp)
        key = new_owner_key()
        with (
            ServerProcess("ara", root / "ara", key) as ours,
            ServerProcess("bare", root / "bare", key) as bare,
        ):
            for label, server in (("ours", ours), ("anchor", bare)):
                print(
                    f"{label}: event loop {server.info['loop']}, HTTP protocol {server.info['http']}, "
                    f"TCP_NODELAY on accepted connections: {server.info['nodelay']}"
                )
            print_pair(
                healthz_pair(ours, bare, args),
                "ara-server (ServerThread)",
                "bare Starlette, same uvicorn flags",
            )
            with ServerProcess("ara-uvicorn-run", root / "plain", key) as plain:
                pair = apps_pair(ours, plain, args)
        print_pair(pair, "ara-server (ServerThread)", "same app under plain uvicorn.run")
        print(f"  ratio p50 ours/anchor {pair.p50_ratio()}")


if __name__ == "__main__":
    main()
