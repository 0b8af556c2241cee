"""Record what the original ara-sdk 0.1.58 CLI sends for the automation, files and session commands.

Runs each command of ``SCENARIOS`` as a subprocess (its own empty HOME and working directory, a
dummy ``ARA_API_KEY``) against a `RecordingServer` with a `PlausibleResponder`, and writes every
request/response pair to ``tests/fixtures/original_0158_calls.json``. The original client is a
black box here: only its command line and its traffic are observed.

Usage::

    uv venv /tmp/orig-0158 && uv pip install --python /tmp/orig-0158 ara-sdk==0.1.58
    uv run python tests/support/record_original_0158.py --ara /tmp/orig-0158/bin/ara

Timestamps from the responder are frozen; the multipart boundary and the client's own keepalive
timestamps still vary between recordings.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.recording_server import PlausibleResponder, RecordingServer  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "original_0158_calls.json"
DUMMY_API_KEY = "ara_sk_recording_dummy"


@dataclass
class Scenario:
    """One command line. ``setup`` adjusts the responder before the command runs."""

    name: str
    argv: list[str]
    setup: Callable[[PlausibleResponder], None] | None = None
    files: dict[str, str] = field(default_factory=dict)


def _fail(method: str, path: str, status: int) -> Callable[[PlausibleResponder], None]:
    def setup(responder: PlausibleResponder) -> None:
        responder.fail[(method, path)] = status

    return setup


def _clear_failures(responder: PlausibleResponder) -> None:
    responder.fail.clear()


def _exec_fails(responder: PlausibleResponder) -> None:
    responder.exec_result = {"ok": False, "exit_code": 3, "stderr": "boom\n", "timed_out": False}


SCENARIOS: list[Scenario] = [
    Scenario("automation list (empty)", ["automation", "list"]),
    Scenario(
        "automation add every_seconds, agent_turn payload gets deliver/channel defaults",
        [
            "automation",
            "add",
            "--name",
            "nightly",
            "--every-seconds",
            "3600",
            "--payload-json",
            '{"kind": "agent_turn", "message": "summarise the inbox"}',
        ],
    ),
    Scenario(
        "automation add cron with every option",
        [
            "automation",
            "add",
            "--name",
            "weekly",
            "--cron",
            "0 9 * * 1",
            "--timezone",
            "Europe/Paris",
            "--payload-json",
            '{"kind": "app_agent_call", "agent_id": "reporter", "input": {"week": true}}',
            "--execution-mode",
            "centralized_ok",
            "--misfire-policy",
            "skip_if_late",
            "--max-retries",
            "5",
            "--retry-backoff-seconds",
            "10",
        ],
    ),
    Scenario(
        "automation add --deliver on a payload without kind",
        [
            "automation",
            "add",
            "--name",
            "ping",
            "--every-seconds",
            "60",
            "--payload-json",
            '{"message": "ping"}',
            "--deliver",
        ],
    ),
    Scenario(
        "automation add with an empty payload is refused locally",
        ["automation", "add", "--name", "x", "--every-seconds", "60", "--payload-json", "{}"],
    ),
    Scenario("automation list (three jobs)", ["automation", "list"]),
    Scenario(
        "automation update several fields",
        [
            "automation",
            "update",
            "--id",
            "job_1",
            "--name",
            "nightly-2",
            "--payload-json",
            '{"kind": "agent_turn", "message": "again"}',
            "--max-retries",
            "1",
            "--retry-backoff-seconds",
            "2",
        ],
    ),
    Scenario("automation update --disable", ["automation", "update", "--id", "job_1", "--disable"]),
    Scenario("automation enable", ["automation", "enable", "--id", "job_1"]),
    Scenario("automation disable", ["automation", "disable", "--id", "job_3"]),
    Scenario("automation update unknown id (404)", ["automation", "update", "--id", "job_404", "--enable"]),
    Scenario("automation enable with an id needing quoting", ["automation", "enable", "--id", "a/b c"]),
    Scenario("automation runs", ["automation", "runs"]),
    Scenario("automation runs --state failed", ["automation", "runs", "--state", "failed"]),
    Scenario("automation replay", ["automation", "replay", "--run-id", "arun_2"]),
    Scenario("automation remove without --yes is refused locally", ["automation", "remove", "--id", "job_1"]),
    Scenario("automation remove", ["automation", "remove", "--id", "job_1", "--yes"]),
    Scenario(
        "automation remove, delete fails, disable fallback",
        ["automation", "remove", "--id", "job_3", "--yes"],
        setup=_fail("DELETE", "/automations/jobs/job_3", 500),
    ),
    Scenario(
        "automation remove, delete fails, --no-disable-fallback",
        ["automation", "remove", "--id", "job_3", "--yes", "--no-disable-fallback"],
    ),
    Scenario(
        "automation purge (one delete still failing)",
        ["automation", "purge", "--all", "--yes"],
    ),
    Scenario(
        "automation purge (all succeed)",
        ["automation", "purge", "--all", "--yes"],
        setup=_clear_failures,
    ),
    Scenario("files list (workspace root)", ["files", "list"]),
    Scenario(
        "files write inline",
        ["files", "write", "--path", "notes/today.txt", "--content", "hello from the original client"],
    ),
    Scenario(
        "files write from a local file",
        ["files", "write", "--path", "notes/from-file.txt", "--content-file", "local.txt"],
        files={"local.txt": "line one\nline two\n"},
    ),
    Scenario("files list --path relative", ["files", "list", "--path", "notes"]),
    Scenario("files read", ["files", "read", "--path", "notes/today.txt"]),
    Scenario("files read missing (404)", ["files", "read", "--path", "notes/missing.txt"]),
    Scenario(
        "files upload to the default path",
        ["files", "upload", "--local", "report.csv"],
        files={"report.csv": "a,b\n1,2\n"},
    ),
    Scenario(
        "files upload to an explicit path",
        ["files", "upload", "--local", "report.csv", "--path", "data/in.csv"],
        files={"report.csv": "a,b\n1,2\n"},
    ),
    Scenario("files download to the current directory", ["files", "download", "--path", "report.csv"]),
    Scenario(
        "files download to --output",
        ["files", "download", "--path", "data/in.csv", "--output", "copy.csv"],
    ),
    Scenario("files list --path absolute", ["files", "list", "--path", "/root/.ara/workspace/data"]),
    Scenario("session exec", ["session", "exec", "--command", "echo hi && pwd"]),
    Scenario(
        "session exec timeout clamped up to 5",
        ["session", "exec", "--command", "true", "--timeout-seconds", "1"],
    ),
    Scenario(
        "session exec timeout clamped down to 600",
        ["session", "exec", "--command", "true", "--timeout-seconds", "5000"],
    ),
    Scenario(
        "session exec whose command fails",
        ["session", "exec", "--command", "exit 3"],
        setup=_exec_fails,
    ),
    Scenario("session exec without --command is refused locally", ["session", "exec"]),
    Scenario(
        "session keepalive two heartbeats",
        ["session", "keepalive", "--iterations", "2", "--interval-seconds", "1"],
    ),
    Scenario(
        "session keepalive gives up after max failures",
        ["session", "keepalive", "--iterations", "5", "--interval-seconds", "1", "--max-failures", "2"],
        setup=_fail("POST", "/session/heartbeat", 503),
    ),
]


def _parse_stdout(text: str) -> Any:
    """The CLI prints one or more indented JSON documents; return one value or a list of them."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    index = 0
    text = text.strip()
    while index < len(text):
        try:
            value, end = decoder.raw_decode(text, index)
        except ValueError:
            return text
        values.append(value)
        index = end
        while index < len(text) and text[index].isspace():
            index += 1
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def _stderr_summary(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def record(ara: Path) -> dict[str, Any]:
    """Run every scenario against a fresh recording server and return the fixture document."""
    responder = PlausibleResponder()
    frozen = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
    responder.clock = lambda: frozen
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, RecordingServer(responder) as rec:
        home = Path(tmp) / "home"
        work = Path(tmp) / "work"
        home.mkdir()
        work.mkdir()
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "ARA_API_BASE_URL": rec.base_url,
            "ARA_API_KEY": DUMMY_API_KEY,
        }
        for scenario in SCENARIOS:
            if scenario.setup is not None:
                scenario.setup(responder)
            for name, content in scenario.files.items():
                (work / name).write_text(content)
            rec.clear()
            proc = subprocess.run(
                [str(ara), "runtime", *scenario.argv],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            exchanges = msgspec.to_builtins(rec.clear())
            stdout = proc.stdout.replace(str(work), "<workdir>")
            results.append(
                {
                    "name": scenario.name,
                    "argv": ["ara", "runtime", *scenario.argv],
                    "local_files": scenario.files,
                    "exit_code": proc.returncode,
                    "stdout": _parse_stdout(stdout),
                    "stderr_last_line": _stderr_summary(proc.stderr.replace(str(work), "<workdir>")),
                    "exchanges": exchanges,
                }
            )
    document = {
        "client": "ara-sdk 0.1.58 (PyPI), console script `ara`",
        "recorded_with": "tests/support/record_original_0158.py",
        "environment": {
            "ARA_API_BASE_URL": "<recording server>",
            "ARA_API_KEY": "<dummy, redacted in headers>",
        },
        "scenarios": results,
    }
    text = json.dumps(document)
    if DUMMY_API_KEY in text:
        raise RuntimeError("the dummy API key leaked into the recording")
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--ara", type=Path, default=Path("/tmp/orig-0158/bin/ara"), help="original `ara` script"
    )
    parser.add_argument("--out", type=Path, default=FIXTURE, help="fixture file to write")
    args = parser.parse_args(argv)
    document = record(args.ara)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {len(document['scenarios'])} scenarios to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
