"""A recording HTTP server on loopback for observing a client as a black box.

Every request is answered by a `Responder` (by default `PlausibleResponder`, a small in-memory
imitation of the automation, session files and terminal routes) and recorded as an `Exchange`:
method, path, query, headers (credentials redacted), body and the response that was sent.

Used to write down what the original ara-sdk 0.1.58 CLI sends (see
docs/wire-automations-sessions.md and tests/fixtures/original_0158_calls.json), and reusable by
end-to-end tests that need a server whose answers they control::

    with RecordingServer() as rec:
        subprocess.run([ara, "runtime", "automation", "list"], env={..., "ARA_API_BASE_URL": rec.base_url})
        assert rec.exchanges[-1].path == "/automations/jobs"

Run it by hand with ``python tests/support/recording_server.py --port 8765`` (127.0.0.1 only); each
exchange is printed to stdout as one JSON line.
"""

from __future__ import annotations

import argparse
import base64
import email.policy
import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.parser import BytesParser
from typing import Any, Protocol

import msgspec
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

#: Header names whose values never reach a recording (compared lower-case).
SECRET_HEADERS = frozenset({"authorization", "x-ara-app-key", "cookie", "apikey", "proxy-authorization"})

#: Headers that vary per run or per machine and say nothing about the wire contract.
NOISY_HEADERS = frozenset({"host", "content-length", "connection", "accept-encoding"})


class Body(msgspec.Struct, kw_only=True):
    """A request or response body as recorded.

    Attributes:
        kind: "none" (no body), "json" (``value`` is the decoded JSON), "text" (``value`` is the
            UTF-8 text) or "base64" (``value`` is the base64 of bytes that are not UTF-8).
        value: see ``kind``; None when ``kind`` is "none".
    """

    kind: str
    value: Any = None

    @classmethod
    def from_bytes(cls, raw: bytes) -> Body:
        if not raw:
            return cls(kind="none")
        try:
            return cls(kind="json", value=json.loads(raw))
        except ValueError:
            pass
        try:
            return cls(kind="text", value=raw.decode("utf-8"))
        except UnicodeDecodeError:
            return cls(kind="base64", value=base64.b64encode(raw).decode("ascii"))


class Exchange(msgspec.Struct, kw_only=True):
    """One recorded request and the response it got.

    Attributes:
        method: HTTP method, upper case.
        path: URL path without the query string, percent-decoded.
        raw_path: the same path exactly as sent (percent-encoding kept).
        query: query parameters in order, as ``[name, value]`` pairs.
        headers: request headers (lower-case names); credentials are replaced by a redaction
            marker that keeps the scheme (``"Bearer <redacted>"``), noisy headers are dropped.
        body: the request body.
        status: the status code sent back.
        response: the response body sent back.
    """

    method: str
    path: str
    raw_path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: Body
    status: int
    response: Body


class Raw(msgspec.Struct, kw_only=True):
    """A non-JSON answer: ``content`` bytes sent with ``media_type``."""

    content: bytes
    media_type: str = "application/octet-stream"


class Responder(Protocol):
    """Decides the answer to a request: returns ``(status, value)`` where value is a JSON-able
    object, a `Raw` answer, or None for an empty body. ``body`` is the recorded request body and
    ``raw`` the bytes as received (for multipart uploads)."""

    def __call__(
        self, method: str, path: str, query: dict[str, str], body: Body, raw: bytes, content_type: str
    ) -> tuple[int, Any]: ...


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers as recorded: lower-case names, credentials redacted, noisy headers dropped."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if key in NOISY_HEADERS:
            continue
        if key in SECRET_HEADERS:
            scheme, _, rest = value.partition(" ")
            value = f"{scheme} <redacted>" if rest else "<redacted>"
        out[key] = value
    return out


class PlausibleResponder:
    """In-memory answers shaped like the automation, session files and terminal routes.

    State lives in the instance: ``jobs`` (automation jobs by id), ``runs`` (automation runs) and
    ``files`` (absolute workspace path → bytes). Routes it does not know get ``404 {"detail": "not found"}``.
    Set ``fail`` to ``{(method, path): status}`` to force an error answer for one route, and
    ``exec_result`` to change what ``/session/terminal/exec`` answers. Ids are sequential
    (``job_1``, ``arun_1``); ``clock`` gives the timestamps (default: the current UTC time).
    """

    workspace = "/root/.ara/workspace"

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.runs: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}
        self.fail: dict[tuple[str, str], int] = {}
        self.heartbeats = 0
        self.exec_result: dict[str, Any] = {"ok": True, "exit_code": 0, "stderr": "", "timed_out": False}
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._seq = 0

    def _next(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}_{self._seq}"

    def _now(self) -> str:
        return self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")

    def _abs(self, path: str) -> str:
        if not path:
            return self.workspace
        return path if path.startswith("/") else f"{self.workspace}/{path}"

    def __call__(
        self, method: str, path: str, query: dict[str, str], body: Body, raw: bytes, content_type: str
    ) -> tuple[int, Any]:
        if (method, path) in self.fail:
            return self.fail[(method, path)], {"detail": "forced failure"}
        data: dict[str, Any] = body.value if body.kind == "json" and isinstance(body.value, dict) else {}
        route = (method, path)
        if route == ("GET", "/automations/jobs"):
            return 200, {"jobs": list(self.jobs.values())}
        if route == ("POST", "/automations/jobs"):
            job_id = self._next("job")
            job = {
                "id": job_id,
                "enabled": True,
                **data,
                "created_at": self._now(),
                "updated_at": self._now(),
            }
            self.jobs[job_id] = job
            run = {
                "id": self._next("arun"),
                "job_id": job_id,
                "state": "failed",
                "attempt": 1,
                "error": "sandbox unavailable",
                "scheduled_for": self._now(),
                "created_at": self._now(),
            }
            self.runs.append(run)
            return 200, {"job": job}
        if path.startswith("/automations/jobs/"):
            job_id = path.removeprefix("/automations/jobs/")
            if job_id not in self.jobs:
                return 404, {"detail": "job not found"}
            if method == "PATCH":
                self.jobs[job_id].update(data, updated_at=self._now())
                return 200, {"job": self.jobs[job_id]}
            if method == "DELETE":
                del self.jobs[job_id]
                return 200, {"ok": True, "deleted": True, "id": job_id}
        if route == ("GET", "/automations/runs"):
            state = query.get("state")
            rows = [r for r in self.runs if not state or r["state"] == state]
            return 200, {"runs": rows}
        if method == "POST" and path.startswith("/automations/runs/") and path.endswith("/replay"):
            run_id = path.removeprefix("/automations/runs/").removesuffix("/replay")
            original = next((r for r in self.runs if r["id"] == run_id), None)
            if original is None:
                return 404, {"detail": "run not found"}
            new = {
                **original,
                "id": self._next("arun"),
                "state": "queued",
                "attempt": 1,
                "error": None,
                "replay_of": run_id,
                "created_at": self._now(),
            }
            self.runs.append(new)
            return 200, {"ok": True, "run": new}
        if route == ("POST", "/session/heartbeat"):
            self.heartbeats += 1
            return 200, {"ok": True, "session_id": "sess_rec", "last_seen_at": self._now()}
        if route == ("POST", "/session/terminal/exec"):
            command = str(data.get("command", ""))
            return 200, {"stdout": f"ran: {command}\n", **self.exec_result}
        if path.startswith("/session/files"):
            return self._files(method, path, query, data, raw, content_type)
        return 404, {"detail": f"no route {method} {path}"}

    def _files(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        data: dict[str, Any],
        raw: bytes,
        content_type: str,
    ) -> tuple[int, Any]:
        target = self._abs(str(query.get("path") or ""))
        if (method, path) == ("GET", "/session/files"):
            prefix = target.rstrip("/") + "/"
            entries = [
                {"name": p.removeprefix(prefix), "path": p, "type": "file", "size": len(c)}
                for p, c in sorted(self.files.items())
                if p.startswith(prefix) and "/" not in p.removeprefix(prefix)
            ]
            return 200, {"ok": True, "path": target, "entries": entries}
        if (method, path) == ("GET", "/session/files/read"):
            if target not in self.files:
                return 404, {"detail": "file not found"}
            return 200, {"ok": True, "path": target, "content": self.files[target].decode("utf-8", "replace")}
        if (method, path) == ("GET", "/session/files/download"):
            if target not in self.files:
                return 404, {"detail": "file not found"}
            return 200, Raw(content=self.files[target])
        if (method, path) == ("POST", "/session/files/write"):
            written = []
            for item in data.get("writes") or []:
                dest = self._abs(str(item.get("path", "")))
                self.files[dest] = str(item.get("content", "")).encode()
                written.append({"path": dest, "bytes": len(self.files[dest])})
            return 200, {"ok": True, "written": written, "restarted": False}
        if (method, path) == ("POST", "/session/files/upload"):
            fields = parse_multipart(raw, content_type)
            upload = fields.get("file")
            if upload is None:
                return 422, {"detail": "missing file part"}
            filename, content = upload
            dest_field = fields.get("path", ("", b""))[1].decode()
            dest = self._abs(dest_field) if dest_field else f"{self.workspace}/{filename}"
            self.files[dest] = content
            return 200, {"ok": True, "path": dest, "bytes": len(content)}
        return 404, {"detail": f"no route {method} {path}"}


def parse_multipart(raw: bytes, content_type: str) -> dict[str, tuple[str, bytes]]:
    """Split a multipart/form-data body into ``{field name: (filename or "", bytes)}``."""
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    fields: dict[str, tuple[str, bytes]] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        fields[name] = (part.get_filename() or "", payload if isinstance(payload, bytes) else b"")
    return fields


class RecordingServer:
    """Serves a `Responder` on 127.0.0.1 in a background thread and records every exchange.

    Args:
        responder: answers requests; default a fresh `PlausibleResponder`.
        port: TCP port; 0 (default) picks a free one.
        on_exchange: called with each `Exchange` after it is recorded (e.g. to print it).

    Use as a context manager; ``base_url`` is ``http://127.0.0.1:<port>`` once entered.
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        port: int = 0,
        on_exchange: Callable[[Exchange], None] | None = None,
    ) -> None:
        self.responder: Responder = responder if responder is not None else PlausibleResponder()
        self.exchanges: list[Exchange] = []
        self._on_exchange = on_exchange
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self.port: int = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        app = Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    self._handle,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
                )
            ]
        )
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        body = Body.from_bytes(raw)
        query = list(request.query_params.multi_items())
        content_type = request.headers.get("content-type", "")
        status, value = self.responder(request.method, request.url.path, dict(query), body, raw, content_type)
        if isinstance(value, Raw):
            payload, media_type = value.content, value.media_type
        else:
            payload = b"" if value is None else json.dumps(value).encode()
            media_type = "application/json" if payload else None
        exchange = Exchange(
            method=request.method,
            path=request.url.path,
            raw_path=request.scope.get("raw_path", b"").decode("latin-1") or request.url.path,
            query=query,
            headers=redact_headers(dict(request.headers)),
            body=body,
            status=status,
            response=Body.from_bytes(payload),
        )
        with self._lock:
            self.exchanges.append(exchange)
        if self._on_exchange is not None:
            self._on_exchange(exchange)
        return Response(payload, status_code=status, media_type=media_type)

    def clear(self) -> list[Exchange]:
        """Return the exchanges recorded so far and forget them."""
        with self._lock:
            taken, self.exchanges = self.exchanges, []
        return taken

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("recording server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Record HTTP exchanges on 127.0.0.1 (one JSON line each).")
    parser.add_argument("--port", type=int, default=8765, help="TCP port on 127.0.0.1 (default 8765)")
    args = parser.parse_args(argv)

    def emit(exchange: Exchange) -> None:
        sys.stdout.write(msgspec.json.encode(exchange).decode() + "\n")
        sys.stdout.flush()

    with RecordingServer(port=args.port, on_exchange=emit) as rec:
        sys.stderr.write(f"recording on {rec.base_url}\n")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
