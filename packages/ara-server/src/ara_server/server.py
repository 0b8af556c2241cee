"""Running ara-server: in the foreground (`serve`) or in a background thread (`ServerThread`)."""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from .app import create_app
from .engine import ModelProvider
from .settings import SecretsKeyError, Settings
from .store import Store

__all__ = ["ServerThread", "serve"]


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `(host, port)`.

    Created with `proto=IPPROTO_TCP` (asyncio sets `TCP_NODELAY` on connections accepted from such
    a socket) and with `TCP_NODELAY` set on it (Linux copies it to accepted connections; uvloop sets
    it itself): without it, a keep-alive response waits for the peer's delayed ACK (~40 ms).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


_heap_frozen = False


def freeze_startup_heap() -> None:
    """Move the objects alive after start-up (imported modules, the app, its engines) out of the
    cyclic garbage collector's reach, once per process.

    A full (oldest-generation) collection walks every tracked object; with ara-server's imports
    that is ~100,000 objects and ~40 ms with the event loop stopped, a few times a second under
    load (objects of requests in flight get promoted and trigger it), which showed as p99 latency
    and ~15 us of CPU per request. Frozen objects are still freed by reference counting; only
    cycles among them are never collected (start-up objects live as long as the process anyway).
    """
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.collect()
        gc.freeze()


def _preflight(settings: Settings) -> None:
    """Open the store once before serving (migrations, the secrets key), so that a node that cannot
    start says why in one line instead of a lifespan traceback.

    Raises:
        RuntimeError: The store cannot be opened.
    """
    failure: list[BaseException] = []

    async def check() -> None:
        store = Store(settings)
        try:
            await store.open()
        finally:
            await store.close()

    def run() -> None:
        try:
            asyncio.run(check())
        except BaseException as exc:  # reported below
            failure.append(exc)

    thread = threading.Thread(target=run, name="ara-server-preflight")
    thread.start()
    thread.join()
    if failure:
        exc = failure[0]
        if isinstance(exc, SecretsKeyError):
            raise RuntimeError(f"ara-server failed to start: {exc}") from None
        raise RuntimeError(f"ara-server failed to start: {type(exc).__name__}: {exc}") from exc


class ServerThread:
    """ara-server under uvicorn in a background thread, on a loopback port (0 = a free one).

    Use as a context manager, or call `start()` and `stop()`. `middleware`, when given, wraps the
    ASGI app that uvicorn serves (e.g. `ara dev`'s access log); `app` stays the unwrapped app.

    Attributes:
        settings: The settings it runs with.
        base_url: `http://<host>:<port>` once started.
        owner_api_key: The owner's clear API key: the one given in the settings, or one generated on
            the first start of a new data dir (shown once); `None` when the data dir already had an
            owner key and none was given.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        provider: ModelProvider | None = None,
        startup_timeout: float = 30.0,
        middleware: Callable[[Any], Any] | None = None,
    ) -> None:
        self.settings = settings
        self.app = create_app(settings, provider=provider)
        self.middleware = middleware
        self.startup_timeout = startup_timeout
        self.base_url = ""
        self.owner_api_key: str | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> ServerThread:
        """Bind the port, start serving and wait until the app has started.

        Raises:
            OSError: The port cannot be bound.
            RuntimeError: The server failed to start (e.g. the database cannot be opened, or this
                node's secrets key does not open the database's secrets).
        """
        _preflight(self.settings)
        sock = _bind(self.settings.host, self.settings.port)
        port = sock.getsockname()[1]
        host = self.settings.host
        self.base_url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        # loop/http "auto": uvloop and httptools when installed (they are dependencies of
        # ara-server where wheels exist), else asyncio and h11.
        config = uvicorn.Config(
            self.middleware(self.app) if self.middleware else self.app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=5,
            loop="auto",
            http="auto",
        )
        self._server = uvicorn.Server(config)
        server = self._server

        def run() -> None:
            try:
                # Server.run picks the configured event loop (uvloop when installed); signal
                # handlers are only installed in the main thread, so none here.
                server.run(sockets=[sock])
            except BaseException as exc:  # reported by start()
                self._error = exc
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name="ara-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"ara-server failed to start: {self._error or 'timed out'}")
            time.sleep(0.02)
        generated = getattr(self.app.state, "owner_api_key", None)
        self.owner_api_key = generated or self.settings.owner_api_key
        freeze_startup_heap()
        return self

    def is_alive(self) -> bool:
        """Whether the server thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """Stop serving and wait for the thread (up to 30 s)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve(settings: Settings) -> None:
    """Run ara-server in the foreground until interrupted."""
    app = create_app(settings)
    freeze_startup_heap()  # the imports and the app; objects made by the lifespan stay collectable
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
