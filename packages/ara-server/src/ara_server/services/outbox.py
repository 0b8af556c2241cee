"""Webhook deliveries of finished runs: signed POSTs to the run's callback URL, retried with backoff."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
import uuid
from typing import Any

from ara_http import ApiError, AsyncHttpClient

from .logbus import LogBus
from .runs import public_run

__all__ = ["Outbox", "sign_delivery"]

WEBHOOK_ATTEMPTS = 5


def sign_delivery(secret: str, timestamp: str, delivery_id: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, "<timestamp>.<delivery id>.<raw body>")>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{delivery_id}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class Outbox:
    """Sends webhook deliveries for this node (in memory: a delivery in flight is lost on a crash).

    Args:
        logbus: Where delivery outcomes are logged.
    """

    def __init__(self, logbus: LogBus) -> None:
        self.logbus = logbus
        self._tasks: set[asyncio.Task[bool]] = set()

    def enqueue(self, app: dict[str, Any], run: dict[str, Any]) -> None:
        """Deliver the finished `run` to its callback in the background."""
        task = asyncio.create_task(self.deliver(app, run))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver(self, app: dict[str, Any], run: dict[str, Any]) -> bool:
        """POST the finished run to its callback URL, signed, retried with backoff
        (`WEBHOOK_ATTEMPTS` tries). Returns success."""
        callback = run.get("callback") or {}
        event = "run.completed" if run["status"] == "completed" else "run.failed"
        if event not in (callback.get("events") or ["run.completed", "run.failed"]):
            return True
        body = json.dumps(
            {"event": event, "app_id": app["id"], "run": public_run(run)}, default=str, separators=(",", ":")
        ).encode()
        delivery_id = f"dlv_{uuid.uuid4().hex[:16]}"
        async with AsyncHttpClient(str(callback["url"]), timeout=10.0) as client:
            for attempt in range(WEBHOOK_ATTEMPTS):
                stamp = str(int(time.time()))
                headers = {
                    "X-Ara-Timestamp": stamp,
                    "X-Ara-Delivery-Id": delivery_id,
                    "X-Ara-Event": event,
                    "X-Ara-Signature": sign_delivery(
                        str(callback.get("secret") or ""), stamp, delivery_id, body
                    ),
                }
                try:
                    await client.request("POST", "", json=json.loads(body), headers=headers, auth=None)
                    await self.logbus.log(
                        app["id"],
                        run["run_id"],
                        "info",
                        "webhook.delivered",
                        f"{event} delivered to callback",
                    )
                    return True
                except ApiError as exc:
                    await self.logbus.log(
                        app["id"],
                        run["run_id"],
                        "warning",
                        "webhook.retry",
                        f"delivery attempt {attempt + 1} failed: {exc}",
                    )
                await asyncio.sleep(min(30.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.0))
        return False
