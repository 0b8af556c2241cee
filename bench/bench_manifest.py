"""Benchmark: import an app script and build its manifest, with ara_core's linear-time
`function_source` (each file parsed once) against an `inspect.getsource`-per-function baseline.

Generated app modules hold 100 agents plus 1, 100 or 1,000 tools. Every measurement runs in a fresh
interpreter (`load_app(path)` then `app.manifest`), best of `--runs`; the import of ara_sdk itself
is outside the timed region.

Run:  uv run python bench/bench_manifest.py [--runs 5] [--write]
With `--write` the figures replace the `## Manifest build` section of docs/benchmarks.md.
This is a benchmark, not a timed test.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
HEADING = "## Manifest build (ara-sdk authoring)"
AGENTS = 100
TOOL_COUNTS = (1, 100, 1_000)

CHILD = r"""
import inspect, json, sys, textwrap, time
import ara_sdk._app as app_module
from ara_core import DeclarationError
from ara_sdk import load_app

def getsource_baseline(fn, *, decorator="@app.agent"):
    try:
        raw = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        raise DeclarationError(f"{decorator} requires source-visible functions (no lambdas/dynamic defs)") from None
    lines = raw.splitlines(keepends=True)
    i = 0
    while i < len(lines) and not lines[i].lstrip().startswith(("def ", "async def ")):
        i += 1
    source = "".join(lines[i:])
    if not source.startswith("def "):
        raise DeclarationError(f"{decorator} only supports standard def functions")
    return source

if sys.argv[2] == "getsource":
    app_module.function_source = getsource_baseline
start = time.perf_counter()
app = load_app(sys.argv[1])
manifest = app.manifest
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "tools": len(manifest["agent"]["tools"]),
                  "agents": len(manifest["agent"]["agents"]),
                  "source_bytes": sum(len(t["source"]) for t in manifest["agent"]["tools"])}))
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


def measure(path: Path, mode: str, runs: int) -> dict:
    best: dict | None = None
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), mode], capture_output=True, text=True, check=True
        )
        sample = json.loads(proc.stdout)
        if best is None or sample["seconds"] < best["seconds"]:
            best = sample
    assert best is not None
    return best


def render(rows: list[dict], runs: int) -> str:
    lines = [
        HEADING,
        "",
        "`bench/bench_manifest.py`: import a generated app script with `load_app` and build `App.manifest`, in a",
        f"fresh interpreter per sample, best of {runs}. Each script has {AGENTS} prompt-function agents plus the",
        "given number of tools. *ours* = `ara_core.function_source` (each file parsed once with `ast`, cached by",
        "path + mtime + size); *baseline* = `inspect.getsource` per function (same decorator stripping).",
        f"Machine: Python {platform.python_version()} on {platform.machine()}, {platform.system()}.",
        "",
        "| tools | agents | file lines | ours (ms) | baseline (ms) | baseline / ours |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['tools']} | {r['agents']} | {r['lines']} | {r['ours'] * 1000:.1f} | {r['baseline'] * 1000:.1f} "
            f"| {r['baseline'] / r['ours']:.2f}x |"
        )
    lines += [
        "",
        "Both columns include executing the module (defining the functions, running the decorators,",
        "signature schemas) and building the manifest; only the source extraction differs. The figures",
        "are a point-in-time measurement on a shared CI-class machine, not a guarantee.",
        "",
        "Reading: both are linear on Python 3.11 — `inspect.getsource` no longer re-scans the whole file",
        "(it starts at `co_firstlineno` and tokenizes the function's block in pure Python, with `linecache`",
        "holding the file), so the gain is a constant factor that shrinks as files grow. At 1,000 tools",
        "about half of *ours* is the one C-level `ast.parse` of the whole file; the rest is executing the",
        "module and the decorators. Rows are kept in dicts keyed by id, so upserts and the manifest build",
        "are linear too (an earlier list-scan upsert cost ~0.1 s at 1,000 tools).",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    current = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if HEADING in current:
        start = current.index(HEADING)
        nxt = current.find("\n## ", start + len(HEADING))
        current = current[:start] + text + (current[nxt + 1 :] if nxt != -1 else "")
    else:
        current = current.rstrip("\n") + "\n\n" + text
    DOC.write_text(current)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for tools in TOOL_COUNTS:
            path = Path(tmp) / f"bench_app_{tools}.py"
            generate(path, tools)
            ours = measure(path, "ours", args.runs)
            base = measure(path, "getsource", args.runs)
            assert (ours["tools"], ours["source_bytes"]) == (base["tools"], base["source_bytes"]), (
                "sources differ"
            )
            row = {
                "tools": tools,
                "agents": ours["agents"],
                "lines": len(path.read_text().splitlines()),
                "ours": ours["seconds"],
                "baseline": base["seconds"],
            }
            rows.append(row)
            print(
                f"tools={tools:5d} agents={row['agents']} ours={row['ours'] * 1000:8.1f} ms "
                f"baseline={row['baseline'] * 1000:8.1f} ms ratio={row['baseline'] / row['ours']:.2f}x",
                flush=True,
            )
    text = render(rows, args.runs)
    if args.write:
        write_section(text)
        print(f"wrote {DOC}")
    else:
        print(text)


if __name__ == "__main__":
    main()
