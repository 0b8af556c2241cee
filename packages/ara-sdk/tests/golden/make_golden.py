"""Produce golden manifests with the original ara-sdk, used as a black box.

Each fixture app is loaded by a published ara-sdk in its own virtual environment, the way that
version's `ara` command loads a script (module `ara_user_app`, first `App` among the module's
globals, or the app behind a `Job`), and its manifest is written as `<app>.<version>.json` with
the same `json.dumps` options the tests use. Only these JSON outputs are committed.

Usage (needs the package registry once per version):

    uv venv /tmp/orig-0145 && uv pip install --python /tmp/orig-0145 ara-sdk==0.1.45
    uv venv /tmp/orig-0130 && uv pip install --python /tmp/orig-0130 ara-sdk==0.1.30
    uv venv /tmp/orig-0158 && uv pip install --python /tmp/orig-0158 ara-sdk==0.1.58
    python packages/ara-sdk/tests/golden/make_golden.py

Which versions load which app is in `golden_cases.py` (shared with the tests).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from golden_cases import CASES, dump_snippet  # noqa: E402


def main() -> int:
    failures = 0
    for case in CASES:
        python = Path(f"/tmp/orig-{case.version.replace('.', '')}") / "bin" / "python"
        if not python.exists():
            print(f"skip {case.name} {case.version}: {python} missing", file=sys.stderr)
            failures += 1
            continue
        proc = subprocess.run(
            [str(python), "-c", dump_snippet(), str(case.app)],
            capture_output=True,
            text=True,
            cwd=case.app.parent,
            timeout=60,
        )
        if proc.returncode != 0:
            print(f"FAIL {case.name} {case.version}:\n{proc.stderr}", file=sys.stderr)
            failures += 1
            continue
        case.golden.write_text(proc.stdout)
        print(f"wrote {case.golden.relative_to(HERE)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
