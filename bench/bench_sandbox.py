"""Paired benchmark: what one sandboxed tool call costs, cold and warm, against a bare interpreter spawn.

anchor: one bare `python -I -c pass` of the server's interpreter (`subprocess.run`).
ours:   `run_function` of a one-line tool (`def f(x): return x`) in the same interpreter, three ways:
        - cold, isolated: a fresh bubblewrap sandbox and interpreter per call (the default);
        - cold, unisolated: the fallback without bubblewrap (`mechanism="none"`), to show what the
          isolation itself adds;
        - warm: through a warm sandbox (`warm_per_app=2`, the server's default): a fork of a ready
          fork server;
        - warm, back-to-back: five calls in a row (as a run's tool calls come), time per call; the
          app's two warm sandboxes take turns.

Each round interleaves the four (the anchor and the three kinds of call, in turn) for `--calls` calls each and
takes the p50 of each; the report shows the p50s and each ratio to the anchor as median (min-max
over rounds), and the warm pool's memory.

Run:  uv run python bench/bench_sandbox.py [--rounds 5] [--calls 20]
Results go to docs/benchmarks.md (a benchmark, not a timed test).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from _pairs import percentile, spread
from ara_server.engine import (
    SandboxPolicy,
    close_warm_sandboxes,
    isolation_status,
    run_function,
    warm_sandbox_stats,
)

SOURCE = "def f(x):\n    return x\n"


async def main() -> None:
    parser = argparse.ArgumentParser(
        description="Sandboxed tool calls, cold and warm, against a bare interpreter spawn."
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    if args.rounds < 1 or args.calls < 1:
        parser.error("--rounds and --calls must be at least 1")
    status = isolation_status(SandboxPolicy())
    print(f"isolation: {status.mechanism}, isolated={status.isolated}, off={status.off}")
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}")
    workdir = Path(tempfile.mkdtemp(prefix="ara-bench-sandbox-"))

    def call(policy: SandboxPolicy, where: Path = workdir, times: int = 1) -> Callable[[], Awaitable[object]]:
        async def one() -> object:
            for _ in range(times):
                res = await run_function(
                    source=SOURCE,
                    function_name="f",
                    mode="tool",
                    payload={"x": 1},
                    workdir=where,
                    timeout_seconds=30,
                    policy=policy,
                )
                if not res.ok:
                    raise SystemExit(f"call failed: {res.error}")
            return times

        return one

    in_a_row = 5
    warm = SandboxPolicy(warm_per_app=2)

    async def spawn() -> object:
        await asyncio.to_thread(subprocess.run, [sys.executable, "-I", "-c", "pass"], check=True)
        return None

    sides: dict[str, Callable[[], Awaitable[object]]] = {
        "anchor: bare python -I -c pass": spawn,
        "cold, isolated (bubblewrap)": call(SandboxPolicy()),
        "cold, unisolated (fallback)": call(SandboxPolicy(mechanism="none")),
        "warm (fork server in a sandbox)": call(warm),
        f"warm, {in_a_row} in a row, per call": call(warm, workdir / "row", in_a_row),
    }
    p50s: dict[str, list[float]] = {name: [] for name in sides}
    (workdir / "row").mkdir()
    for fn in sides.values():  # warm-up: detection, the warm pool's sandboxes
        await fn()
        await fn()
    await asyncio.sleep(1.0)  # the second sandbox of each app boots
    for _ in range(args.rounds):
        samples: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(args.calls):
            for name, fn in sides.items():
                started = time.perf_counter()
                calls = await fn()
                samples[name].append((time.perf_counter() - started) * 1000 / (calls or 1))  # pyright: ignore[reportOperatorIssue]
        for name in sides:
            p50s[name].append(percentile(samples[name], 50))
    anchor = next(iter(sides))
    for name in sides:
        ratio = spread([o / a for o, a in zip(p50s[name], p50s[anchor], strict=True)])
        print(f"  {name:<36} p50 {statistics.median(p50s[name]):7.2f} ms   vs anchor {ratio}")
    stats = warm_sandbox_stats()
    if stats is not None:
        print(
            f"  warm pool: {stats.sandboxes} sandbox(es), {stats.processes} processes, "
            f"{stats.rss_bytes / 1e6:.1f} MB resident ({stats.pss_bytes / 1e6:.1f} MB proportional), "
            f"{stats.calls} warm calls, {stats.cold_fallbacks} cold fallbacks"
        )
    await close_warm_sandboxes()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
