"""Shared helpers for the paired benchmarks: throwaway servers, load loops, percentiles, ratios.

A paired benchmark starts its anchor (a bare Starlette app, a raw sqlite3 writer, a bare spawn) and
ours in the same run and measures them in alternating rounds (A B A B ...), so both sides see the same
machine state; each round gives one ratio, and the report shows the median ratio with its spread
(min-max over rounds).

Servers run in their own processes (so the load generator does not share their interpreter):

    uv run python bench/_pairs.py serve KIND --data-dir DIR [--owner-key KEY]

prints one JSON line `{"base_url", "owner_api_key", "pid", "loop", "http", "nodelay"}` once listening and
serves until its stdin closes (or it is killed); its stderr goes to `<DIR>.log`. KIND is one of:

- `ara`: ara-server started the way `ara dev` starts it (`ServerThread(Settings(...))`).
- `ara-uvicorn-run`: the same ara-server app served by plain `uvicorn.run(app, host=, port=)`.
- `bare`: a bare Starlette hello-JSON app (`GET /healthz`) under uvicorn with the flags
  `ServerThread` uses (log level warning, no access log, lifespan on, graceful shutdown 5 s),
  uvicorn binding its own socket and picking its loop and HTTP parser (`auto`).
- `sqlite-ref`: the raw sqlite3 group-commit writer reference behind a bare Starlette
  `POST /v1/apps/{app_id}/events` endpoint, under the same uvicorn flags as `bare`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

HOST = "127.0.0.1"
HERE = Path(__file__).resolve().parent
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
#: Where benchmark scratch files go: not /tmp, which a cleaner on some machines empties mid-run.
SCRATCH = Path(os.environ.get("ARA_BENCH_SCRATCH") or Path.home() / ".cache" / "ara-bench")


def scratch_dir(prefix: str) -> tempfile.TemporaryDirectory[str]:
    """A throwaway directory under `SCRATCH` (`~/.cache/ara-bench`, or `$ARA_BENCH_SCRATCH`),
    removed when the `with` block ends."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=prefix, dir=SCRATCH)


# --------------------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of `values`, by linear interpolation; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(slots=True)
class Sample:
    """One side's measurement in one round: requests per second and latencies in milliseconds."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int = 0


@dataclass(slots=True)
class Spread:
    """A ratio over rounds: its median and its min-max."""

    median: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.median:.3g}x ({self.low:.3g}-{self.high:.3g})"


def spread(values: Sequence[float]) -> Spread:
    """Median and min-max of per-round values."""
    return Spread(statistics.median(values), min(values), max(values))


@dataclass(slots=True)
class Pair:
    """Rounds of one comparison: ours against its anchor."""

    name: str
    ours: list[Sample] = field(default_factory=list[Sample])
    anchor: list[Sample] = field(default_factory=list[Sample])

    def rps_ratio(self) -> Spread:
        """ours rps / anchor rps, per round."""
        return spread([o.rps / a.rps for o, a in zip(self.ours, self.anchor, strict=True)])

    def p99_ratio(self) -> Spread:
        """ours p99 / anchor p99, per round."""
        return spread([o.p99_ms / a.p99_ms for o, a in zip(self.ours, self.anchor, strict=True)])

    def p50_ratio(self) -> Spread:
        """ours p50 / anchor p50, per round."""
        return spread([o.p50_ms / a.p50_ms for o, a in zip(self.ours, self.anchor, strict=True)])


def side_line(label: str, samples: Sequence[Sample]) -> str:
    """One side's medians over rounds (rps, p50, p99) with the round count and any errors."""
    errors = sum(s.errors for s in samples)
    return (
        f"  {label:<44} {statistics.median(s.rps for s in samples):>9.0f} rps"
        f"   p50 {statistics.median(s.p50_ms for s in samples):>7.2f} ms"
        f"   p99 {statistics.median(s.p99_ms for s in samples):>7.2f} ms"
        f"   ({len(samples)} rounds, {sum(s.requests for s in samples)} requests"
        + (f", {errors} ERRORS)" if errors else ")")
    )


def print_pair(pair: Pair, ours_label: str, anchor_label: str) -> None:
    """Print both sides and the ratios (median, min-max over rounds)."""
    print(f"{pair.name}")
    print(side_line(f"ours:   {ours_label}", pair.ours))
    print(side_line(f"anchor: {anchor_label}", pair.anchor))
    print(f"  ratio rps ours/anchor {pair.rps_ratio()}   p99 ours/anchor {pair.p99_ratio()}")


# ------------------------------------------------------------------------------------- load loops


def check_run_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject `--seconds` <= 0 and `--rounds` < 1 with a usage error naming the flag."""
    if args.seconds <= 0:
        parser.error("--seconds must be greater than 0")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")


def have_wrk() -> bool:
    """Whether `wrk` is on PATH."""
    return shutil.which("wrk") is not None


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk_load(
    url: str,
    *,
    connections: int,
    seconds: float,
    method: str = "GET",
    body: str | None = None,
    headers: dict[str, str] | None = None,
    threads: int = 1,
) -> Sample:
    """Drive `url` with wrk (`connections` keep-alive connections for `seconds`).

    Returns:
        rps, p50 and p99 from wrk's latency distribution; errors = socket errors + non-2xx/3xx.
    """
    script_lines = [f"wrk.method = {json.dumps(method)}"]
    if body is not None:
        script_lines.append(f"wrk.body = {json.dumps(body)}")
    for name, value in (headers or {}).items():
        script_lines.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}")
    SCRATCH.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False, dir=SCRATCH) as script:
        script.write("\n".join(script_lines) + "\n")
    try:
        result = subprocess.run(
            [
                "wrk",
                f"-t{min(threads, connections)}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        os.unlink(script.name)
    if result.returncode != 0 or "Requests/sec:" not in result.stdout:
        raise RuntimeError(
            f"wrk failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
        )
    out = result.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = _wrk_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _wrk_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in m.groups())
    return Sample(rps, p50, p99, requests, errors)


async def httpx_load(
    base_url: str,
    *,
    connections: int,
    seconds: float,
    request: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
) -> Sample:
    """`connections` concurrent keep-alive clients calling `request` in a loop for `seconds`."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    # TCP_NODELAY on the client side too, so the load loop itself never waits for a delayed ACK.
    transport = httpx.AsyncHTTPTransport(limits=limits, socket_options=NODELAY)
    async with httpx.AsyncClient(base_url=base_url, transport=transport, timeout=30) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    response = await request(client)
                    ok = response.status_code < 400
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        wall = time.perf_counter() - started
    return Sample(
        len(latencies) / wall, percentile(latencies, 50), percentile(latencies, 99), len(latencies), errors
    )


async def raw_load(
    base_url: str,
    path: str,
    *,
    connections: int,
    seconds: float,
    method: str = "GET",
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> Sample:
    """`connections` keep-alive HTTP/1.1 connections (plain asyncio streams, TCP_NODELAY) sending the
    same request in a loop for `seconds`: a light load generator for when wrk is not installed.

    Reads `Content-Length` and chunked bodies; reconnects when the server closes the connection.
    """
    url = urlsplit(base_url)
    host, port = url.hostname or HOST, url.port or 80
    payload = (body or "").encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body is not None or method not in ("GET", "HEAD"):
        lines.append(f"Content-Length: {len(payload)}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        status = int(head.split(" ", 2)[1])
        fields = dict(line.split(":", 1) for line in head.split("\r\n")[1:] if ":" in line)
        if "chunked" in fields.get("transfer-encoding", ""):
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                await reader.readexactly(size + 2)
            await reader.readuntil(b"\r\n")
        else:
            await reader.readexactly(int(fields.get("content-length", "0")))
        return status, "close" in fields.get("connection", "")

    async def worker() -> None:
        nonlocal errors
        streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                if streams is None:
                    streams = await asyncio.open_connection(host, port)
                    streams[1].get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                reader, writer = streams
                writer.write(request)
                status, close = await read_response(reader)
                ok = status < 400
                if close:
                    writer.close()
                    streams = None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                ok, streams = False, None
            latencies.append((time.perf_counter() - t0) * 1000)
            errors += not ok
        if streams is not None:
            streams[1].close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    wall = time.perf_counter() - started
    return Sample(
        len(latencies) / wall, percentile(latencies, 50), percentile(latencies, 99), len(latencies), errors
    )


def load(
    base_url: str,
    path: str,
    *,
    connections: int,
    seconds: float,
    method: str = "GET",
    body: str | None = None,
    headers: dict[str, str] | None = None,
    tool: str = "auto",
) -> Sample:
    """Drive `base_url + path` with wrk when installed (or `tool="wrk"`), else the asyncio loop of
    `raw_load` (`tool="raw"`), or httpx (`tool="httpx"`, much heavier per request)."""
    if tool == "wrk" or (tool == "auto" and have_wrk()):
        return wrk_load(
            base_url + path,
            connections=connections,
            seconds=seconds,
            method=method,
            body=body,
            headers=headers,
        )
    if tool in ("auto", "raw"):
        return asyncio.run(
            raw_load(
                base_url,
                path,
                connections=connections,
                seconds=seconds,
                method=method,
                body=body,
                headers=headers,
            )
        )
    content = body.encode() if body is not None else None

    def request(client: httpx.AsyncClient) -> Awaitable[httpx.Response]:
        return client.request(method, path, content=content, headers=headers)

    return asyncio.run(httpx_load(base_url, connections=connections, seconds=seconds, request=request))


# ------------------------------------------------------------------------------ throwaway servers


@dataclass(slots=True)
class ServerProcess:
    """A server of one KIND in its own process (see the module docstring)."""

    kind: str
    data_dir: Path
    owner_key: str
    process: subprocess.Popen[str] | None = None
    info: dict[str, Any] = field(default_factory=dict[str, Any])

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return str(self.info["base_url"])

    @property
    def log_path(self) -> Path:
        """The server's stderr: `<data_dir>.log` next to its data dir."""
        return self.data_dir.with_name(self.data_dir.name + ".log")

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-20:])

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Start the process and wait until it answers `GET /healthz`.

        Raises:
            RuntimeError: It exited or did not answer within `timeout` seconds.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "_pairs.py"),
                "serve",
                self.kind,
                "--data-dir",
                str(self.data_dir),
                "--owner-key",
                self.owner_key,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log_path.open("a"),
            text=True,
        )
        assert self.process.stdout is not None
        while True:  # the announcement is the first line that is a JSON object with `base_url`
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(
                    f"{self.kind} server exited with {self.process.wait()}:\n{self._log_tail()}"
                )
            try:
                info = json.loads(line)
            except ValueError:
                continue
            if isinstance(info, dict) and "base_url" in info:
                self.info = dict(info)  # pyright: ignore[reportUnknownArgumentType]
                break
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{self.kind} server did not answer /healthz:\n{self._log_tail()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Close its stdin (it then shuts down) and wait; SIGKILL after 30 s."""
        if self.process is None or self.process.poll() is not None:
            return
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """kill -9 the server process and reap it."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def new_owner_key() -> str:
    """An owner API key for a throwaway ara-server."""
    return f"ara_sk_bench_{uuid.uuid4().hex}"


def deploy(base_url: str, owner_key: str, manifest: dict[str, Any]) -> tuple[str, str]:
    """Deploy `manifest` on an ara-server and create a runtime key with a very high rate limit.

    Returns:
        `(app_id, runtime_key)`.
    """
    owner = {"Authorization": f"Bearer {owner_key}"}
    with httpx.Client(base_url=base_url, timeout=60) as client:
        response = client.post("/apps", headers=owner, json=manifest)
        response.raise_for_status()
        app_id = str(response.json()["app"]["id"])
        response = client.post(f"/apps/{app_id}/keys", headers=owner, json={"requests_per_minute": 1_000_000})
        response.raise_for_status()
        return app_id, str(response.json()["key"])


def free_port() -> int:
    """A currently free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# -------------------------------------------------------------------------------- server children


def _implementations() -> tuple[str, str]:
    """The event loop and HTTP parser uvicorn's `auto` picks here."""
    try:
        import uvloop  # noqa: F401  # pyright: ignore[reportMissingImports, reportUnusedImport]

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    try:
        import httptools  # noqa: F401  # pyright: ignore[reportMissingImports, reportUnusedImport]

        http = "httptools"
    except ImportError:
        http = "h11"
    return loop, http


_ANNOUNCE_FD: list[int] = []


def _in_use(uvicorn_server: Any) -> tuple[str, str]:
    """The event loop and HTTP protocol a started `uvicorn.Server` really uses ("?" when unknown).

    Reads uvicorn internals defensively: a benchmark report, not an API.
    """
    servers = getattr(uvicorn_server, "servers", None) or []
    try:
        loop = type(servers[0].get_loop()).__module__.split(".")[0] if servers else "?"
    except (AttributeError, IndexError):
        loop = "?"
    protocol = getattr(getattr(uvicorn_server, "config", None), "http_protocol_class", None)
    http = getattr(protocol, "__module__", "?").rsplit(".", 1)[-1].removesuffix("_impl")
    return loop, http


def _nodelay(uvicorn_server: Any) -> str:
    """Whether accepted connections get TCP_NODELAY: asyncio sets it on sockets accepted from a
    listening socket whose `proto` is IPPROTO_TCP, and Linux copies it from the listening socket."""
    try:
        sock = (getattr(uvicorn_server, "servers", None) or [])[0].sockets[0]
        inherited = bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        return "yes" if inherited or sock.proto == socket.IPPROTO_TCP else "no"
    except (AttributeError, IndexError, OSError):
        return "?"


def _announce(base_url: str, owner_key: str | None, uvicorn_server: Any = None) -> None:
    loop, http = _in_use(uvicorn_server) if uvicorn_server is not None else ("?", "?")
    info = {
        "base_url": base_url,
        "owner_api_key": owner_key,
        "pid": os.getpid(),
        "loop": loop,
        "http": http,
        "nodelay": _nodelay(uvicorn_server) if uvicorn_server is not None else "?",
    }
    fd = _ANNOUNCE_FD[0] if _ANNOUNCE_FD else sys.stdout.fileno()
    os.write(fd, (json.dumps(info) + "\n").encode())


def _uvicorn_in_thread(app: Any, port: int) -> Any:
    """Serve `app` under uvicorn (ServerThread's flags, uvicorn binding the socket) in a thread."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=HOST,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit(f"uvicorn did not start on port {port}")
        time.sleep(0.01)
    return server, thread


def _bare_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "status": "ok"})

    return Starlette(routes=[Route("/healthz", healthz)])


class GroupCommitWriter:
    """The raw sqlite3 reference: one writer thread; each transaction commits every waiting event.

    WAL journal, `synchronous=FULL` (each commit is fsynced before the caller is answered). Each
    event is one row in `events` plus one line in `logs`, the work ara-server does per event.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.waiting: list[tuple[tuple[Any, ...], asyncio.Future[None], asyncio.AbstractEventLoop]] = []
        self.cond = threading.Condition()
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, app_id TEXT NOT NULL, "
            "idempotency_key TEXT, body TEXT NOT NULL, response TEXT NOT NULL, created_at TEXT NOT NULL)"
        )
        db.execute(
            "CREATE TABLE IF NOT EXISTS logs (id INTEGER PRIMARY KEY AUTOINCREMENT, app_id TEXT NOT NULL, "
            "level TEXT NOT NULL, event_type TEXT NOT NULL, message TEXT NOT NULL, created_at TEXT NOT NULL)"
        )
        self.db = db
        threading.Thread(target=self._run, daemon=True, name="group-commit").start()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.waiting:
                    self.cond.wait()
                batch, self.waiting = self.waiting, []
            error: BaseException | None = None
            try:
                self.db.execute("BEGIN IMMEDIATE")
                self.db.executemany(
                    "INSERT INTO events (id, app_id, idempotency_key, body, response, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [row[:6] for row, _, _ in batch],
                )
                self.db.executemany(
                    "INSERT INTO logs (app_id, level, event_type, message, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(row[1], "info", "event.received", row[6], row[5]) for row, _, _ in batch],
                )
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                error = exc
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
            for _, future, loop in batch:
                loop.call_soon_threadsafe(_settle, future, error)

    async def write(self, row: tuple[Any, ...]) -> None:
        """Queue one event row and wait until its batch is committed (fsynced)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self.cond:
            self.waiting.append((row, future, loop))
            self.cond.notify()
        await future


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def _sqlite_ref_app(path: Path) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    writer = GroupCommitWriter(path)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "status": "ok"})

    async def events(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"ok": False, "error": "invalid_json"}, 400)
        event_type = str(body.get("event_type") or "").strip() if isinstance(body, dict) else ""
        if not event_type:
            return JSONResponse({"ok": False, "error": "invalid_event"}, 422)
        event_id = f"evt_{uuid.uuid4().hex}"
        accepted = datetime.now(UTC).isoformat()
        response = {
            "ok": True,
            "event_id": event_id,
            "event_type": event_type,
            "accepted_at": accepted,
            "matched_workflows": [],
            "runs": [],
        }
        app_id = request.path_params["app_id"]
        key = request.headers.get("x-idempotency-key") or None
        message = f"{event_type}: {str(body.get('message') or '')[:200]}"
        await writer.write((event_id, app_id, key, json.dumps(body), json.dumps(response), accepted, message))
        return JSONResponse(response, 202)

    return Starlette(
        routes=[Route("/healthz", healthz), Route("/v1/apps/{app_id}/events", events, methods=["POST"])]
    )


def _serve(kind: str, data_dir: Path, owner_key: str) -> None:
    """Run a server of `kind` until stdin closes (see the module docstring)."""
    # Only the announcement goes to the parent's pipe (which is not read afterwards); any other
    # output of the server goes to stderr.
    sys.stdout.flush()
    _ANNOUNCE_FD.append(os.dup(1))
    os.dup2(2, 1)
    if kind == "ara":
        from ara_server import ServerThread, Settings
        from ara_server.settings import sandbox_settings_from_env

        # ARA_SANDBOX_* variables apply as under `ara dev` (e.g. ARA_SANDBOX_WARM_PER_APP)
        sandbox = sandbox_settings_from_env(os.environ)
        settings = Settings(data_dir=data_dir, port=0, owner_api_key=owner_key, **sandbox)  # pyright: ignore[reportArgumentType]
        server = ServerThread(settings).start()
        _announce(server.base_url, server.owner_api_key, getattr(server, "_server", None))
        sys.stdin.read()
        server.stop()
        return
    if kind == "ara-uvicorn-run":
        import uvicorn
        from ara_server import Settings, create_app

        port = free_port()
        app = create_app(Settings(data_dir=data_dir, port=port, owner_api_key=owner_key))
        _announce(f"http://{HOST}:{port}", owner_key)

        def stop_on_eof() -> None:
            sys.stdin.read()
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=stop_on_eof, daemon=True).start()
        uvicorn.run(app, host=HOST, port=port, log_level="warning")
        return
    if kind == "bare":
        app = _bare_app()
    elif kind == "sqlite-ref":
        app = _sqlite_ref_app(data_dir / "ref.db")
    else:
        raise SystemExit(f"unknown server kind {kind!r}")
    port = free_port()
    server, thread = _uvicorn_in_thread(app, port)
    _announce(f"http://{HOST}:{port}", None, server)
    sys.stdin.read()
    server.should_exit = True
    thread.join(timeout=30)


def machine() -> str:
    """A one-line description of this machine and interpreter."""
    loop, http = _implementations()
    return (
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"uvicorn auto picks loop={loop} http={http}, "
        f"load generator: {'wrk' if have_wrk() else 'httpx'}, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Run one throwaway server for the paired benchmarks.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("kind", choices=["ara", "ara-uvicorn-run", "bare", "sqlite-ref"])
    serve.add_argument("--data-dir", type=Path, required=True)
    serve.add_argument("--owner-key", default=new_owner_key())
    args = parser.parse_args()
    _serve(args.kind, args.data_dir, args.owner_key)
