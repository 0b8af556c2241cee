"""App commands: `ara <command> <app_script.py> [flags]` (spec §5.2)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from cyclopts import Parameter

from .._inputs import build_payload
from .._output import emit_json, guarded, render_run

__all__ = ["deploy", "run"]

JsonFlag = Annotated[bool, Parameter(name="--json", negative="", help="Print the JSON response.")]


def _client(app_script: Path) -> Any:
    """Load the app script and build an `AraClient` for it from the environment (spec §4.2)."""
    from ara_sdk import AraClient, load_app

    app = load_app(app_script)
    return AraClient.from_env(manifest=app.manifest, cwd=os.getcwd())


def _is_true(value: str) -> bool:
    return value.strip().lower() == "true"


@guarded
def deploy(
    app_script: Path,
    /,
    *,
    activate: str = "true",
    key_name: str = "",
    rpm: int = 60,
    warm: str = "false",
    warm_agent: str = "",
    warm_workflow: str = "",
    on_existing: Literal["update", "error"] = "update",
) -> int:
    """Deploy an app: create or update it, sync its secrets and mint a runtime key (spec §3.4).

    Prints `{"ok", "slug", "runtime_key_created", "runtime_key", "warmup_run_id", "next"}`; the
    runtime key is also written to `.runtime-keys.local` (mode 0600) in the current directory, where
    `ara run` finds it. Secret values are never printed.

    Args:
        app_script: Path of the Python file that defines the `App`.
        activate: `false` leaves the app inactive; anything else activates it.
        key_name: Name of the minted runtime key (default `<slug>-py-local`).
        rpm: Requests per minute allowed for the minted key.
        warm: `true` runs the warm-up agent once after deploying.
        warm_agent: Agent id for the warm-up run (default: the app's default agent).
        warm_workflow: Older spelling of `--warm-agent` (spec C12).
        on_existing: `error` refuses to update an app that already exists.
    """
    client = _client(app_script)
    result = client.deploy(
        activate=activate.strip().lower() != "false",
        key_name=key_name or None,
        key_rpm=rpm,
        warm=_is_true(warm),
        warm_agent_id=(warm_agent or warm_workflow) or None,
        on_existing=on_existing,
    )
    warmup = result.get("warmup") if isinstance(result.get("warmup"), dict) else {}
    emit_json(
        {
            "ok": True,
            "app_id": result.get("app_id", ""),
            "slug": result.get("slug", ""),
            "runtime_key_created": bool(result.get("runtime_key_created", True)),
            "runtime_key": result.get("runtime_key", ""),
            "runtime_key_written": True,
            "runtime_key_path": result.get("runtime_key_path", ""),
            "warmup_run_id": (warmup or {}).get("run_id", "") if warmup else "",
            "secrets": result.get("secrets", {"synced": [], "referenced_only": []}),
            "next": {"setup_auth_command": f"ara setup-auth {app_script}"},
        }
    )
    return 0


@guarded
def run(
    app_script: Path,
    /,
    *,
    agent: str = "",
    workflow: str = "",
    message: str = "",
    input: Annotated[list[str] | None, Parameter(name="--input", negative="", help="key=value, repeatable")] = None,
    input_json: str = "",
    runtime_key: str = "",
    app_header_key: str = "",
    json_output: JsonFlag = False,
) -> int:
    """Run an agent of a deployed app and print the result (spec §5.2).

    The input is `--input-json` (a JSON object or `@file`) when given, else the `--input k=v`
    pairs; `--message` sets `input.message`. A `run_id` and an `idempotency_key`
    (`<agent slug>-<run id slug>`) are added unless present. Values given as strings are converted
    by the server to the types of the agent's and tools' schemas.

    Args:
        app_script: Path of the Python file that defines the `App`.
        agent: Agent id (default: the app's default agent).
        workflow: Older spelling of `--agent` (spec C12).
        message: Sets `input.message`.
        input: `key=value` pairs, repeatable.
        input_json: A JSON object, or `@path` to a JSON file.
        runtime_key: Runtime key (default: `ARA_RUNTIME_KEY`, then `.runtime-keys.local`).
        app_header_key: App header key, sent as `X-Ara-App-Key` (default: `ARA_APP_HEADER_KEY`).
        json_output: Print the JSON response even on a terminal.
    """
    from ara_core import new_run_id, slugify

    agent_id = agent or workflow
    payload = build_payload(input, input_json, message)
    run_id = str(payload.get("run_id") or new_run_id())
    payload.setdefault("run_id", run_id)
    payload.setdefault("idempotency_key", f"{slugify(agent_id or 'default-agent')}-{slugify(run_id)}")
    client = _client(app_script)
    response = client.run(
        agent_id=agent_id,
        input_payload=payload,
        runtime_key=runtime_key or None,
        app_header_key=app_header_key or None,
    )
    if json_output or not sys.stdout.isatty() or not isinstance(response, dict):
        emit_json(response)
    else:
        sys.stdout.write(render_run(response))
    if isinstance(response, dict) and response.get("status") == "failed":
        return 1
    return 0
