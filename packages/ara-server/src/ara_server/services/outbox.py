"""Webhook deliveries of finished runs: a durable outbox (stored with the run's final status, in the
same transaction), delivered by any node, signed over the exact bytes sent, retried with backoff
across restarts. The callback URL policy is checked again at send time (DNS rebinding)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import structlog
from ara_http import ApiError, AsyncHttpClient
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import ApiProblem
from ..settings import Settings
from ..store import Store, now, webhooks
from ..store import outbox as outbox_store
from .callbacks import check_callback_url, is_public_address
from .logbus import LogBus
from .policy import backoff_seconds
from .runs import public_run

__all__ = ["CallbackRefused", "Outbox", "Resolver", "callback_target", "delivery_body", "sign_delivery"]

log = structlog.get_logger("ara_server.outbox")

#: Longest wait for one webhook POST, in seconds.
DELIVERY_TIMEOUT_SECONDS = 10.0
#: Longest delay between two attempts of a delivery, in seconds.
DELIVERY_BACKOFF_CAP_SECONDS = 600.0


#: Resolves `(host, port)` to IP address strings (`getaddrinfo`); replaceable in tests.
Resolver = Callable[[str, int], Awaitable[list[str]]]


class CallbackRefused(Exception):
    """The callback URL breaks the callback URL policy at send time (malformed, or its host now
    resolves to a loopback, private or otherwise non-public address). The delivery is not retried."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to now (the event loop's `getaddrinfo`).

    Raises:
        OSError: The name does not resolve (a temporary failure: the delivery is retried).
    """
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def callback_target(
    url: str, *, allow_private: bool, resolve: Resolver = system_resolver
) -> tuple[str, dict[str, str]]:
    """Where to send a delivery now: the URL to connect to and the extra headers.

    The callback URL was checked when the run was submitted, but a host name can resolve elsewhere
    by the time the run finishes (DNS rebinding). Unless `allow_private`, the host is resolved again
    and every address must be public; an `http` URL is then pinned to the checked address (the
    request goes to that IP with the original `Host` header), so the connection cannot be steered
    to another address between the check and the request. An `https` URL keeps its host name (its
    certificate must match the name, which an internal service's does not).

    Raises:
        CallbackRefused: The URL is malformed, or the host resolves to a non-public address.
        OSError: The host does not resolve now (retry later).
    """
    try:
        await check_callback_url(url, allow_private=True, where="callback.url")  # syntax only
    except ApiProblem as exc:
        raise CallbackRefused(exc.message) from None
    if allow_private:
        return url, {}
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(host).compressed]
        literal = True
    except ValueError:
        addresses = await resolve(host, port)
        literal = False
    private = [a for a in addresses if not is_public_address(a)]
    if private or not addresses:
        raise CallbackRefused(
            f"callback host {host!r} now resolves to a loopback, private or otherwise non-public address "
            f"({', '.join(private) or 'none'}); the delivery is not sent"
        )
    if literal or parts.scheme != "http":
        return url, {}
    pinned = ipaddress.ip_address(addresses[0].split("%", 1)[0])
    netloc = f"[{pinned.compressed}]" if pinned.version == 6 else pinned.compressed
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), {"Host": parts.netloc}


def sign_delivery(secret: str, timestamp: str, delivery_id: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, "<timestamp>.<delivery id>.<raw body>")>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{delivery_id}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def delivery_body(app_id: str, run: dict[str, Any]) -> tuple[str, bytes] | None:
    """The event name and the exact body bytes of the webhook of a finished run, or `None` when the
    run has no callback or its callback does not subscribe to that event."""
    callback = run.get("callback") or {}
    if not callback.get("url"):
        return None
    event = f"run.{run['status']}"
    if event not in (callback.get("events") or ["run.completed", "run.failed"]):
        return None
    body = json.dumps(
        {"event": event, "app_id": app_id, "run": public_run(run)}, default=str, separators=(",", ":")
    ).encode()
    return event, body


class Outbox:
    """The webhook outbox of one node.

    Args:
        settings: Server settings (node id, lease, attempts, backoff).
        store: The store.
        logbus: Where delivery outcomes are logged.
        resolve: Resolves callback hosts at send time (default `getaddrinfo`).
    """

    def __init__(
        self, settings: Settings, store: Store, logbus: LogBus, *, resolve: Resolver = system_resolver
    ) -> None:
        self.settings, self.store, self.logbus = settings, store, logbus
        self.resolve = resolve
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def enqueue(self, conn: AsyncConnection, app_id: str, run: dict[str, Any]) -> str | None:
        """Store the delivery of a finished run on `conn` (the transaction that ends the run).
        Returns the delivery id, or `None` when nothing is to be sent."""
        built = delivery_body(app_id, run)
        if built is None:
            return None
        event, body = built
        callback = run.get("callback") or {}
        return await outbox_store.enqueue_delivery(
            conn,
            app_id=app_id,
            run_id=run["run_id"],
            event=event,
            url=str(callback["url"]),
            # A callback without its own secret is signed with the app's (never with an empty key).
            secret=str(callback.get("secret") or "")
            or str(await webhooks.webhook_secret(conn, self.store.box, app_id) or ""),
            body=body,
        )

    def notify(self) -> None:
        """A delivery was stored (wake this node's sender)."""
        self._wake.set()

    def start(self) -> None:
        """Start delivering (one sender task per node)."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="ara-outbox")

    async def stop(self) -> None:
        """Stop delivering (pending deliveries stay stored for the next start or another node)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            with contextlib.suppress(Exception):  # the store is closing: the lease then just expires
                await self.store.run(outbox_store.release_deliveries, self.settings.node_id)

    async def _loop(self) -> None:
        while True:
            try:
                sent = await self.deliver_one()
            except Exception:  # the database went away for a moment: try again later
                log.exception("outbox delivery failed")
                sent = False
            if not sent:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.settings.poll_seconds)

    async def deliver_one(self) -> bool:
        """Claim one due delivery and attempt it. Returns whether there was one."""
        s = self.settings
        row = await self.store.run(
            outbox_store.claim_delivery, s.node_id, max(30.0, DELIVERY_TIMEOUT_SECONDS * 3)
        )
        if row is None:
            return False
        stamp = str(int(time.time()))
        body: bytes = bytes(row["body"])
        headers = {
            "Content-Type": "application/json",
            "X-Ara-Timestamp": stamp,
            "X-Ara-Delivery-Id": row["id"],
            "X-Ara-Event": row["event"],
            "X-Ara-Attempt": str(row["attempt"]),
            "X-Ara-Signature": sign_delivery(row["secret"], stamp, row["id"], body),
        }
        error: str | None = None
        try:
            target, extra = await callback_target(
                str(row["url"]), allow_private=s.allow_private_callbacks, resolve=self.resolve
            )
            async with AsyncHttpClient(target, timeout=DELIVERY_TIMEOUT_SECONDS) as client:
                await client.request("POST", "", content=body, headers={**headers, **extra}, auth=None)
        except CallbackRefused as exc:
            await self.store.run(
                outbox_store.settle_delivery,
                row["id"],
                s.node_id,
                row["attempt"],
                status="failed",
                error=str(exc),
            )
            await self.logbus.log(row["app_id"], row["run_id"], "error", "webhook.refused", str(exc))
            return True
        except (ApiError, OSError, UnicodeError) as exc:
            error = str(exc) or type(exc).__name__
        if error is None:
            await self.store.run(
                outbox_store.settle_delivery, row["id"], s.node_id, row["attempt"], status="delivered"
            )
            await self.logbus.log(
                row["app_id"],
                row["run_id"],
                "info",
                "webhook.delivered",
                f"{row['event']} delivered to callback",
            )
            return True
        if row["attempt"] >= s.webhook_attempts:
            await self.store.run(
                outbox_store.settle_delivery,
                row["id"],
                s.node_id,
                row["attempt"],
                status="failed",
                error=error,
            )
            await self.logbus.log(
                row["app_id"],
                row["run_id"],
                "error",
                "webhook.failed",
                f"{row['event']} not delivered after {row['attempt']} attempts: {error}",
            )
            return True
        delay = backoff_seconds(row["attempt"], s.webhook_backoff_seconds, DELIVERY_BACKOFF_CAP_SECONDS)
        await self.store.run(
            outbox_store.settle_delivery,
            row["id"],
            s.node_id,
            row["attempt"],
            status="pending",
            error=error,
            not_before=now() + timedelta(seconds=delay),
        )
        await self.logbus.log(
            row["app_id"],
            row["run_id"],
            "warning",
            "webhook.retry",
            f"delivery attempt {row['attempt']} failed: {error}; next attempt in {delay:.1f} s",
        )
        return True
