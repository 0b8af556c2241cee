"""Paired benchmark: our `AraClient` against the original ara-sdk's, on the same ara-server.

Each side calls `run_status(run_id=...)` N times in its own process against one ara-server on
loopback (`ServerThread`, the way `ara dev` starts it), for a run that is already completed, so the
server's part is a small indexed read and the client's part shows: the original lists every app
(`GET /apps`) before each call and opens a new connection per request (urllib); ours resolves the app
id once per client and keeps connections alive (httpx). Rounds alternate ours, original, ours, ...;
each round gives one ratio, the report shows the median with its spread (min-max over rounds).
A third line shows `AsyncAraClient` with 10 calls in flight on one event loop (no anchor).

The original runs from a scratch virtual environment (default /tmp/orig-0145, created with uv when
missing: `uv venv /tmp/orig-0145 && uv pip install --python /tmp/orig-0145 ara-sdk==0.1.45`).

Run:  uv run python bench/bench_clients.py [--calls 200] [--rounds 5] [--original-python PATH]
Results go to docs/benchmarks.md (a benchmark, not a timed test).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CALC = HERE.parent / "tests" / "apps" / "calc_app.py"

OURS = """
import json, sys, time
from ara_sdk import AraClient
cfg = json.loads(sys.argv[1])
client = AraClient(
    manifest={"slug": cfg["slug"]}, api_key=cfg["api_key"], base_url=cfg["base_url"], cwd=cfg["cwd"]
)
client.run_status(run_id=cfg["run_id"], runtime_key=cfg["key"])  # first call: app id lookup, connection
started = time.perf_counter()
for _ in range(cfg["calls"]):
    client.run_status(run_id=cfg["run_id"], runtime_key=cfg["key"])
print(time.perf_counter() - started)
"""

ORIGINAL = """
import json, sys, time
from pathlib import Path
from ara_sdk import AraClient
cfg = json.loads(sys.argv[1])
client = AraClient(
    manifest={"slug": cfg["slug"]}, api_base_url=cfg["base_url"], api_key=cfg["api_key"], cwd=Path(cfg["cwd"])
)
client.run_status(run_id=cfg["run_id"], runtime_key=cfg["key"])
started = time.perf_counter()
for _ in range(cfg["calls"]):
    client.run_status(run_id=cfg["run_id"], runtime_key=cfg["key"])
print(time.perf_counter() - started)
"""

OURS_ASYNC = """
import asyncio, json, sys, time
from ara_sdk import AsyncAraClient
cfg = json.loads(sys.argv[1])

async def main():
    async with AsyncAraClient(
        manifest={"slug": cfg["slug"]}, api_key=cfg["api_key"], base_url=cfg["base_url"], cwd=cfg["cwd"]
    ) as client:
        await client.run_status(run_id=cfg["run_id"], runtime_key=cfg["key"])
        gate = asyncio.Semaphore(10)

        async def one():
            async with gate:
                await client.run_status(run_id=cfg["run_id"], runtime_key=cfg["key"])

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(cfg["calls"])))
        return time.perf_counter() - started

print(asyncio.run(main()))
"""


def _original_python(path: str) -> str:
    python = Path(path) / "bin" / "python"
    if not python.exists():
        uv = shutil.which("uv") or "uv"
        subprocess.run([uv, "venv", "-q", path], check=True)
        subprocess.run([uv, "pip", "install", "-q", "--python", path, "ara-sdk==0.1.45"], check=True)
    return str(python)


def _side(python: str, code: str, cfg: dict[str, object], cwd: str, *, isolated: bool = False) -> float:
    env = dict(os.environ)
    if isolated:  # the original's environment must not see our packages
        env.pop("PYTHONPATH", None)
        env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(
        [python, "-c", code, json.dumps(cfg)], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    if proc.returncode != 0:
        raise SystemExit(f"{python} failed:\n{proc.stderr}")
    return float(str(proc.stdout).strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--original-python", default="/tmp/orig-0145")
    args = parser.parse_args()
    if args.calls < 1 or args.rounds < 1:
        parser.error("--calls and --rounds must be at least 1")
    original = _original_python(args.original_python)

    from ara_sdk import AraClient, load_app
    from ara_server import ServerThread, Settings

    manifest = load_app(CALC).manifest
    with (
        tempfile.TemporaryDirectory(prefix="bench-clients-") as tmp,
        ServerThread(Settings(data_dir=Path(tmp) / "data", port=0)) as server,
    ):
        owner = server.owner_api_key or ""
        with AraClient(manifest=manifest, api_key=owner, base_url=server.base_url, cwd=tmp) as client:
            key = client.deploy(key_rpm=10_000_000)["runtime_key"]
            run = client.run(agent_id="calculator", input_payload={"a": 1, "b": 2}, runtime_key=key)
        cfg: dict[str, object] = {
            "slug": manifest["slug"],
            "api_key": owner,
            "base_url": server.base_url,
            "cwd": tmp,
            "key": key,
            "run_id": run["run_id"],
            "calls": args.calls,
        }
        ours: list[float] = []
        theirs: list[float] = []
        concurrent: list[float] = []
        for _ in range(args.rounds):
            ours.append(_side(sys.executable, OURS, cfg, tmp))
            theirs.append(_side(original, ORIGINAL, cfg, tmp, isolated=True))
            concurrent.append(_side(sys.executable, OURS_ASYNC, cfg, tmp))
    per_call = lambda values: statistics.median(values) / args.calls * 1000  # noqa: E731
    ratios = [o / t for o, t in zip(ours, theirs, strict=True)]
    print(
        f"run_status x{args.calls}, {args.rounds} rounds, "
        f"one ara-server on loopback ({time.strftime('%Y-%m-%d')})"
    )
    print(f"  ours (AraClient, 1 request per call)        {per_call(ours):.2f} ms/call")
    print(f"  original 0.1.45 (2 requests per call)        {per_call(theirs):.2f} ms/call")
    print(
        f"  ratio ours/original  median {statistics.median(ratios):.2f} "
        f"(min {min(ratios):.2f} - max {max(ratios):.2f})"
    )
    print(
        f"  AsyncAraClient, 10 in flight                 {per_call(concurrent):.2f} ms/call"
        " (wall time / calls)"
    )


if __name__ == "__main__":
    main()
