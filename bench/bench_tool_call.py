"""Paired benchmark: what a sync run and each tool call cost, against one bare interpreter spawn.

ours:   ara-server started the way `ara dev` starts it (`ServerThread`, SQLite, the offline model
        provider), three apps deployed: an agent with a prompt function and no tools, the same with
        1 tool, and the same with N tools (each tool takes no parameters, so the offline provider
        calls every one, once). Each sample is one sync run over HTTP (`POST /v1/apps/{id}/run`,
        keep-alive httpx client), checked to have completed with the expected number of tool calls.
anchor: one bare `python -I -c pass` of the same interpreter the server runs sandboxed code with.

Each round interleaves spawn, no-tool run, 1-tool run, N-tool run, again and again for `--seconds`
(at least 5 of each); per round it takes the p50 of each. The cost of one more tool call is the
slope (p50(N tools) - p50(1 tool)) / (N - 1). Prints p50s and the ratios no-tool run / spawn and
slope / spawn as median (min-max over rounds).

The server keeps warm sandboxes by default (2 per app environment): tool calls and prompt functions
are served by a pre-forked child of a fork server. `--warm N` sets N per app environment
(`ARA_SANDBOX_WARM_PER_APP`); `--warm 0` starts a fresh sandbox per call (cold). The script also
prints how many sandbox processes the server holds and their memory (resident, and proportional
as `/readyz` reports it).

Run:  uv run python bench/bench_tool_call.py [--seconds 2] [--rounds 3] [--tools 5] [--warm N]
Results go to docs/benchmarks.md (a benchmark, not a timed test).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from _pairs import (
    ServerProcess,
    check_run_args,
    deploy,
    machine,
    new_owner_key,
    percentile,
    scratch_dir,
    spread,
)

PROMPT = "def brief(input: dict) -> str:\n    return 'Answer briefly.'\n"


def tool(i: int) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": f"step_{i}",
            "description": f"Step {i}.",
            "parameters": {"type": "object", "properties": {}, "required": []},
        },
        "function_name": f"step_{i}",
        "source": f"def step_{i}() -> dict:\n    return {{'step_{i}_done': True}}\n",
    }


def manifest(slug: str, tools: int) -> dict[str, Any]:
    return {
        "name": slug,
        "slug": slug,
        "agent": {
            "agents": [
                {
                    "id": "worker",
                    "task": "Work.",
                    "instructions": "Work.",
                    "prompt_factory": {"function_name": "brief", "source": PROMPT, "parameters": {}},
                }
            ],
            "default_agent_id": "worker",
            "tools": [tool(i) for i in range(1, tools + 1)],
        },
    }


def spawn_ms() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-I", "-c", "pass"], check=True)
    return (time.perf_counter() - t0) * 1000


def run_ms(client: httpx.Client, app_id: str, key: str, tools: int) -> float:
    t0 = time.perf_counter()
    response = client.post(
        f"/v1/apps/{app_id}/run",
        headers={"Authorization": f"Bearer {key}"},
        json={"agent_id": "worker", "input": {"message": "go", "run_id": f"run_bench_{uuid.uuid4().hex}"}},
    )
    elapsed = (time.perf_counter() - t0) * 1000
    body = response.json()
    if response.status_code != 200 or body.get("status") != "completed":
        raise SystemExit(f"run did not complete: {response.status_code} {response.text[:500]}")
    calls = [e for e in body.get("trace") or [] if e.get("type") == "tool_call"]
    if len(calls) != tools:
        raise SystemExit(f"expected {tools} tool calls in the trace, got {len(calls)}: {response.text[:500]}")
    return elapsed


def descendants_rss(pid: int) -> tuple[int, int]:
    """`(count, resident bytes)` of the processes below `pid` (its sandboxes), read from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            pages = int((entry / "statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
        parents[int(entry.name)] = int(fields[1])
        rss[int(entry.name)] = pages * page
    below: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - below
        below |= frontier
    return len(below), sum(rss[p] for p in below)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per round (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--tools", type=int, default=5, help="N, tool calls of the largest run (default 5)")
    parser.add_argument(
        "--warm",
        type=int,
        default=None,
        help="warm sandboxes per app environment (default: the server's, 2; 0: cold calls)",
    )
    args = parser.parse_args()
    check_run_args(parser, args)
    if args.warm is not None and args.warm < 0:
        parser.error("--warm must be 0 or more")
    if args.warm is not None:
        os.environ["ARA_SANDBOX_WARM_PER_APP"] = str(args.warm)  # read by the server process
    else:
        os.environ.pop("ARA_SANDBOX_WARM_PER_APP", None)
    if args.tools < 2:
        parser.error("--tools must be at least 2 (the slope needs 1 and N tool calls)")
    print(f"machine: {machine()}")
    print(f"warm sandboxes per app environment: {'the default' if args.warm is None else args.warm}")
    counts = (0, 1, args.tools)
    held: tuple[int, int] = (0, 0)
    warm: dict[str, Any] = {}
    with scratch_dir("ara-bench-tool-") as tmp:
        owner_key = new_owner_key()
        with ServerProcess("ara", Path(tmp) / "ara", owner_key) as server:
            apps = {n: deploy(server.base_url, owner_key, manifest(f"bench-tools-{n}", n)) for n in counts}
            rounds: list[dict[str, float]] = []
            with httpx.Client(base_url=server.base_url, timeout=120) as client:
                for n in counts:  # warm-up, not recorded
                    run_ms(client, *apps[n], n)
                spawn_ms()
                for _ in range(args.rounds):
                    samples: dict[str, list[float]] = {"spawn": [], **{f"run{n}": [] for n in counts}}
                    started = time.perf_counter()
                    while len(samples["spawn"]) < 5 or time.perf_counter() - started < args.seconds:
                        samples["spawn"].append(spawn_ms())
                        for n in counts:
                            samples[f"run{n}"].append(run_ms(client, *apps[n], n))
                    rounds.append({name: percentile(values, 50) for name, values in samples.items()})
                held = descendants_rss(server.pid)
                warm = client.get("/readyz").json().get("warm_sandboxes") or {}
    n = args.tools
    slopes = [(r[f"run{n}"] - r["run1"]) / (n - 1) for r in rounds]
    print(
        f"sync run over HTTP vs one bare `python -I -c pass`, "
        f"{len(rounds)} rounds of {args.seconds:g} s, p50 ms"
    )

    def med(name: str) -> float:
        return statistics.median(r[name] for r in rounds)

    print(f"  anchor: one spawn                               p50 {med('spawn'):8.2f} ms")
    print(f"  ours:   run, prompt function, no tools          p50 {med('run0'):8.2f} ms")
    print(f"  ours:   run, prompt function, 1 tool call       p50 {med('run1'):8.2f} ms")
    print(f"  ours:   run, prompt function, {n} tool calls      p50 {med(f'run{n}'):8.2f} ms")
    print(f"  ours:   one more tool call (slope 1..{n})         {statistics.median(slopes):8.2f} ms")
    print(f"  ratio no-tool run / spawn     {spread([r['run0'] / r['spawn'] for r in rounds])}")
    per_spawn = [s / r["spawn"] for s, r in zip(slopes, rounds, strict=True)]
    print(f"  ratio one more tool call / spawn {spread(per_spawn)}")
    print(f"  one more tool call, ms        {spread(slopes)}".replace("x (", " ms (").replace("x)", ")"))
    print(
        f"  processes under the server after the runs: {held[0]}, resident {held[1] / 2**20:.1f} MiB in all"
    )
    if warm:
        print(
            f"  /readyz warm_sandboxes: {warm.get('sandboxes')} sandbox(es), {warm.get('processes')} "
            f"processes, rss {warm.get('rss_bytes', 0) / 2**20:.1f} MiB, "
            f"pss {warm.get('pss_bytes', 0) / 2**20:.1f} MiB, {warm.get('calls')} warm calls, "
            f"{warm.get('cold_fallbacks')} cold fallbacks"
        )


if __name__ == "__main__":
    main()
