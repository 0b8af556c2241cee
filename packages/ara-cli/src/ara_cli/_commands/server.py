"""`ara dev` and `ara demo`: ara-server on this machine."""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .._output import guarded, render_run
from ..errors import CliError

__all__ = [
    "DEFAULT_DEMO_APP",
    "DEFAULT_DEV_PORT",
    "database_url_setting",
    "demo",
    "dev",
    "find_demo_app",
    "server",
    "update_stored_owner_key",
]

#: Port of `ara dev` unless `--port` is given (docs/decisions.md).
DEFAULT_DEV_PORT = 8780
#: The app `ara demo` runs when none is named.
DEFAULT_DEMO_APP = "investor-meeting-bot"


def _default_data_dir() -> Path:
    return Path.home() / ".ara" / "dev"


def database_url_setting(url: str) -> str | None:
    """The SQLAlchemy async URL for `--database-url` (`None`: SQLite in the data dir).

    `postgresql://`, `postgres://` and `postgresql+asyncpg://` URLs use asyncpg; `sqlite:///path`
    and `sqlite+aiosqlite:///path` use aiosqlite.

    Raises:
        CliError: Another scheme.
    """
    url = url.strip()
    if not url:
        return None
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("postgresql", "postgres", "postgresql+asyncpg"):
        return f"postgresql+asyncpg://{rest}"
    if sep and scheme in ("sqlite", "sqlite+aiosqlite"):
        return f"sqlite+aiosqlite://{rest}"
    shown = f"{scheme}://..." if sep else url
    raise CliError(
        f"--database-url: unsupported URL {shown!r}; use postgresql://user@host:port/db "
        "or sqlite:///path/to/ara.db"
    )


def _secrets_key(secrets_key_file: Path | None) -> str | None:
    """`ARA_SECRETS_KEY`, or the content of `--secrets-key-file`."""
    if secrets_key_file is not None:
        try:
            return secrets_key_file.expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CliError(
                f"--secrets-key-file: cannot read {secrets_key_file} ({exc.strerror or exc})"
            ) from None
    return os.environ.get("ARA_SECRETS_KEY", "").strip() or None


def _sandbox_settings(server_module: Any, flags: dict[str, int | bool | None]) -> dict[str, int | bool]:
    """`Settings` keyword arguments of the sandbox: the `ARA_SANDBOX_*` variables, overridden by the
    `--sandbox-*` flags that were given.

    Raises:
        CliError: A variable or flag has a value it cannot take (named in the message).
    """
    try:
        values = server_module.sandbox_settings_from_env(os.environ)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    for name, value in flags.items():
        if value is None:
            continue
        least = 0 if name == "sandbox_warm_per_app" else 1
        if not isinstance(value, bool) and value < least:
            raise CliError(f"--{name.replace('_', '-')} must be at least {least}")
        values[name] = value
    return values


def _start(server: Any, host: str, port: int) -> None:
    try:
        server.start()
    except OSError as exc:
        raise CliError(f"could not listen on {host}:{port} ({exc.strerror or exc}); try --port N") from None
    except RuntimeError as exc:  # the server thread failed to start (database, migrations, secrets key)
        raise CliError(str(exc)) from None


def _owner_key_file(data_dir: Path) -> Path:
    return data_dir / "dev-credentials.json"


def _stored_owner_key(data_dir: Path) -> str | None:
    path = _owner_key_file(data_dir)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    key = record.get("api_key") if isinstance(record, dict) else None
    return key if isinstance(key, str) and key else None


def _store_owner_key(data_dir: Path, key: str) -> None:
    path = _owner_key_file(data_dir)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"api_key": key}, fh, indent=2)
        fh.write("\n")


def _server_module() -> Any:
    """Import `ara_server`, or explain how to install it (plain ara-cli talks to any server over HTTP)."""
    try:
        import ara_server
    except ModuleNotFoundError as exc:
        if (exc.name or "").startswith("ara_server."):
            raise  # a broken installation, not a missing one
        raise CliError(
            f"this command runs ara-server on this machine, which is not installed ({exc}); "
            "install it with: pip install 'ara-cli[server]'  (or: uv tool install 'ara-cli[server]')"
        ) from None
    return ara_server


def update_stored_owner_key(data_dir: Path, *, old_key: str, new_key: str) -> Path | None:
    """After `ara auth rotate`, replace the owner key kept in `<data-dir>/dev-credentials.json`.

    Args:
        data_dir: The `ara dev` data directory.
        old_key: The key that was rotated; the file is changed only when it holds this key.
        new_key: The new key.

    Returns:
        The file's path when it was updated, else `None`.
    """
    if _stored_owner_key(data_dir) != old_key:
        return None
    _store_owner_key(data_dir, new_key)
    return _owner_key_file(data_dir)


@guarded
def dev(
    *,
    port: int = DEFAULT_DEV_PORT,
    host: str = "127.0.0.1",
    data_dir: Path | None = None,
    database_url: str = "",
    sandbox_cpu_seconds: int | None = None,
    sandbox_memory_bytes: int | None = None,
    sandbox_open_files: int | None = None,
    sandbox_processes: int | None = None,
    sandbox_output_bytes: int | None = None,
    sandbox_network: bool | None = None,
    sandbox_warm_per_app: int | None = None,
) -> int:
    """Run ara-server in the foreground for local development (SQLite under the data dir).

    While it runs, `ara deploy` and `ara run` in another shell use it with nothing exported: the
    server's address and owner key are recorded in `~/.ara/dev-servers/<pid>.json` (mode 0600), one
    record per running server; commands use the newest live one, records of servers that died are
    pruned, and each `ara dev` removes only its own record on exit. `~/.ara/credentials.json`
    (hosted-platform login) is never touched. If `ARA_API_KEY` is
    set when `ara dev` starts, it becomes the owner's API key; otherwise a key is generated on the
    first start, printed once, and kept in `<data-dir>/dev-credentials.json` (mode 0600) for restarts.
    Any other client works when pointed at the server with `ARA_API_BASE_URL` and `ARA_API_KEY`.
    Every request is logged on stderr, one line each (method, path, status, duration in
    milliseconds): readable on a terminal, JSON lines otherwise.

    Args:
        port: TCP port on `--host`; 0 picks a free one.
        host: Interface to listen on; keep the default loopback address unless you know why not.
        data_dir: Where the database, app files and logs live (default `~/.ara/dev`).
        database_url: Database to use instead of SQLite in the data dir, e.g.
            `postgresql://user@host:5432/ara` (several nodes can share one; see `ara server`).
        sandbox_cpu_seconds: CPU time of each process running app code, in seconds (default
            `ARA_SANDBOX_CPU_SECONDS`, else 120).
        sandbox_memory_bytes: Address space of each such process, in bytes (default
            `ARA_SANDBOX_MEMORY_BYTES`, else 2 GiB).
        sandbox_open_files: Open files of each such process (default `ARA_SANDBOX_OPEN_FILES`, else
            1024).
        sandbox_processes: Processes and threads of one sandbox (default `ARA_SANDBOX_PROCESSES`,
            else 256).
        sandbox_output_bytes: Bytes of stdout and of stderr kept per call (default
            `ARA_SANDBOX_OUTPUT_BYTES`, else 1 MiB).
        sandbox_network: Let app code open outbound connections (default `ARA_SANDBOX_NETWORK`,
            else on); `--no-sandbox-network` leaves it only loopback.
        sandbox_warm_per_app: Warm sandboxes kept per app environment (default
            `ARA_SANDBOX_WARM_PER_APP`, else 2; 0: a fresh sandbox per call).
    """
    from ara_http import DevServerInfo, clear_dev_server, write_dev_server

    from .._access_log import AccessLog
    from .._logging import configure_logging

    server_module = _server_module()
    ServerThread, Settings = server_module.ServerThread, server_module.Settings  # noqa: N806

    configure_logging(os.environ.get("ARA_LOG_LEVEL") or "INFO")  # WARNING hides the access log

    directory = (data_dir or _default_data_dir()).expanduser().resolve()
    directory.mkdir(parents=True, exist_ok=True)
    env_key = os.environ.get("ARA_API_KEY", "").strip()
    owner_key = env_key or _stored_owner_key(directory)
    settings = Settings(
        data_dir=directory,
        host=host,
        port=port,
        owner_api_key=owner_key,
        database_url=database_url_setting(database_url),
        secrets_key=_secrets_key(None),
        allow_private_callbacks=True,  # local development: webhooks to local receivers
        **_sandbox_settings(
            server_module,
            {
                "sandbox_cpu_seconds": sandbox_cpu_seconds,
                "sandbox_memory_bytes": sandbox_memory_bytes,
                "sandbox_open_files": sandbox_open_files,
                "sandbox_processes": sandbox_processes,
                "sandbox_output_bytes": sandbox_output_bytes,
                "sandbox_network": sandbox_network,
                "sandbox_warm_per_app": sandbox_warm_per_app,
            },
        ),
    )
    server = ServerThread(settings, middleware=AccessLog)  # one log line per request on stderr
    _start(server, host, port)
    key = server.owner_api_key or owner_key or ""
    generated = not env_key and owner_key is None and bool(key)
    if generated:
        _store_owner_key(directory, key)
    write_dev_server(
        DevServerInfo(
            api_base_url=server.base_url,
            api_key=key,
            pid=os.getpid(),
            data_dir=str(directory),
            started_at=time.time(),
        )
    )
    out = sys.stdout
    out.write(f"ara-server listening on {server.base_url}  (data: {directory})\n")
    if env_key:
        out.write("owner API key: the ARA_API_KEY of this shell\n")
    elif generated:
        out.write(f"owner API key (shown once; kept in {_owner_key_file(directory)}): {key}\n")
    else:
        out.write(f"owner API key: as before (kept in {_owner_key_file(directory)})\n")
    out.write(
        "In another shell, `ara deploy app.py` and `ara run app.py --agent ID` use this server.\n"
        f"Other clients: export ARA_API_BASE_URL={server.base_url} ARA_API_KEY=<owner key>\n"
        "Press Ctrl-C to stop.\n"
    )
    out.flush()
    stop = threading.Event()
    code = 0
    # Ctrl-C and `kill` both stop the server cleanly, even when the shell started us with SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            if not server.is_alive():
                code = 1
                break
        out.write("\nstopping ara-server\n")
        out.flush()
    finally:
        clear_dev_server(os.getpid())
        server.stop()
    return code


#: Port of `ara server` unless `--port` is given.
DEFAULT_SERVER_PORT = 8780


@guarded
def server(
    *,
    database_url: str = "",
    host: str = "127.0.0.1",
    port: int = DEFAULT_SERVER_PORT,
    workers: int = 2,
    data_dir: Path | None = None,
    node_id: str = "",
    lease_seconds: float = 30.0,
    run_timeout_seconds: float = 600.0,
    secrets_key_file: Path | None = None,
    without_scheduler: bool = False,
    allow_private_callbacks: bool = False,
    sandbox_cpu_seconds: int | None = None,
    sandbox_memory_bytes: int | None = None,
    sandbox_open_files: int | None = None,
    sandbox_processes: int | None = None,
    sandbox_output_bytes: int | None = None,
    sandbox_network: bool | None = None,
    sandbox_warm_per_app: int | None = None,
) -> int:
    """Run one ara-server node in the foreground, logging JSON lines to stderr.

    Several nodes started with the same `--database-url` (PostgreSQL) share the work: any node
    takes API requests, every node's workers claim runs with a lease, and a run whose node dies is
    taken over by another once its lease expires. Every node of one database needs the same
    secrets key (`ARA_SECRETS_KEY` or `--secrets-key-file`; a node with another key refuses to
    start); it also opens the pepper API keys are hashed with, so keys work on every node.

    The owner's API key is `ARA_API_KEY` when set; otherwise one is generated on the first start of
    a database and printed once (kept in `<data-dir>/dev-credentials.json`, mode 0600).

    Args:
        database_url: `postgresql://user@host:5432/db` (several nodes) or `sqlite:///path` (one
            node); default SQLite in the data dir.
        host: Interface to listen on.
        port: TCP port; 0 picks a free one.
        workers: Runs this node executes at once.
        data_dir: App working dirs, the SQLite database and the local key files (default
            `~/.ara/server`).
        node_id: This node's name in run leases (default `<hostname>-<pid>-<random>`).
        lease_seconds: How long a run stays with a node that stopped sending heartbeats, in seconds.
        run_timeout_seconds: Limit of one attempt of a run whose subagent declares no timeout, in
            seconds.
        secrets_key_file: File holding the secrets key (instead of `ARA_SECRETS_KEY`).
        without_scheduler: Fire no schedules from this node (the other nodes fire them).
        allow_private_callbacks: Accept webhook callback URLs on loopback and private addresses
            (off by default: a runtime key could otherwise make the server call into its own
            network; `ara dev` allows them).
        sandbox_cpu_seconds: CPU time of each process running app code, in seconds (default
            `ARA_SANDBOX_CPU_SECONDS`, else 120).
        sandbox_memory_bytes: Address space of each such process, in bytes (default
            `ARA_SANDBOX_MEMORY_BYTES`, else 2 GiB).
        sandbox_open_files: Open files of each such process (default `ARA_SANDBOX_OPEN_FILES`, else
            1024).
        sandbox_processes: Processes and threads of one sandbox (default `ARA_SANDBOX_PROCESSES`,
            else 256).
        sandbox_output_bytes: Bytes of stdout and of stderr kept per call (default
            `ARA_SANDBOX_OUTPUT_BYTES`, else 1 MiB).
        sandbox_network: Let app code open outbound connections (default `ARA_SANDBOX_NETWORK`,
            else on); `--no-sandbox-network` leaves it only loopback.
        sandbox_warm_per_app: Warm sandboxes kept per app environment (default
            `ARA_SANDBOX_WARM_PER_APP`, else 2; 0: a fresh sandbox per call).
    """
    import structlog

    from .._logging import redact_secrets

    server_module = _server_module()
    ServerThread, Settings = server_module.ServerThread, server_module.Settings  # noqa: N806
    if workers < 1:
        raise CliError("--workers must be at least 1")
    if lease_seconds <= 0 or run_timeout_seconds <= 0:
        raise CliError("--lease-seconds and --run-timeout-seconds must be positive")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    log = structlog.get_logger("ara.server")
    directory = (data_dir or Path.home() / ".ara" / "server").expanduser().resolve()
    directory.mkdir(parents=True, exist_ok=True)
    env_key = os.environ.get("ARA_API_KEY", "").strip()
    owner_key = env_key or _stored_owner_key(directory)
    settings = Settings(
        data_dir=directory,
        database_url=database_url_setting(database_url),
        host=host,
        port=port,
        owner_api_key=owner_key,
        workers=workers,
        node_id=node_id.strip(),
        lease_seconds=lease_seconds,
        run_timeout_seconds=run_timeout_seconds,
        secrets_key=_secrets_key(secrets_key_file),
        scheduler_interval_seconds=0.0 if without_scheduler else 1.0,
        allow_private_callbacks=allow_private_callbacks,
        **_sandbox_settings(
            server_module,
            {
                "sandbox_cpu_seconds": sandbox_cpu_seconds,
                "sandbox_memory_bytes": sandbox_memory_bytes,
                "sandbox_open_files": sandbox_open_files,
                "sandbox_processes": sandbox_processes,
                "sandbox_output_bytes": sandbox_output_bytes,
                "sandbox_network": sandbox_network,
                "sandbox_warm_per_app": sandbox_warm_per_app,
            },
        ),
    )
    node = ServerThread(settings)
    _start(node, host, port)
    key = node.owner_api_key or owner_key or ""
    generated = not env_key and owner_key is None and bool(node.owner_api_key)
    if generated:
        _store_owner_key(directory, key)
    log.info(
        "listening",
        url=node.base_url,
        node_id=settings.node_id,
        workers=workers,
        database="postgresql" if settings.url.startswith("postgresql") else "sqlite",
        data_dir=str(directory),
    )
    if generated:
        sys.stdout.write(f"owner API key (shown once; kept in {_owner_key_file(directory)}): {key}\n")
        sys.stdout.flush()
    stop = threading.Event()
    code = 0
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            if not node.is_alive():
                code = 1
                log.error("server stopped unexpectedly", node_id=settings.node_id)
                break
    finally:
        node.stop()
        log.info("stopped", node_id=settings.node_id)
    return code


def find_demo_app(name: str) -> Path:
    """Locate an example app by name or path.

    Args:
        name: A path to an app script or its directory, or the name of an example app shipped with
            ara (`apps/<name>/app.py` in the repository, or bundled in the ara-cli wheel).

    Returns:
        The path of the app script.

    Raises:
        CliError: No such app.
    """
    candidate = Path(name).expanduser()
    if candidate.is_file():
        return candidate.resolve()
    if (candidate / "app.py").is_file():
        return (candidate / "app.py").resolve()
    here = Path(__file__).resolve()
    roots = [here.parents[1] / "_demo_apps"]
    roots += [parent / "apps" for parent in here.parents]
    for root in roots:
        script = root / name / "app.py"
        if script.is_file():
            return script
    raise CliError(
        f"demo app not found: {name!r}; pass a path to an app script, e.g. `ara demo path/to/app.py`"
    )


def _sample_input(script: Path, message: str) -> dict[str, Any]:
    sample = script.parent / "sample_input.json"
    payload: dict[str, Any] = {}
    if sample.is_file():
        loaded = json.loads(sample.read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise CliError(f"{sample} must hold a JSON object")
        payload = loaded
    if message:
        payload["message"] = message
    return payload


@guarded
def demo(app: str = DEFAULT_DEMO_APP, /, *, agent: str = "", message: str = "") -> int:
    """Deploy and run an example app on a throwaway local server, then shut it down.

    Starts ara-server on a free loopback port with a temporary data dir, deploys the app, runs its
    entrypoint agent on the app's `sample_input.json`, prints the tool calls and the result, and exits
    (0 when the run completed). Uses the offline model unless `ARA_MODEL_BASE_URL` is set.

    Args:
        app: An example app name (default: the investor meeting bot) or a path to an app script.
        agent: Agent to run (default: the app's default agent).
        message: Overrides the sample input's `message`.
    """
    from ara_core import new_run_id, slugify
    from ara_sdk import AraClient, load_app

    from .._logging import configure_logging

    configure_logging()  # the server's logs go to stderr (WARNING unless ARA_LOG_LEVEL), never stdout

    server_module = _server_module()
    ServerThread, Settings = server_module.ServerThread, server_module.Settings  # noqa: N806
    script = find_demo_app(app)
    application = load_app(script)
    manifest = application.manifest
    agent_id = agent or str(manifest.get("agent", {}).get("default_agent_id", ""))
    payload = _sample_input(script, message)
    run_id = new_run_id()
    payload.setdefault("run_id", run_id)
    payload.setdefault("idempotency_key", f"{slugify(agent_id or 'default-agent')}-{slugify(run_id)}")
    out = sys.stdout
    json_output = os.environ.get("ARA_OUTPUT", "").strip().lower() == "json"
    with tempfile.TemporaryDirectory(prefix="ara-demo-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", port=0)
        with ServerThread(settings) as server:
            client = AraClient(
                manifest=manifest, api_key=server.owner_api_key, base_url=server.base_url, cwd=Path(tmp)
            )
            if not json_output:
                out.write(f"ara demo: {manifest.get('name')} ({script})\n")
                out.write(f"  server  {server.base_url} (temporary)\n")
            deployed = client.deploy()
            if not json_output:
                out.write(f"  deploy  app_id={deployed.get('app_id')} slug={deployed.get('slug')}\n")
                out.write(f"  run     agent={agent_id} input={json.dumps(payload)}\n\n")
                out.flush()
            started = time.perf_counter()
            response = client.run(
                agent_id=agent_id, input_payload=payload, runtime_key=deployed.get("runtime_key")
            )
            elapsed = time.perf_counter() - started
            client.close()
    if json_output:
        out.write(json.dumps(response, indent=2) + "\n")
    else:
        out.write(render_run(response))
        out.write(f"({elapsed:.2f} s)\n")
    return 0 if isinstance(response, dict) and response.get("status") == "completed" else 1
