"""Webhook deliveries of finished runs: a durable outbox (stored with the run's final status, in the
same transaction), delivered by any node, signed over the exact bytes sent, retried with backoff
across restarts."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from datetime import timedelta
from typing import Any

import structlog
from ara_http import ApiError, AsyncHttpClient
from sqlalchemy.ext.asyncio import AsyncConnection

from ..settings import Settings
from ..store import Store, now, webhooks
from ..store import outbox as outbox_store
from .logbus import LogBus
from .policy import backoff_seconds
from .runs import public_run

__all__ = ["Outbox", "delivery_body", "sign_delivery"]

log = structlog.get_logger("ara_server.outbox")

#: Longest wait for one webhook POST, in seconds.
DELIVERY_TIMEOUT_SECONDS = 10.0
#: Longest delay between two attempts of a delivery, in seconds.
DELIVERY_BACKOFF_CAP_SECONDS = 600.0


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
    """

    def __init__(self, settings: Settings, store: Store, logbus: LogBus) -> None:
        self.settings, self.store, self.logbus = settings, store, logbus
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
            async with AsyncHttpClient(row["url"], timeout=DELIVERY_TIMEOUT_SECONDS) as client:
                await client.request("POST", "", content=body, headers=headers, auth=None)
        except ApiError as exc:
            error = str(exc)
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
