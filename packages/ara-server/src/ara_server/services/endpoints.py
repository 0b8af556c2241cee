"""Public endpoints: `/v1/apps/{app_id}/endpoints/{label}` runs the endpoint's agent with the
request as its input, after the endpoint's own auth (`none`, `header`, `bearer`, `hmac`).

The `hmac` mode verifies the Standard Webhooks scheme (see docs/endpoints.md): headers
`webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature` (space-separated
`v1,<base64 HMAC-SHA256>` values) over `"{id}.{timestamp}.{raw body}"`, a timestamp within
`TOLERANCE_SECONDS` of the server's clock, and each `webhook-id` accepted once (the ids are stored
in the database, so a replay is refused by every node).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ara_core import EndpointEntry

from ..errors import ApiProblem
from ..store import Store, apps, now, secrets
from ..store import endpoints as endpoints_store
from .runs import RunService, public_run, resolve_agent

__all__ = [
    "DEFAULT_HEADER_NAME",
    "FORWARDED_HEADERS",
    "TOLERANCE_SECONDS",
    "EndpointCall",
    "EndpointService",
    "verify_webhook",
]

#: Largest distance between a signed request's `webhook-timestamp` and the server's clock, in seconds.
TOLERANCE_SECONDS = 300
#: The header a `header`-mode endpoint reads when the manifest names none.
DEFAULT_HEADER_NAME = "X-Ara-Endpoint-Secret"
#: Request headers passed to the agent (besides every `x-*` header that carries no credential).
FORWARDED_HEADERS = ("content-type", "user-agent", "webhook-id", "webhook-timestamp")
_NEVER_FORWARDED = {"authorization", "cookie", "x-ara-app-key", "webhook-signature", "proxy-authorization"}


@dataclass(frozen=True, slots=True)
class EndpointCall:
    """One request to an endpoint.

    Attributes:
        method: The HTTP method, upper case.
        body: The raw body (bytes).
        query: The query parameters (repeated names keep the last value).
        headers: The request headers (names lower case).
        respond_async: Whether the caller asked for `202` + run id (`Prefer: respond-async`).
    """

    method: str
    body: bytes
    query: Mapping[str, str]
    headers: Mapping[str, str]
    respond_async: bool = False


def _unauthorized(message: str) -> ApiProblem:
    return ApiProblem(401, "endpoint_unauthorized", message)


def _hmac_key(secret: str) -> bytes:
    """The HMAC key of a secret: a `whsec_`-prefixed secret is base64; any other is its UTF-8 bytes."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_") :], validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret.encode()


def verify_webhook(
    secret: str, body: bytes, headers: Mapping[str, str], *, now_seconds: float | None = None
) -> str:
    """Check a Standard Webhooks signature; returns the `webhook-id`.

    Args:
        secret: The endpoint's secret (`whsec_<base64>` or any other text, used as UTF-8 bytes).
        body: The raw request body.
        headers: The request headers, names lower case.
        now_seconds: The current Unix time (default: the clock).

    Raises:
        ApiProblem: 401 `endpoint_unauthorized` — unsigned, malformed, expired (more than
            `TOLERANCE_SECONDS` from now, either way) or forged.
    """
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not msg_id or not stamp or not signatures:
        raise _unauthorized(
            "unsigned request: webhook-id, webhook-timestamp and webhook-signature are required"
        )
    if len(msg_id) > 256:
        raise _unauthorized("webhook-id is longer than 256 characters")
    if not stamp.isdigit() or len(stamp) > 12:
        raise _unauthorized("webhook-timestamp must be Unix seconds")
    current = time.time() if now_seconds is None else now_seconds
    if abs(current - int(stamp)) > TOLERANCE_SECONDS:
        raise _unauthorized(
            f"webhook-timestamp is more than {TOLERANCE_SECONDS} s away from the server's clock"
        )
    signed = msg_id.encode() + b"." + stamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(_hmac_key(secret), signed, hashlib.sha256).digest())
    for item in signatures.split():
        version, _, value = item.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            return msg_id
    raise _unauthorized("no webhook-signature matches the request")


def _secret_equal(given: str, secret: str) -> bool:
    return hmac.compare_digest(
        hashlib.sha256(given.encode()).digest(), hashlib.sha256(secret.encode()).digest()
    )


def endpoint_input(entry: EndpointEntry, call: EndpointCall) -> dict[str, Any]:
    """The agent input of an endpoint request: the JSON object body's keys at the top level (a
    non-object or non-JSON body under `body`), plus `endpoint` = `{label, method, query, headers}`
    (the forwarded headers: `FORWARDED_HEADERS` and `x-*` headers, never credentials)."""
    secret_header = (entry.auth.header_name or DEFAULT_HEADER_NAME).lower()
    forwarded = {
        name: value
        for name, value in call.headers.items()
        if (name in FORWARDED_HEADERS or name.startswith("x-"))
        and name not in _NEVER_FORWARDED
        and name != secret_header
    }
    data: dict[str, Any] = {}
    if call.body.strip():
        try:
            parsed = json.loads(call.body)
        except (ValueError, UnicodeDecodeError):
            parsed = call.body.decode("utf-8", "replace")
        if isinstance(parsed, dict):
            data.update(parsed)  # pyright: ignore[reportUnknownArgumentType]
        else:
            data["body"] = parsed
    data["endpoint"] = {
        "label": entry.label,
        "method": call.method,
        "query": dict(call.query),
        "headers": forwarded,
    }
    return data


class EndpointService:
    """Serves the endpoints of deployed apps.

    Args:
        store: The store.
        runs: Starts the runs.
    """

    def __init__(self, store: Store, runs: RunService) -> None:
        self.store, self.runs = store, runs

    async def _secret(self, app: dict[str, Any], entry: EndpointEntry) -> str:
        """The value of the endpoint's `secret_env` among the app's secrets. Names starting with
        `ARA_` (such as the default `ARA_ENDPOINT_<LABEL>_SECRET`) are reserved for the server's
        own environment variables, so a secret key without that prefix (`ENDPOINT_<LABEL>_SECRET`)
        is read for them."""
        name = entry.auth.secret_env
        env = await self.store.run(secrets.secret_env, self.store.box, app["id"]) if name else {}
        value = (env.get(name) or env.get(name.removeprefix("ARA_")) or "") if name else ""
        if not value:
            raise ApiProblem(
                503,
                "endpoint_secret_missing",
                f"endpoint {entry.label!r} needs the secret "
                f"{name.removeprefix('ARA_') or '(no secret_env declared)'}"
                " and the app has none; set it with `ara secrets set`",
            )
        return value

    async def authorize(self, app: dict[str, Any], entry: EndpointEntry, call: EndpointCall) -> None:
        """Apply the endpoint's auth mode.

        Raises:
            ApiProblem: 401 `endpoint_unauthorized`; 503 `endpoint_secret_missing` (never open).
        """
        mode = entry.auth.mode
        if mode == "none":
            return
        secret = await self._secret(app, entry)
        if mode == "header":
            name = entry.auth.header_name or DEFAULT_HEADER_NAME
            if not _secret_equal(call.headers.get(name.lower(), ""), secret):
                raise _unauthorized(f"missing or wrong {name} header")
        elif mode == "bearer":
            header = call.headers.get("authorization", "")
            token = header[7:].strip() if header.lower().startswith("bearer ") else ""
            if not token or not _secret_equal(token, secret):
                raise _unauthorized("missing or wrong Authorization: Bearer token")
        elif mode == "hmac":
            msg_id = verify_webhook(secret, call.body, call.headers)
            forget = now() - timedelta(seconds=2 * TOLERANCE_SECONDS + 60)
            if not await endpoints_store.remember_webhook_id(
                self.store, app["id"], entry.label, msg_id, forget
            ):
                raise _unauthorized(f"webhook-id {msg_id!r} was already accepted (replay)")
        else:  # validated at deploy; a manual database edit could still get here
            raise ApiProblem(
                503, "endpoint_misconfigured", f"endpoint {entry.label!r} has unknown auth mode {mode!r}"
            )

    async def call(self, app_id: str, label: str, call: EndpointCall) -> tuple[int, dict[str, Any]]:
        """Serve one endpoint request.

        Returns:
            `(status, body)`: `200` with `{ok, run_id, status, result, error}` once the run ended
            (`ok` false when it failed), or `202` with `{ok, run_id, status: "queued", run}` when
            `call.respond_async`.

        Raises:
            ApiProblem: 404 `not_found` (app or label); 405 `method_not_allowed` (with `Allow`);
                401 / 503 from `authorize`.
        """
        app = await self.store.run(apps.get_app, app_id)
        entry = apps.app_view(app).endpoint(label) if app is not None else None
        if app is None or entry is None:
            raise ApiProblem(404, "not_found", f"no endpoint {label!r} in app {app_id!r}")
        method = entry.method.upper()
        if call.method != method:
            raise ApiProblem(
                405,
                "method_not_allowed",
                f"endpoint {label!r} accepts {method}, not {call.method}",
                headers={"Allow": method},
            )
        await self.authorize(app, entry, call)
        agent_id = resolve_agent(app, entry.agent_id or "")
        run_input = endpoint_input(entry, call)
        if call.respond_async:
            row, _ = await self.runs.submit(
                app, agent_id, run_input, run_id=None, idempotency_key=None, callback=None
            )
            return 202, {"ok": True, "run_id": row["run_id"], "status": row["status"], "run": public_run(row)}
        done = await self.runs.run_sync(app, agent_id, run_input)
        return 200, {
            "ok": done["status"] == "completed",
            "run_id": done["run_id"],
            "status": done["status"],
            "result": done.get("result"),
            "error": done.get("error"),
        }

    async def documented(self) -> list[tuple[str, EndpointEntry]]:
        """`(app id, endpoint)` of every endpoint with `docs: true` of an active app."""
        out: list[tuple[str, EndpointEntry]] = []
        for app in await self.store.run(apps.active_apps):
            out += [(str(app["id"]), e) for e in apps.app_view(app).endpoints() if e.docs]
        return out
