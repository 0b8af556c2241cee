"""Signing requests to `hmac` endpoints the way ara-server verifies them (Standard Webhooks).

The signature is `v1,<base64 HMAC-SHA256>` over `"{webhook-id}.{webhook-timestamp}.{raw body}"`
with the endpoint's secret as the key: a `whsec_`-prefixed secret is base64 after the prefix, any
other secret is its UTF-8 bytes. The server accepts timestamps within 300 seconds of its clock and
each `webhook-id` once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import uuid

__all__ = ["sign_webhook"]


def _key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_") :], validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret.encode()


def sign_webhook(
    secret: str, body: bytes | str, *, msg_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """The headers that sign `body` for an `hmac` endpoint.

    Args:
        secret: The endpoint's secret (the value of its `secret_env` in the app's secrets).
        body: The exact request body to send (a `str` is encoded as UTF-8).
        msg_id: The `webhook-id` (default: a new random `msg_<hex>`); reuse it only to retry the
            same delivery, since the server accepts each id once.
        timestamp: The `webhook-timestamp` in Unix seconds (default: now).

    Returns:
        `{"webhook-id", "webhook-timestamp", "webhook-signature"}` to add to the request headers.

    Example:
        >>> headers = sign_webhook("s3cret", b'{"a": 1}', msg_id="msg_1", timestamp=1700000000)
        >>> headers["webhook-signature"].startswith("v1,")
        True
    """
    raw = body.encode() if isinstance(body, str) else body
    ident = msg_id if msg_id is not None else f"msg_{uuid.uuid4().hex}"
    stamp = str(int(time.time()) if timestamp is None else int(timestamp))
    digest = hmac.new(_key(secret), f"{ident}.{stamp}.".encode() + raw, hashlib.sha256).digest()
    return {
        "webhook-id": ident,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }
