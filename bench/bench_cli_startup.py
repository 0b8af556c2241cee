"""Benchmark: wall time of `ara --help` and `ara run --help` against a bare `python -c pass`, and
against the original ara-sdk 0.1.45's `ara --help` (installed in its own virtualenv).

Run:  uv run python bench/bench_cli_startup.py [--runs 30]
Results go to docs/benchmarks.md by hand (this is a benchmark, not a timed test).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ORIGINAL_VENV = REPO / ".bench-venvs" / "ara-sdk-0.1.45"


def _ensure_original() -> Path | None:
    ara = ORIGINAL_VENV / "bin" / "ara"
    if ara.exists():
        return ara
    uv = shutil.which("uv")
    if not uv:
        return None
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(ORIGINAL_VENV)], check=True)
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(ORIGINAL_VENV / "bin" / "python"),
            "ara-sdk==0.1.45",
        ],
        check=True,
    )
    return ara


def _time(cmd: list[str], runs: int) -> tuple[float, float]:
    subprocess.run(cmd, capture_output=True, check=False)  # warm the page cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=False)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), min(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    ours = Path(sys.executable).parent / "ara"
    rows = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("ara --help", [str(ours), "--help"]),
        ("ara run --help", [str(ours), "run", "--help"]),
    ]
    original = _ensure_original()
    if original:
        rows.append(("original ara --help (0.1.45)", [str(original), "--help"]))
        rows.append(("original python -c pass", [str(ORIGINAL_VENV / "bin" / "python"), "-c", "pass"]))
    print(f"| command | median ms | min ms |  ({args.runs} runs each)")
    print("|---|---|---|")
    for label, cmd in rows:
        median, best = _time(cmd, args.runs)
        print(f"| `{label}` | {median:.1f} | {best:.1f} |")


if __name__ == "__main__":
    main()
