"""Benchmark: `import ara_sdk`, ours against the original ara-sdk 0.1.45, whole process, interleaved.

Each sample is one fresh interpreter running `import ara_sdk` (ours from the workspace
environment, the original from its own virtual environment on the same base Python). Pairs are
interleaved (ours, original, ours, original, ...) so both see the same machine state; the ratio of
each pair is reported as median with min-max spread.

* warm: bytecode caches present (the usual case after install).
* cold: no bytecode at all (`PYTHONDONTWRITEBYTECODE=1` and an empty `-X pycache_prefix`
  directory per run), so every module, standard library included, compiles from source; both sides
  pay the same for the standard library.

Setup (once):  uv venv /tmp/orig-0145 && uv pip install --python /tmp/orig-0145 ara-sdk==0.1.45
Run:           uv run python bench/bench_import.py [--runs 30] [--original /tmp/orig-0145/bin/python]
This is a benchmark, not a timed test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def _once(python: str, statement: str, cold: bool) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    args = [python]
    with tempfile.TemporaryDirectory() as prefix:
        if cold:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            args += ["-X", f"pycache_prefix={prefix}"]
        start = time.perf_counter()
        subprocess.run([*args, "-c", statement], check=True, env=env, cwd=prefix)
        return time.perf_counter() - start


def pair(ours: str, original: str, statement: str, runs: int, cold: bool) -> dict[str, float]:
    """Interleaved runs; returns medians (seconds) and the per-pair ratio's median, min and max."""
    _once(ours, statement, cold)  # warm the page cache
    _once(original, statement, cold)
    a: list[float] = []
    b: list[float] = []
    for _ in range(runs):
        a.append(_once(ours, statement, cold))
        b.append(_once(original, statement, cold))
    ratios = sorted(x / y for x, y in zip(a, b, strict=True))
    return {
        "ours": statistics.median(a),
        "original": statistics.median(b),
        "ratio": statistics.median(ratios),
        "ratio_low": ratios[len(ratios) // 10],
        "ratio_high": ratios[-1 - len(ratios) // 10],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--original", default="/tmp/orig-0145/bin/python")
    args = parser.parse_args()
    bare = pair(sys.executable, args.original, "pass", args.runs, cold=False)
    print(
        f"bare interpreter: ours {bare['ours'] * 1e3:.1f} ms, original venv {bare['original'] * 1e3:.1f} ms"
    )
    for cold in (False, True):
        for statement in (
            "import ara_sdk",
            "from ara_sdk import App" if cold else "import ara_sdk; ara_sdk.App",
        ):
            r = pair(sys.executable, args.original, statement, args.runs, cold)
            print(
                f"{'cold' if cold else 'warm'} {statement!r}: ours {r['ours'] * 1e3:.1f} ms, original "
                f"{r['original'] * 1e3:.1f} ms, ratio {r['ratio']:.2f}x "
                f"(p10-p90 {r['ratio_low']:.2f}-{r['ratio_high']:.2f})"
            )


if __name__ == "__main__":
    main()
