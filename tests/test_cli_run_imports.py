"""What an `ara run` process loads: a real `ara run` against a real server prints the answer and
imports neither the manifest model (only the app's slug is needed), nor rich, structlog, asyncio,
the SSE parser or cyclopts' help renderers (docs/benchmarks.md, "`ara run` against the original
CLI")."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from e2e_support import APPS

pytestmark = pytest.mark.e2e

#: Modules (and packages) an `ara run` of a sync run must not load.
NOT_LOADED = (
    "ara_core._models",
    "ara_core._view",
    "ara_core._wire",
    "ara_core._coerce",
    "ara_server",
    "asyncio",
    "rich",
    "structlog",
    "httpx_sse",
    "click",
    "pygments",
    "docstring_parser",
    "cyclopts.help",
)

_PROBE = """
import atexit, json, sys
from ara_cli.__main__ import main
atexit.register(lambda: sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n"))
sys.argv = ["ara", *sys.argv[1:]]
sys.exit(main())
"""


def test_ara_run_loads_only_what_a_run_needs(cli, workdir):
    app = workdir / "calc_app.py"
    app.write_text((APPS / "calc_app.py").read_text())
    deployed = cli("deploy", "calc_app.py")
    assert deployed.returncode == 0, deployed.stderr
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, "run", "calc_app.py", "--agent", "calculator"]
        + ["--input", "a=20", "--input", "b=22"],
        cwd=workdir,
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    stderr, _, listing = proc.stderr.rpartition("MODULES ")
    assert proc.returncode == 0, proc.stdout[-3000:] + stderr[-3000:]
    assert json.loads(proc.stdout)["result"]["output_text"] == "The sum is 42."
    modules = set(json.loads(listing))
    assert {"cyclopts", "httpx", "ara_sdk", "ara_core"} <= modules  # the probe saw the real run
    loaded = sorted(m for m in modules if m in NOT_LOADED or m.split(".")[0] in NOT_LOADED)
    assert loaded == []
