"""App commands: `ara <command> <app_script.py> [flags]`."""

# Annotations are evaluated (no `from __future__ import annotations`), so cyclopts reads the
# parameter types as they are instead of compiling each string at every `ara` start.
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from cyclopts import Parameter

from .._inputs import build_payload
from .._output import emit, emit_json, guarded, json_wanted, render_run

__all__ = [
    "deploy",
    "local_arguments",
    "events",
    "format_log_row",
    "invite",
    "local",
    "logs",
    "run",
    "run_async",
    "run_status",
    "setup",
    "setup_auth",
]

#: A repeatable `key=value` flag (`--input a=1 --input b=2`); the flag name comes from the parameter.
Pairs = Annotated[list[str] | None, Parameter(negative="", help="key=value, repeatable")]


def _client(app_script: Path) -> Any:
    """Load the app script and build an `AraClient` for it from the environment."""
    from ara_sdk import AraClient, load_app

    app = load_app(app_script)
    # Runtime keys are kept by the app file's directory and slug, so any working directory finds them.
    app_dir = Path(app_script).expanduser().resolve().parent
    return AraClient.from_env(manifest=app.manifest, cwd=os.getcwd(), app_dir=app_dir)


@contextlib.contextmanager
def _progress(label: str) -> Iterator[None]:
    """A spinner on stderr while a slow step runs, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    console = Console(stderr=True)
    started = time.perf_counter()
    with console.status(label + " …"):
        yield
    console.print(f"[green]✓[/green] {label} ({time.perf_counter() - started:.1f} s)")


@guarded
def deploy(
    app_script: Path,
    /,
    *,
    activate: Annotated[bool, Parameter(negative="--no-activate")] = True,
    key_name: str = "",
    rpm: int = 60,
    warm: bool = False,
    warm_agent: str = "",
    warm_workflow: str = "",
    on_existing: Literal["update", "error"] = "update",
    rotate_key: bool = False,
) -> int:
    """Deploy an app: create or update it, sync its secrets and make sure it has a runtime key.

    A redeploy keeps the runtime key stored by the last deploy while the server accepts it;
    `--rotate-key` mints a new one (revoke the old one with `ara keys revoke`).

    Prints `{"ok", "slug", "runtime_key_created", "runtime_key", "warmup_run_id", "next"}`; the
    runtime key is also written to `.runtime-keys.local` (mode 0600) in the current directory, where
    `ara run` finds it. Secret values are never printed.

    Args:
        app_script: Path of the Python file that defines the `App`.
        activate: Activate the app (the default); `--no-activate` deploys it inactive. The original's
            `--activate false` is accepted too.
        key_name: Name of the minted runtime key (default `<slug>-py-local`).
        rpm: Requests per minute allowed for the minted key.
        warm: Run the warm-up agent once after deploying (`--warm true` is accepted too).
        warm_agent: Agent id for the warm-up run (default: the app's default agent).
        warm_workflow: Older spelling of `--warm-agent`.
        on_existing: `error` refuses to update an app that already exists.
        rotate_key: Mint a new runtime key even when the stored one still works.
    """
    client = _client(app_script)
    with _progress(f"Deploying {client.slug} to {client.base_url}"):
        result = client.deploy(
            activate=activate,
            key_name=key_name or None,
            key_rpm=rpm,
            warm=warm,
            warm_agent_id=(warm_agent or warm_workflow) or None,
            on_existing=on_existing,
            rotate_key=rotate_key,
        )
    warmup = result.get("warmup") if isinstance(result.get("warmup"), dict) else {}
    emit(
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
            "warnings": result.get("warnings", []),
            "next": {"setup_auth_command": f"ara setup-auth {app_script}"},
        }
    )
    for warning in result.get("warnings", []):
        sys.stderr.write(f"warning: {warning['path']}: {warning['message']}\n")
    return 0


@guarded
def run(
    app_script: Path,
    /,
    *,
    agent: str = "",
    workflow: str = "",
    message: str = "",
    input: Pairs = None,
    input_json: str = "",
    runtime_key: str = "",
    app_header_key: str = "",
    stream: bool = False,
) -> int:
    """Run an agent of a deployed app and print the result.

    The input is `--input-json` (a JSON object or `@file`) when given, else the `--input k=v`
    pairs; `--message` sets `input.message`. A `run_id` and an `idempotency_key`
    (`<agent slug>-<run id slug>`) are added unless present. Values given as strings are converted
    by the server to the types of the agent's and tools' schemas.

    Args:
        app_script: Path of the Python file that defines the `App`.
        agent: Agent id (default: the app's default agent).
        workflow: Older spelling of `--agent`.
        message: Sets `input.message`.
        input: `key=value` pairs, repeatable.
        input_json: A JSON object, or `@path` to a JSON file.
        runtime_key: Runtime key (default: `ARA_RUNTIME_KEY`, then `.runtime-keys.local`).
        app_header_key: App header key, sent as `X-Ara-App-Key` (default: `ARA_APP_HEADER_KEY`).
        stream: Submit the run and print its events (tool calls, attempts) as they happen, then
            the result.
    """
    from ara_core import new_run_id, slugify

    agent_id = agent or workflow
    payload = build_payload(input, input_json, message)
    run_id = str(payload.get("run_id") or new_run_id())
    payload.setdefault("run_id", run_id)
    payload.setdefault("idempotency_key", f"{slugify(agent_id or 'default-agent')}-{slugify(run_id)}")
    client = _client(app_script)
    if stream:
        from .runs_commands import run_streamed

        return run_streamed(client, agent_id, payload, runtime_key or None, app_header_key or None)
    response = client.run(
        agent_id=agent_id,
        input_payload=payload,
        runtime_key=runtime_key or None,
        app_header_key=app_header_key or None,
    )
    if json_wanted() or not isinstance(response, dict):
        emit_json(response)
    else:
        sys.stdout.write(render_run(response))
    if isinstance(response, dict) and response.get("status") == "failed":
        return 1
    return 0


def _key_kwargs(runtime_key: str, app_header_key: str) -> dict[str, str]:
    """Pass key flags only when set, so the client's own resolution (env, key file) applies."""
    out: dict[str, str] = {}
    if runtime_key:
        out["runtime_key"] = runtime_key
    if app_header_key:
        out["app_header_key"] = app_header_key
    return out


@guarded
def events(
    app_script: Path,
    /,
    *,
    agent: str = "",
    workflow: str = "",
    event_type: str = "webhook.message.received",
    channel: str = "webhook",
    source: str = "webhook",
    message: str = "",
    input: Pairs = None,
    metadata: Pairs = None,
    idempotency_key: str = "",
    runtime_key: str = "",
    app_header_key: str = "",
) -> int:
    """Send an event to the app; hooks listening for its type run.

    The idempotency key (sent as `X-Idempotency-Key`) is `--idempotency-key` or
    `<event type slug>-<new run id slug>`; sending the same key and body again returns the first
    response.

    Args:
        app_script: Path of the Python file that defines the `App`.
        agent: Agent id the event is for (default: the app's default agent).
        workflow: Older spelling of `--agent`.
        event_type: Event type, e.g. `webhook.message.received`.
        channel: Channel name.
        source: Source name.
        message: Event message text.
        input: Payload `key=value` pairs, repeatable.
        metadata: Metadata `key=value` pairs, repeatable.
        idempotency_key: De-duplication key.
        runtime_key: Runtime key (default: `ARA_RUNTIME_KEY`, then `.runtime-keys.local`).
        app_header_key: App header key (default: `ARA_APP_HEADER_KEY`).
    """
    from ara_core import new_run_id, slugify

    from .._inputs import parse_pairs

    key = idempotency_key or f"{slugify(event_type)}-{slugify(new_run_id())}"
    client = _client(app_script)
    emit(
        client.events(
            agent_id=agent or workflow,
            event_type=event_type,
            channel=channel,
            source=source,
            message=message,
            payload=parse_pairs(input),
            metadata=parse_pairs(metadata, flag="--metadata"),
            idempotency_key=key,
            **_key_kwargs(runtime_key, app_header_key),
        )
    )
    return 0


@guarded
def run_async(
    app_script: Path,
    /,
    *,
    agent: str = "",
    workflow: str = "",
    message: str = "",
    input: Pairs = None,
    input_json: str = "",
    response_mode: Literal["poll", "webhook"] = "poll",
    callback_url: str = "",
    callback_secret: str = "",
    callback_event: Annotated[list[str] | None, Parameter(name="--callback-event", negative="")] = None,
    run_id: str = "",
    idempotency_key: str = "",
    runtime_key: str = "",
    app_header_key: str = "",
) -> int:
    """Submit a run without waiting for it; poll it with `run-status`.

    In `webhook` mode the server POSTs the finished run to `--callback-url`, signed with
    `--callback-secret` (`X-Ara-Signature: sha256=<hex>`).

    Args:
        app_script: Path of the Python file that defines the `App`.
        agent: Agent id (default: the app's default agent).
        workflow: Older spelling of `--agent`.
        message: Sets `input.message`.
        input: `key=value` pairs, repeatable.
        input_json: A JSON object, or `@path` to a JSON file.
        response_mode: `poll` or `webhook`.
        callback_url: Where to deliver the result in `webhook` mode (required there).
        callback_secret: HMAC key for the delivery signature.
        callback_event: Events to deliver (default `run.completed` and `run.failed`), repeatable.
        run_id: Run id (default: a new one).
        idempotency_key: Submitting the same key again returns the same run (default `run-<run id>`).
        runtime_key: Runtime key.
        app_header_key: App header key.
    """
    from ara_core import new_run_id, slugify

    from ..errors import CliError

    payload = build_payload(input, input_json, message)
    rid = run_id or new_run_id()
    callback = None
    if response_mode == "webhook":
        if not callback_url:
            raise CliError("run-async with --response-mode webhook requires --callback-url")
        callback = {
            "url": callback_url,
            "secret": callback_secret or "",
            "events": list(callback_event or ["run.completed", "run.failed"]),
        }
    client = _client(app_script)
    emit(
        client.run_async(
            agent_id=agent or workflow,
            input_payload=payload,
            response_mode=response_mode,
            callback=callback,
            run_id=rid,
            idempotency_key=idempotency_key or f"run-{slugify(rid)}",
            **_key_kwargs(runtime_key, app_header_key),
        )
    )
    return 0


@guarded
def run_status(
    app_script: Path,
    /,
    *,
    run_id: str = "",
    wait: bool = False,
    timeout: float = 300.0,
    runtime_key: str = "",
    app_header_key: str = "",
) -> int:
    """Print the status of a run submitted with `run-async`.

    Args:
        app_script: Path of the Python file that defines the `App`.
        run_id: The run id (required).
        wait: Poll until the run is `completed`, `failed` or `cancelled`.
        timeout: With `--wait`, give up after this many seconds.
        runtime_key: Runtime key.
        app_header_key: App header key.
    """
    import time

    from ..errors import CliError

    if not run_id.strip():
        raise CliError("run-status requires --run-id")
    client = _client(app_script)
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        response = client.run_status(run_id=run_id.strip(), **_key_kwargs(runtime_key, app_header_key))
        status = _run_state(response)
        if not wait or status in ("completed", "failed", "cancelled"):
            break
        if time.monotonic() >= deadline:
            raise CliError(f"run {run_id} still {status or 'pending'} after {timeout:g} s")
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)
    emit(response)
    return 1 if wait and status == "failed" else 0


@guarded
def cancel(app_script: Path, /, *, run_id: str = "", runtime_key: str = "", app_header_key: str = "") -> int:
    """Cancel a run: a queued run ends at once; a running run is stopped and its sandbox process
    tree killed. Prints the run after the cancel (`cancelled`, or still `running` with
    `cancel_requested` when its node has not stopped it yet); exits 1 when the run had already ended.

    Args:
        app_script: Path of the Python file that defines the `App`.
        run_id: The run id (required).
        runtime_key: Runtime key.
        app_header_key: App header key.
    """
    from ara_http import ConflictError

    from ..errors import CliError

    if not run_id.strip():
        raise CliError("cancel requires --run-id")
    client = _client(app_script)
    try:
        response = client.cancel(run_id=run_id.strip(), **_key_kwargs(runtime_key, app_header_key))
    except ConflictError:
        raise CliError(f"run {run_id.strip()} already ended; nothing to cancel") from None
    emit(response)
    return 0


def _run_state(response: Any) -> str:
    if not isinstance(response, dict):
        return ""
    run = response.get("run")
    return str((run if isinstance(run, dict) else response).get("status", ""))


@guarded
def logs(app_script: Path, /, *, runtime_key: str = "", app_header_key: str = "") -> int:
    """Stream the app's run logs until Ctrl-C.

    Each line: `<timestamp> <LEVEL> run=<run id> event=<event type> <message>`.

    Args:
        app_script: Path of the Python file that defines the `App`.
        runtime_key: Runtime key.
        app_header_key: App header key.
    """
    client = _client(app_script)
    kwargs = _key_kwargs(runtime_key, app_header_key)
    rows = client.logs(**kwargs) if kwargs else client.logs()
    try:
        for row in rows:
            sys.stdout.write(format_log_row(row) + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        return 0
    return 0


def format_log_row(row: dict[str, Any]) -> str:
    """Format one log row as the original CLI does."""
    stamp = row.get("timestamp") or row.get("created_at") or ""
    level = str(row.get("level") or "info").upper()
    run = row.get("run_id") or "-"
    event = row.get("event_type") or "runtime.event"
    return f"{stamp} {level} run={run} event={event} {row.get('message') or ''}".strip()


@guarded
def setup(app_script: Path, /) -> int:
    """Print the app's setup information (`GET /apps/{app_id}/setup`).

    Args:
        app_script: Path of the Python file that defines the `App`.
    """
    emit(_client(app_script).setup())
    return 0


@guarded
def setup_auth(
    app_script: Path,
    /,
    *,
    x_key_name: str = "",
    x_key_rpm: int = 30,
    ensure_runtime_key: Annotated[bool, Parameter(negative="--no-ensure-runtime-key")] = True,
) -> int:
    """Mint an app header key (and a runtime key if none is set) for callers of the app.

    Export the printed `app_header_key` as `ARA_APP_HEADER_KEY` (or pass `--app-header-key`).

    Args:
        app_script: Path of the Python file that defines the `App`.
        x_key_name: Name of the app header key (default `<slug>-x-header`).
        x_key_rpm: Requests per minute allowed for it.
        ensure_runtime_key: Mint a runtime key when none is set (the default);
            `--no-ensure-runtime-key` skips it.
    """
    client = _client(app_script)
    emit(
        client.setup_auth(
            x_key_name=x_key_name or None,
            x_key_rpm=x_key_rpm,
            ensure_runtime_key=ensure_runtime_key,
        )
    )
    return 0


@guarded
def invite(
    app_script: Path,
    /,
    *,
    email: str = "",
    role: Literal["viewer", "member"] = "viewer",
    expires_hours: int = 168,
) -> int:
    """Invite someone to the app (`POST /apps/{app_id}/invites`).

    Args:
        app_script: Path of the Python file that defines the `App`.
        email: Invitee's email (default: `ARA_DEFAULT_INVITE_EMAIL`).
        role: `viewer` (read) or `member` (deploy and run).
        expires_hours: Hours until the invite expires.
    """
    from ..errors import CliError

    address = email.strip() or os.environ.get("ARA_DEFAULT_INVITE_EMAIL", "").strip()
    if not address:
        raise CliError("invite requires --email (or ARA_DEFAULT_INVITE_EMAIL)")
    emit(_client(app_script).invite(email=address, role=role, expires_in_hours=expires_hours))
    return 0


@guarded
def local(
    app_script: Path,
    /,
    *,
    input: Pairs = None,
) -> int:
    """Call the app's `@app.local_entrypoint()` on this machine; needs no credentials.

    With several parameters, each `--input name=value` is converted to the parameter's annotated
    type (`int`, `float`, `bool`, `dict`/`list` as JSON); a missing parameter without a default is
    an error. An entrypoint with one parameter receives all pairs as one dict of strings.

    Args:
        app_script: Path of the Python file that defines the `App`.
        input: `key=value` pairs passed to the entrypoint, repeatable.
    """
    from ara_http import load_dotenv
    from ara_sdk import load_app

    from .._inputs import parse_pairs

    pairs = parse_pairs(input)
    load_dotenv(Path.cwd())
    app = load_app(app_script)
    entrypoint = getattr(app, "_local_entrypoint", None)
    arguments: dict[str, Any] = dict(pairs)
    if callable(entrypoint):
        arguments = local_arguments(entrypoint, pairs)
    emit({"ok": True, "result": app.call_local_entrypoint(arguments)})
    return 0


def local_arguments(fn: Any, pairs: dict[str, str]) -> dict[str, Any]:
    """Convert `--input` strings to the types of `fn`'s parameters, as the server does for tools.

    Args:
        fn: The local entrypoint.
        pairs: The parsed `--input` pairs.

    Returns:
        The converted arguments; unchanged when `fn` takes one parameter (it gets the whole dict).

    Raises:
        CliError: A value does not fit its parameter's type, or a required parameter is missing.
    """
    import inspect

    from ara_core import coerce_arguments, signature_schema
    from ara_core.errors import ArgumentError

    from ..errors import CliError

    try:
        signature = inspect.signature(fn, eval_str=True)  # reads `from __future__` annotations too
    except (NameError, SyntaxError, TypeError):
        signature = inspect.signature(fn)
    params = [p for p in signature.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if len(params) <= 1:
        return dict(pairs)

    def typed() -> None: ...

    params = [p.replace(annotation=_without_none(p.annotation)) for p in params]
    typed.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    schema = signature_schema(typed)
    missing = [name for name in schema["required"] if name not in pairs]
    if missing:
        wanted = ", ".join(f"{name} ({schema['properties'][name]['type']})" for name in missing)
        example = " ".join(f"--input {name}=..." for name in missing)
        raise CliError(f"the local entrypoint needs {wanted}; pass {example}")
    try:
        return coerce_arguments(schema, pairs)
    except ArgumentError as exc:
        raise CliError(f"--input: {exc}") from None


def _without_none(annotation: Any) -> Any:
    """`int | None` (or `Optional[int]`) -> `int`; anything else unchanged."""
    import types
    import typing

    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation
