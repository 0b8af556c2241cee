"""Paired benchmark: `ara run app.py ...` against a running server, ours against the original
ara-sdk 0.1.45 CLI, in one run, interleaved.

One ara-server (`ServerThread`, SQLite, offline model) serves the test app `tests/apps/calc_app.py`
(a prompt-function agent with two tools), deployed once with a runtime key allowed 100,000
requests a minute (the default 60 would refuse longer runs of this benchmark). Each sample is one
whole `ara run` process of the same command line against that server:

    ara run calc_app.py --agent calculator --input a=20 --input b=22

alternately the original's `ara` (0.1.45, in its own virtualenv under `.bench-venvs/`, installed on
first use) and ours, so both see the same machine and the same server. Both answers are checked
("The sum is 42."). The whole-process time includes the interpreter start, the CLI's imports,
loading the app file, the HTTP round trip and the server's run (the same for both).

* warm: bytecode caches as installed (ours: whatever `uv sync` wrote; the original: pip's).
* cold: no bytecode at all for either side (`PYTHONDONTWRITEBYTECODE=1` and an empty
  `PYTHONPYCACHEPREFIX` per process, so every module is compiled from source each time).

Prints each side's median and the ratio ours/original per pair as median (min-max, and p10-p90),
for the whole-process wall time and, on a second line, for the CPU time (user + system) of the
`ara` process alone: the CLI's own cost, which a busy machine inflates less than the wall time
(the server's work is not in it).

`--without-parser` adds a third side to each pair: ours with the command function called directly
(`ara_cli._commands.app_commands.run(...)` with the same arguments, cyclopts not imported), which
measures what the argument parser's import costs an `ara run` (a measurement aid, not a way to run
`ara`).

Run:  uv run python bench/bench_cli_run.py [--runs 15] [--without-parser]
Results go to docs/benchmarks.md (a benchmark, not a timed test).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _pairs import ServerProcess, machine, new_owner_key, percentile, scratch_dir
from bench_cli_startup import _ensure_original  # pyright: ignore[reportPrivateUsage]

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "tests" / "apps" / "calc_app.py"
RUN_ARGS = ["run", "calc_app.py", "--agent", "calculator", "--input", "a=20", "--input", "b=22"]
EXPECTED = "The sum is 42."
#: `--without-parser`: the same run with the command function called directly (cyclopts not imported;
#: a stand-in `Parameter` lets the command module's annotations import).
WITHOUT_PARSER = (
    "import gc, sys, types\n"
    "gc.disable()\n"
    "stub = types.ModuleType('cyclopts')\n"
    "stub.Parameter = lambda *args, **kwargs: None\n"
    "sys.modules['cyclopts'] = stub\n"
    "from pathlib import Path\n"
    "from ara_cli._commands.app_commands import run\n"
    "code = run(Path('calc_app.py'), agent='calculator', input=['a=20', 'b=22'])\n"
    "gc.freeze()\n"
    "sys.exit(code)\n"
)


def _env(home: Path, base_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ARA_", "VIRTUAL_ENV", "UV_"))}
    env.update(HOME=str(home), ARA_API_BASE_URL=base_url, NO_COLOR="1", **extra)
    return env


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _once(
    ara: Path, workdir: Path, env: dict[str, str], cold: bool, scratch: Path, command: list[str] | None = None
) -> tuple[float, float]:
    """One `ara run` process (or `command`, run with `ara`'s virtualenv): (wall ms, CPU ms of it)."""
    env = dict(env, VIRTUAL_ENV=str(ara.parent.parent), PATH=f"{ara.parent}{os.pathsep}{env.get('PATH', '')}")
    prefix = scratch / f"pyc-{time.perf_counter_ns()}"
    if cold:
        prefix.mkdir()
        env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=str(prefix))
    cpu_before = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(
        command or [str(ara), *RUN_ARGS], cwd=workdir, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    cpu = _children_cpu() - cpu_before
    if cold:
        shutil.rmtree(prefix, ignore_errors=True)
    if proc.returncode != 0 or EXPECTED not in proc.stdout:
        raise SystemExit(
            f"{ara} run failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    return elapsed * 1000, cpu * 1000


def _report(label: str, ours: list[float], original: list[float], side: str = "ours") -> None:
    ratios = [o / r for o, r in zip(ours, original, strict=True)]
    print(
        f"  {label:<10} {side} {statistics.median(ours):7.1f} ms"
        f"   original {statistics.median(original):7.1f} ms"
        f"   ratio ours/original {statistics.median(ratios):.3g}x"
        f" (min-max {min(ratios):.3g}-{max(ratios):.3g},"
        f" p10-p90 {percentile(ratios, 10):.3g}-{percentile(ratios, 90):.3g}, {len(ratios)} pairs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="pairs per mode (default 15)")
    parser.add_argument("--modes", nargs="+", choices=["warm", "cold"], default=["warm", "cold"])
    parser.add_argument(
        "--without-parser",
        action="store_true",
        help="also time ours with the command function called directly (cyclopts not imported)",
    )
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    original = _ensure_original()
    if original is None:
        raise SystemExit("uv is needed to install the original ara-sdk 0.1.45")
    ours = Path(sys.executable).parent / "ara"
    print(f"machine: {machine()}")
    with scratch_dir("ara-bench-cli-run-") as tmp:
        root = Path(tmp)
        home, workdir = root / "home", root / "work"
        home.mkdir()
        workdir.mkdir()
        shutil.copy(APP, workdir / "calc_app.py")
        owner_key = new_owner_key()
        with ServerProcess("ara", root / "server", owner_key) as server:
            deploy_env = _env(home, server.base_url, ARA_API_KEY=owner_key)
            deploy_env.update(VIRTUAL_ENV=str(original.parent.parent))
            deployed = subprocess.run(
                [str(original), "deploy", "calc_app.py", "--rpm", "100000"],
                cwd=workdir,
                env=deploy_env,
                capture_output=True,
                text=True,
                check=False,
            )
            if deployed.returncode != 0:
                raise SystemExit(f"deploy failed:\n{deployed.stdout}\n{deployed.stderr}")
            runtime_key = str(json.loads(deployed.stdout)["runtime_key"])
            env = _env(home, server.base_url, ARA_API_KEY=owner_key, ARA_RUNTIME_KEY=runtime_key)
            print(
                f"`ara {' '.join(RUN_ARGS)}` against one ara-server, {args.runs} interleaved pairs per mode"
            )
            for mode in args.modes:
                cold = mode == "cold"
                _once(original, workdir, env, cold, root)  # warm the page cache and the server
                _once(ours, workdir, env, cold, root)
                a: list[tuple[float, float]] = []
                b: list[tuple[float, float]] = []
                direct: list[tuple[float, float]] = []
                bare = [str(ours.parent / "python"), "-c", WITHOUT_PARSER]
                for _ in range(args.runs):
                    b.append(_once(original, workdir, env, cold, root))
                    a.append(_once(ours, workdir, env, cold, root))
                    if args.without_parser:
                        direct.append(_once(ours, workdir, env, cold, root, bare))
                _report(mode, [w for w, _ in a], [w for w, _ in b])
                _report(f"{mode} cpu", [c for _, c in a], [c for _, c in b])
                if args.without_parser:
                    _report(mode, [w for w, _ in direct], [w for w, _ in b], "ours without parser")
                    _report(f"{mode} cpu", [x for _, x in direct], [x for _, x in b], "ours without parser")


if __name__ == "__main__":
    main()
