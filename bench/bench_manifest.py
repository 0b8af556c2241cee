"""Benchmark: load an app script and build its manifest, whole process, ours against the original.

The original is ara-sdk 0.1.45 in its own virtual environment on the same base Python, used as a
black box. Each sample is one fresh interpreter that imports the SDK, loads a generated app (100
agents plus 1, 100 or 1,000 tools) the way the `ara` command does and serialises its manifest;
pairs are interleaved and the ratio of each pair is reported as median with p10-p90 spread. Both
sides must print the same manifest (compared by hash), so the work is identical.

Setup (once):  uv venv /tmp/orig-0145 && uv pip install --python /tmp/orig-0145 ara-sdk==0.1.45
Run:           uv run python bench/bench_manifest.py [--runs 15] [--original /tmp/orig-0145/bin/python]
This is a benchmark, not a timed test.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AGENTS = 100
TOOL_COUNTS = (1, 100, 1_000)

OURS = r"""
import hashlib, json, sys
from ara_sdk import load_app
manifest = load_app(sys.argv[1]).manifest
print(hashlib.sha256(json.dumps(manifest).encode()).hexdigest())
"""

ORIGINAL = r"""
import hashlib, importlib.util, json, sys
spec = importlib.util.spec_from_file_location("ara_user_app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["ara_user_app"] = module
spec.loader.exec_module(module)
from ara_sdk import App
app = next(v for v in vars(module).values() if isinstance(v, App))
print(hashlib.sha256(json.dumps(app.manifest).encode()).hexdigest())
"""


def generate(path: Path, tools: int, agents: int = AGENTS) -> None:
    """Write an app script with `agents` prompt-function agents and `tools` tools."""
    out = ['from ara_sdk import App\n\napp = App("bench-app")\n\n']
    for i in range(agents):
        out.append(
            f"@app.agent(entrypoint={i == 0})\n"
            f"def agent_{i}(input: dict) -> str:\n"
            f'    """Agent {i} coordinates work."""\n'
            f'    name = input.get("name", "world")\n'
            f'    return f"Hello {{name}} from agent {i}"\n\n\n'
        )
    for i in range(tools):
        out.append(
            f"@app.tool()\n"
            f"def tool_{i}(to: str, count: int = {i}, tags: list[str] | None = None) -> dict:\n"
            f'    """Tool {i}: do something useful."""\n'
            f"    import json\n"
            f'    payload = {{"to": to, "count": count, "tags": tags or []}}\n'
            f"    for n in range(count % 3):\n"
            f'        payload[f"step_{{n}}"] = n\n'
            f"    return json.loads(json.dumps(payload))\n\n\n"
        )
    path.write_text("".join(out))


def _once(python: str, child: str, path: Path, attempts: int = 3) -> tuple[float, str]:
    """One whole-process sample; a failed process (a busy shared machine) is retried, then reported."""
    for attempt in range(attempts):
        start = time.perf_counter()
        proc = subprocess.run([python, "-c", child, str(path)], capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode == 0:
            return elapsed, proc.stdout.strip()
        if attempt == attempts - 1:
            raise SystemExit(f"{python} failed on {path}:\n{proc.stderr}")
    raise AssertionError("unreachable")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--original", default="/tmp/orig-0145/bin/python")
    args = parser.parse_args()
    scratch = Path.home() / ".cache" / "ara-bench"  # not /tmp: shared machines clean it under us
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        for tools in TOOL_COUNTS:
            path = Path(tmp) / f"bench_app_{tools}.py"
            generate(path, tools)
            _, ours_hash = _once(sys.executable, OURS, path)
            _, original_hash = _once(args.original, ORIGINAL, path)
            assert ours_hash == original_hash, f"manifests differ for {tools} tools"
            a: list[float] = []
            b: list[float] = []
            for _ in range(args.runs):
                a.append(_once(sys.executable, OURS, path)[0])
                b.append(_once(args.original, ORIGINAL, path)[0])
            ratios = sorted(x / y for x, y in zip(a, b, strict=True))
            low, high = ratios[len(ratios) // 10], ratios[-1 - len(ratios) // 10]
            print(
                f"tools={tools:5d} agents={AGENTS} lines={len(path.read_text().splitlines())}: "
                f"ours {statistics.median(a) * 1e3:.0f} ms, original {statistics.median(b) * 1e3:.0f} ms, "
                f"ratio {statistics.median(ratios):.2f}x (p10-p90 {low:.2f}-{high:.2f}); same manifest",
                flush=True,
            )


if __name__ == "__main__":
    main()
