"""The Ara API, one method per route: request bodies as Structs, responses as documented TypedDicts.

Each operation is written once, as a *flow*: a generator that yields the `Call`s it needs and
receives each decoded response (or has the typed `ApiError` thrown into it). `AraApi` drives flows
with the synchronous `ara_http.HttpClient`, `AsyncAraApi` with `ara_http.AsyncHttpClient`; neither
uses threads. `AraClient.http` / `AsyncAraClient.http` hand these objects out, with the method names
of the original SDK's (`client.http.list_secrets(app_id)`).
"""

# Annotations are evaluated (no `from __future__ import annotations`): as strings, each TypedDict
# field would be compiled into a ForwardRef at import, on the start-up path of every `ara` command.
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from typing import Any, NotRequired, TypedDict, TypeVar, cast
from urllib.parse import quote, urlencode

import msgspec
from ara_http import (
    USE_CLIENT_AUTH,
    ApiError,
    AppHeaderKeyAuth,
    AsyncHttpClient,
    BearerAuth,
    HttpClient,
)

from .errors import ClientError

__all__ = [
    "AppList",
    "AppRow",
    "AraApi",
    "AsyncAraApi",
    "Call",
    "CreatedApp",
    "EventResponse",
    "Flow",
    "HeaderKey",
    "HeaderKeyList",
    "LogRow",
    "MintedKey",
    "RunInfo",
    "RunResponse",
    "RunStatusResponse",
    "RunSubmitted",
    "SecretList",
]

T = TypeVar("T")


# ------------------------------------------------------------------------------------ responses
class AppRow(TypedDict):
    """A row of `GET /apps`: `{"id", "slug", "role", "name"?, "status"?, "created_at"?, "updated_at"?}`.

    `role` is `"owner"`, `"member"` or `"viewer"` (the caller's role on the app).
    """

    id: str
    slug: str
    role: NotRequired[str]
    name: NotRequired[str]
    status: NotRequired[str]
    created_at: NotRequired[str]
    updated_at: NotRequired[str]


class AppList(TypedDict):
    """`GET /apps`: `{"apps": [AppRow, ...]}`."""

    apps: list[AppRow]


class CreatedApp(TypedDict):
    """`POST /apps`: `{"ok"?, "app": {"id", "slug", "name"?, "status"?}}`."""

    app: AppRow
    ok: NotRequired[bool]


class MintedKey(TypedDict):
    """`POST /apps/{app_id}/keys` and `/x-keys`: `{"key", "id"?, "key_prefix"?, "name"?, ...}`.

    `key` is the secret key material, shown once.
    """

    key: str
    id: NotRequired[str]
    key_prefix: NotRequired[str]
    name: NotRequired[str]
    requests_per_minute: NotRequired[int]


class HeaderKey(TypedDict):
    """A row of `GET /apps/{app_id}/x-keys`: `{"id", "key_prefix", "is_active", ...}`."""

    id: str
    key_prefix: str
    is_active: NotRequired[bool | str]
    name: NotRequired[str]


class HeaderKeyList(TypedDict):
    """`GET /apps/{app_id}/x-keys`: `{"keys": [HeaderKey, ...]}`."""

    keys: list[HeaderKey]


class SecretRow(TypedDict):
    """A row of `GET /apps/{app_id}/secrets`: `{"name", "keys"?, "updated_at"?}` (never values)."""

    name: str
    keys: NotRequired[list[str]]
    updated_at: NotRequired[str]


class SecretList(TypedDict):
    """`GET /apps/{app_id}/secrets`: `{"secrets": [SecretRow, ...]}`."""

    secrets: list[SecretRow]


class RunResult(TypedDict):
    """`result` of a run: `{"output_text": str, "tool_calls": [{"name", "arguments", "result"?,
    "error"?}, ...]}`; other keys pass through."""

    output_text: str
    tool_calls: list[dict[str, Any]]


class RunResponse(TypedDict):
    """`POST /v1/apps/{app_id}/run`, returned verbatim.

    Shape: `{"ok", "run_id", "app_id", "agent_id", "workflow_id", "status", "warmup", "result":
    RunResult, "trace": [{"type": "tool_call" | ..., ...}], "error": str | None}`; `status` is
    `completed` or `failed` (`ok` is true only for `completed`).
    """

    ok: bool
    run_id: str
    app_id: str
    agent_id: str
    workflow_id: str
    status: str
    warmup: bool
    result: RunResult
    trace: list[dict[str, Any]]
    error: str | None


class RunInfo(TypedDict):
    """A stored run: `{"run_id", "agent_id", "workflow_id", "kind", "status", "created_at",
    "started_at", "finished_at", "result"?, "error"?, "trace"?}`; `status` is `queued`, `running`,
    `completed`, `failed` or `cancelled`; times are ISO 8601 with offset, or `None` (not yet)."""

    run_id: str
    agent_id: str
    workflow_id: str
    kind: str
    status: str
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    result: NotRequired[RunResult]
    error: NotRequired[str]
    trace: NotRequired[list[dict[str, Any]]]


class RunSubmitted(TypedDict):
    """`POST /v1/apps/{app_id}/runs`, verbatim: `{"ok", "run": RunInfo, "run_id"?, "created"?}`;
    `created` is false when an idempotency key or run id matched an earlier submission."""

    ok: bool
    run: RunInfo
    run_id: NotRequired[str]
    created: NotRequired[bool]


class RunStatusResponse(TypedDict):
    """`GET /v1/apps/{app_id}/runs/{run_id}`, verbatim: `{"ok", "run": RunInfo}`."""

    ok: bool
    run: RunInfo


class EventResponse(TypedDict):
    """`POST /v1/apps/{app_id}/events`, verbatim: `{"ok", "event_id", "event_type", "accepted_at",
    "matched_workflows": [workflow ids], "runs": [run ids started]}`."""

    ok: bool
    event_id: str
    event_type: NotRequired[str]
    accepted_at: NotRequired[str]
    matched_workflows: NotRequired[list[str]]
    runs: NotRequired[list[str]]


class LogRow(TypedDict):
    """A row of `GET /v1/apps/{app_id}/logs/stream`:
    `{"id", "timestamp", "level", "run_id", "event_type", "message"}`; `timestamp` is ISO 8601."""

    timestamp: str
    level: str
    run_id: str | None
    event_type: str
    message: str
    id: NotRequired[int]


# --------------------------------------------------------------------------------- request bodies
class KeyRequest(msgspec.Struct, kw_only=True):
    """Body of `POST /apps/{app_id}/keys` and `/x-keys`."""

    name: str
    requests_per_minute: int


class SecretUpsert(msgspec.Struct, kw_only=True):
    """Body of `POST /apps/{app_id}/secrets`: a named group of values (`{"KEY": "value"}`)."""

    name: str
    values: dict[str, str]


class InviteRequest(msgspec.Struct, kw_only=True):
    """Body of `POST /apps/{app_id}/invites`; `role` is `viewer` or `member`, hours until expiry."""

    email: str
    role: str
    expires_in_hours: int


class RunRequest(msgspec.Struct, kw_only=True):
    """Body of `POST /v1/apps/{app_id}/run` (`agent_id` and `workflow_id` carry the same id)."""

    agent_id: str
    workflow_id: str
    warmup: bool
    input: dict[str, Any]


class RunAsyncRequest(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Body of `POST /v1/apps/{app_id}/runs`; the optional keys are omitted when unset."""

    agent_id: str
    workflow_id: str
    warmup: bool
    input: dict[str, Any]
    response_mode: str
    run_id: str | msgspec.UnsetType = msgspec.UNSET
    idempotency_key: str | msgspec.UnsetType = msgspec.UNSET
    callback: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET


class EventRequest(msgspec.Struct, kw_only=True):
    """Body of `POST /v1/apps/{app_id}/events`."""

    agent_id: str
    workflow_id: str
    event_type: str
    channel: str
    source: str
    message: str
    payload: dict[str, Any]
    metadata: dict[str, Any]


# ------------------------------------------------------------------------------------------ flows
class Call(msgspec.Struct, frozen=True):
    """One HTTP request a flow asks its driver to send.

    Attributes:
        method: HTTP method.
        path: Path with any query string.
        body: JSON body (dict or msgspec Struct), or `None`.
        auth: An `httpx.Auth`, `None` for no auth, or `USE_CLIENT_AUTH` (the control-plane token).
        headers: Extra headers.
        timeout: Seconds, or `None` for the client's default.
    """

    method: str
    path: str
    body: Any = None
    auth: Any = USE_CLIENT_AUTH
    headers: Mapping[str, str] | None = None
    timeout: float | None = None


#: A flow: yields `Call`s, receives decoded responses, returns a result.
Flow = Generator[Call, Any, T]


def _q(segment: str) -> str:
    return quote(str(segment), safe="")


def _runtime_auth(operation: str, runtime_key: str | None, app_header_key: str | None) -> Any:
    if app_header_key:
        return AppHeaderKeyAuth(app_header_key)
    if runtime_key:
        return BearerAuth(runtime_key)
    raise ClientError(f"{operation} requires runtime_key or app_header_key")


def _one(call: Call) -> Flow[Any]:
    return (yield call)


def drive(http: HttpClient, flow: Flow[T]) -> T:
    """Run `flow` to completion with a synchronous client; API errors are thrown into the flow."""
    try:
        call = next(flow)
        while True:
            try:
                result = http.request(
                    call.method,
                    call.path,
                    json=call.body,
                    headers=call.headers,
                    auth=call.auth,
                    timeout=call.timeout,
                )
            except ApiError as exc:
                call = flow.throw(exc)
            else:
                call = flow.send(result)
    except StopIteration as stop:
        return cast(T, stop.value)


async def adrive(http: AsyncHttpClient, flow: Flow[T]) -> T:
    """Run `flow` to completion with an asynchronous client (awaited requests, no threads)."""
    try:
        call = next(flow)
        while True:
            try:
                result = await http.request(
                    call.method,
                    call.path,
                    json=call.body,
                    headers=call.headers,
                    auth=call.auth,
                    timeout=call.timeout,
                )
            except ApiError as exc:
                call = flow.throw(exc)
            else:
                call = flow.send(result)
    except StopIteration as stop:
        return cast(T, stop.value)


class _Calls:
    """The request of each operation (the original SDK's method names and arguments)."""

    @staticmethod
    def list_apps() -> Call:
        return Call("GET", "/apps")

    @staticmethod
    def create_app(body: Any) -> Call:
        return Call("POST", "/apps", body)

    @staticmethod
    def update_app(app_id: str, body: Any) -> Call:
        return Call("PATCH", f"/apps/{_q(app_id)}", body)

    @staticmethod
    def create_key(app_id: str, *, name: str, requests_per_minute: int) -> Call:
        return Call(
            "POST", f"/apps/{_q(app_id)}/keys", KeyRequest(name=name, requests_per_minute=requests_per_minute)
        )

    @staticmethod
    def create_x_key(app_id: str, *, name: str, requests_per_minute: int) -> Call:
        body = KeyRequest(name=name, requests_per_minute=requests_per_minute)
        return Call("POST", f"/apps/{_q(app_id)}/x-keys", body)

    @staticmethod
    def list_x_keys(app_id: str) -> Call:
        return Call("GET", f"/apps/{_q(app_id)}/x-keys")

    @staticmethod
    def revoke_x_key(app_id: str, key_id: str) -> Call:
        return Call("DELETE", f"/apps/{_q(app_id)}/x-keys/{_q(key_id)}")

    @staticmethod
    def list_keys(app_id: str) -> Call:
        return Call("GET", f"/apps/{_q(app_id)}/keys")

    @staticmethod
    def revoke_key(app_id: str, key_id: str) -> Call:
        return Call("DELETE", f"/apps/{_q(app_id)}/keys/{_q(key_id)}")

    @staticmethod
    def upsert_secret(app_id: str, *, name: str, values: Mapping[str, str]) -> Call:
        return Call("POST", f"/apps/{_q(app_id)}/secrets", SecretUpsert(name=name, values=dict(values)))

    @staticmethod
    def list_secrets(app_id: str) -> Call:
        return Call("GET", f"/apps/{_q(app_id)}/secrets")

    @staticmethod
    def delete_secret(app_id: str, name: str) -> Call:
        return Call("DELETE", f"/apps/{_q(app_id)}/secrets/{_q(name)}")

    @staticmethod
    def setup(app_id: str) -> Call:
        return Call("GET", f"/apps/{_q(app_id)}/setup")

    @staticmethod
    def invite(app_id: str, *, email: str, role: str, expires_in_hours: int) -> Call:
        body = InviteRequest(email=email, role=role, expires_in_hours=expires_in_hours)
        return Call("POST", f"/apps/{_q(app_id)}/invites", body)

    @staticmethod
    def rotate_api_key() -> Call:
        return Call("POST", "/apps/api-key/rotate")

    @staticmethod
    def cli_whoami() -> Call:
        return Call("GET", "/auth/cli/whoami")

    @staticmethod
    def cli_auth_config() -> Call:
        return Call("GET", "/auth/cli/config", auth=None)

    @staticmethod
    def cli_auth_device_start(
        *, provider: str, code_challenge: str, code_challenge_method: str, timeout_seconds: int
    ) -> Call:
        body = {
            "provider": provider,
            "code_challenge": code_challenge,
            "code_challenge_method": code_challenge_method,
            "timeout_seconds": timeout_seconds,
        }
        return Call("POST", "/auth/cli/device/start", body, auth=None)

    @staticmethod
    def cli_auth_device_status(*, session_id: str, poll_token: str) -> Call:
        query = f"session_id={_q(session_id)}&poll_token={_q(poll_token)}"
        return Call("GET", f"/auth/cli/device/status?{query}", auth=None)

    @staticmethod
    def connect_token() -> Call:
        return Call("POST", "/session/connect/token", {})

    @staticmethod
    def connect_exchange(*, token: str, public_key: str, key_comment: str) -> Call:
        body = {"token": token, "public_key": public_key, "key_comment": key_comment}
        return Call("POST", "/session/connect/exchange", body, timeout=180)

    @staticmethod
    def run_app(app_id: str, body: RunRequest, auth: Any, timeout: float | None = None) -> Call:
        return Call("POST", f"/v1/apps/{_q(app_id)}/run", body, auth, timeout=timeout)

    @staticmethod
    def submit_async_run(app_id: str, body: RunAsyncRequest, auth: Any) -> Call:
        headers = (
            {"X-Idempotency-Key": body.idempotency_key} if isinstance(body.idempotency_key, str) else None
        )
        return Call("POST", f"/v1/apps/{_q(app_id)}/runs", body, auth, headers)

    @staticmethod
    def get_async_run_status(app_id: str, run_id: str, auth: Any) -> Call:
        return Call("GET", f"/v1/apps/{_q(app_id)}/runs/{_q(run_id)}", auth=auth)

    @staticmethod
    def cancel_run(app_id: str, run_id: str, auth: Any) -> Call:
        return Call("POST", f"/v1/apps/{_q(app_id)}/runs/{_q(run_id)}/cancel", {}, auth)

    @staticmethod
    def send_event(app_id: str, body: EventRequest, auth: Any, idempotency_key: str | None) -> Call:
        headers = {"X-Idempotency-Key": idempotency_key} if idempotency_key else None
        return Call("POST", f"/v1/apps/{_q(app_id)}/events", body, auth, headers)

    @staticmethod
    def stream_logs(app_id: str, auth: Any) -> Call:
        return Call("GET", f"/v1/apps/{_q(app_id)}/logs/stream", auth=auth)

    @staticmethod
    def list_runs(app_id: str, query: Mapping[str, Any], auth: Any) -> Call:
        params = urlencode({k: v for k, v in query.items() if v not in (None, "")})
        return Call("GET", f"/v1/apps/{_q(app_id)}/runs" + (f"?{params}" if params else ""), auth=auth)

    @staticmethod
    def stream_run(app_id: str, run_id: str, auth: Any, last_event_id: str | None = None) -> Call:
        headers = {"Last-Event-ID": last_event_id} if last_event_id else None
        return Call("GET", f"/v1/apps/{_q(app_id)}/runs/{_q(run_id)}/events", auth=auth, headers=headers)


CALLS = _Calls()


def run_body(agent_id: str | None, input_payload: Mapping[str, Any] | None, warmup: bool) -> RunRequest:
    agent = agent_id or ""
    return RunRequest(agent_id=agent, workflow_id=agent, warmup=warmup, input=dict(input_payload or {}))


def async_body(
    agent_id: str | None,
    input_payload: Mapping[str, Any] | None,
    warmup: bool,
    run_id: str | None,
    idempotency_key: str | None,
    response_mode: str,
    callback: Mapping[str, Any] | None,
) -> RunAsyncRequest:
    agent = agent_id or ""
    return RunAsyncRequest(
        agent_id=agent,
        workflow_id=agent,
        warmup=bool(warmup),
        input=dict(input_payload or {}),
        response_mode=response_mode,
        run_id=run_id or msgspec.UNSET,
        idempotency_key=idempotency_key or msgspec.UNSET,
        callback=dict(callback) if callback else msgspec.UNSET,
    )


def event_body(
    agent_id: str | None,
    event_type: str,
    channel: str,
    source: str,
    message: str,
    payload: Mapping[str, Any] | None,
    metadata: Mapping[str, Any] | None,
) -> EventRequest:
    agent = agent_id or ""
    return EventRequest(
        agent_id=agent,
        workflow_id=agent,
        event_type=event_type,
        channel=channel,
        source=source,
        message=message,
        payload=dict(payload or {}),
        metadata=dict(metadata or {}),
    )


# --------------------------------------------------------------------------------------- sync API
class AraApi:
    """The Ara API over a synchronous `ara_http.HttpClient`, one method per route.

    Control-plane methods use the client's token; runtime-plane methods take `runtime_key` or
    `app_header_key` (the app header key wins). Responses are the decoded JSON, typed as documented.

    Args:
        http: The HTTP client (its auth is the control-plane token).

    Raises:
        ara_http.ApiError: From every method: the subclass says which failure (`NotFoundError`, ...).
    """

    def __init__(self, http: HttpClient) -> None:
        self.client = http

    @property
    def base_url(self) -> str:
        """The API base URL."""
        return self.client.base_url

    def drive(self, flow: Flow[T]) -> T:
        """Run a flow (see the module docstring) and return its result."""
        return drive(self.client, flow)

    def _send(self, call: Call) -> Any:
        return drive(self.client, _one(call))

    def list_apps(self) -> AppList:
        """`GET /apps`: the apps the caller owns or was invited to."""
        return cast(AppList, self._send(CALLS.list_apps()))

    def create_app(self, body: Mapping[str, Any]) -> CreatedApp:
        """`POST /apps` with the deploy payload and `slug`."""
        return cast(CreatedApp, self._send(CALLS.create_app(dict(body))))

    def update_app(self, app_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """`PATCH /apps/{app_id}` with a deploy payload and/or `{"status": "active"}`."""
        return cast("dict[str, Any]", self._send(CALLS.update_app(app_id, dict(body))))

    def create_key(self, app_id: str, *, name: str, requests_per_minute: int) -> MintedKey:
        """`POST /apps/{app_id}/keys`: mint a runtime key."""
        return cast(
            MintedKey,
            self._send(CALLS.create_key(app_id, name=name, requests_per_minute=requests_per_minute)),
        )

    def create_x_key(self, app_id: str, *, name: str, requests_per_minute: int) -> MintedKey:
        """`POST /apps/{app_id}/x-keys`: mint an app header key."""
        call = CALLS.create_x_key(app_id, name=name, requests_per_minute=requests_per_minute)
        return cast(MintedKey, self._send(call))

    def list_x_keys(self, app_id: str) -> HeaderKeyList:
        """`GET /apps/{app_id}/x-keys`."""
        return cast(HeaderKeyList, self._send(CALLS.list_x_keys(app_id)))

    def revoke_x_key(self, app_id: str, key_id: str) -> None:
        """`DELETE /apps/{app_id}/x-keys/{key_id}`."""
        self._send(CALLS.revoke_x_key(app_id, key_id))

    def list_keys(self, app_id: str) -> HeaderKeyList:
        """`GET /apps/{app_id}/keys`: the app's runtime keys (`id`, `name`, `key_prefix`,
        `requests_per_minute`, `is_active`, `created_at`; never the key itself)."""
        return cast(HeaderKeyList, self._send(CALLS.list_keys(app_id)))

    def revoke_key(self, app_id: str, key_id: str) -> None:
        """`DELETE /apps/{app_id}/keys/{key_id}`: revoke a runtime key (at once, on every node)."""
        self._send(CALLS.revoke_key(app_id, key_id))

    def upsert_secret(self, app_id: str, *, name: str, values: Mapping[str, str]) -> dict[str, Any]:
        """`POST /apps/{app_id}/secrets`: create or replace a named group of secret values."""
        return cast("dict[str, Any]", self._send(CALLS.upsert_secret(app_id, name=name, values=values)))

    def list_secrets(self, app_id: str) -> SecretList:
        """`GET /apps/{app_id}/secrets`: names only, never values."""
        return cast(SecretList, self._send(CALLS.list_secrets(app_id)))

    def delete_secret(self, app_id: str, name: str) -> None:
        """`DELETE /apps/{app_id}/secrets/{name}`."""
        self._send(CALLS.delete_secret(app_id, name))

    def setup(self, app_id: str) -> dict[str, Any]:
        """`GET /apps/{app_id}/setup`, verbatim."""
        return cast("dict[str, Any]", self._send(CALLS.setup(app_id)))

    def invite(self, app_id: str, *, email: str, role: str, expires_in_hours: int) -> dict[str, Any]:
        """`POST /apps/{app_id}/invites`, verbatim."""
        call = CALLS.invite(app_id, email=email, role=role, expires_in_hours=expires_in_hours)
        return cast("dict[str, Any]", self._send(call))

    def rotate_api_key(self) -> dict[str, Any]:
        """`POST /apps/api-key/rotate`: `{"api_key", "key_prefix", "key_identifier"}`."""
        return cast("dict[str, Any]", self._send(CALLS.rotate_api_key()))

    def cli_whoami(self) -> dict[str, Any]:
        """`GET /auth/cli/whoami`: `{"ok", "user": {"id", "email"}}`."""
        return cast("dict[str, Any]", self._send(CALLS.cli_whoami()))

    def cli_auth_config(self) -> dict[str, Any]:
        """`GET /auth/cli/config` (no auth): `{"supabase_url", "supabase_anon_key", "api_base_url"?}`."""
        return cast("dict[str, Any]", self._send(CALLS.cli_auth_config()))

    def cli_auth_device_start(
        self,
        *,
        provider: str,
        code_challenge: str,
        code_challenge_method: str = "s256",
        timeout_seconds: int = 180,
    ) -> dict[str, Any]:
        """`POST /auth/cli/device/start` (no auth): `{"authorize_url", "session_id", "poll_token", ...}`."""
        call = CALLS.cli_auth_device_start(
            provider=provider,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
            timeout_seconds=timeout_seconds,
        )
        return cast("dict[str, Any]", self._send(call))

    def cli_auth_device_status(self, *, session_id: str, poll_token: str) -> dict[str, Any]:
        """`GET /auth/cli/device/status` (no auth): `{"status", "auth_code"?, "redirect_uri"?, ...}`."""
        call = CALLS.cli_auth_device_status(session_id=session_id, poll_token=poll_token)
        return cast("dict[str, Any]", self._send(call))

    def connect_token(self) -> dict[str, Any]:
        """`POST /session/connect/token`."""
        return cast("dict[str, Any]", self._send(CALLS.connect_token()))

    def connect_exchange(self, *, token: str, public_key: str, key_comment: str) -> dict[str, Any]:
        """`POST /session/connect/exchange` (timeout 180 s)."""
        call = CALLS.connect_exchange(token=token, public_key=public_key, key_comment=key_comment)
        return cast("dict[str, Any]", self._send(call))

    def run_app(
        self,
        app_id: str,
        *,
        runtime_key: str | None = None,
        app_header_key: str | None = None,
        agent_id: str | None = None,
        input_payload: Mapping[str, Any] | None = None,
        warmup: bool = False,
        timeout: float | None = None,
    ) -> RunResponse:
        """`POST /v1/apps/{app_id}/run`: run and wait (timeout in seconds, default the client's).

        Raises:
            ClientError: Neither key given (`run_app requires runtime_key or app_header_key`).
        """
        auth = _runtime_auth("run_app", runtime_key, app_header_key)
        call = CALLS.run_app(app_id, run_body(agent_id, input_payload, warmup), auth, timeout)
        return cast(RunResponse, self._send(call))

    def submit_async_run(
        self,
        app_id: str,
        *,
        runtime_key: str | None = None,
        app_header_key: str | None = None,
        agent_id: str | None = None,
        input_payload: Mapping[str, Any] | None = None,
        warmup: bool = False,
        run_id: str | None = None,
        idempotency_key: str | None = None,
        response_mode: str = "poll",
        callback: Mapping[str, Any] | None = None,
    ) -> RunSubmitted:
        """`POST /v1/apps/{app_id}/runs`: submit without waiting."""
        auth = _runtime_auth("submit_async_run", runtime_key, app_header_key)
        body = async_body(agent_id, input_payload, warmup, run_id, idempotency_key, response_mode, callback)
        return cast(RunSubmitted, self._send(CALLS.submit_async_run(app_id, body, auth)))

    def get_async_run_status(
        self, app_id: str, run_id: str, *, runtime_key: str | None = None, app_header_key: str | None = None
    ) -> RunStatusResponse:
        """`GET /v1/apps/{app_id}/runs/{run_id}`."""
        auth = _runtime_auth("get_async_run_status", runtime_key, app_header_key)
        return cast(RunStatusResponse, self._send(CALLS.get_async_run_status(app_id, run_id, auth)))

    def send_event(
        self,
        app_id: str,
        *,
        runtime_key: str | None = None,
        app_header_key: str | None = None,
        agent_id: str | None = None,
        event_type: str = "webhook.message.received",
        channel: str = "webhook",
        source: str = "webhook",
        message: str = "",
        payload: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> EventResponse:
        """`POST /v1/apps/{app_id}/events` (`X-Idempotency-Key` when given)."""
        auth = _runtime_auth("send_event", runtime_key, app_header_key)
        body = event_body(agent_id, event_type, channel, source, message, payload, metadata)
        return cast(EventResponse, self._send(CALLS.send_event(app_id, body, auth, idempotency_key)))

    def stream_logs(
        self, app_id: str, *, runtime_key: str | None = None, app_header_key: str | None = None
    ) -> Iterator[LogRow]:
        """`GET /v1/apps/{app_id}/logs/stream` (SSE): yield each log row as it arrives."""
        auth = _runtime_auth("stream_logs", runtime_key, app_header_key)
        yield from self.stream(CALLS.stream_logs(app_id, auth))

    def stream(self, call: Call) -> Iterator[LogRow]:
        """Yield the JSON objects of an SSE response (no timeout: a log stream stays open)."""
        for row in self.client.stream_events(
            call.method, call.path, auth=call.auth, timeout=None, headers=call.headers
        ):
            if isinstance(row, dict):
                yield cast(LogRow, row)


# -------------------------------------------------------------------------------------- async API
class AsyncAraApi:
    """`AraApi` over `ara_http.AsyncHttpClient`: the same methods, awaited.

    Args:
        http: The async HTTP client (its auth is the control-plane token).
    """

    def __init__(self, http: AsyncHttpClient) -> None:
        self.client = http

    @property
    def base_url(self) -> str:
        """The API base URL."""
        return self.client.base_url

    async def drive(self, flow: Flow[T]) -> T:
        """Run a flow (see the module docstring) and return its result."""
        return await adrive(self.client, flow)

    async def _send(self, call: Call) -> Any:
        return await adrive(self.client, _one(call))

    async def list_apps(self) -> AppList:
        """As `AraApi.list_apps`."""
        return cast(AppList, await self._send(CALLS.list_apps()))

    async def create_app(self, body: Mapping[str, Any]) -> CreatedApp:
        """As `AraApi.create_app`."""
        return cast(CreatedApp, await self._send(CALLS.create_app(dict(body))))

    async def update_app(self, app_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """As `AraApi.update_app`."""
        return cast("dict[str, Any]", await self._send(CALLS.update_app(app_id, dict(body))))

    async def create_key(self, app_id: str, *, name: str, requests_per_minute: int) -> MintedKey:
        """As `AraApi.create_key`."""
        call = CALLS.create_key(app_id, name=name, requests_per_minute=requests_per_minute)
        return cast(MintedKey, await self._send(call))

    async def create_x_key(self, app_id: str, *, name: str, requests_per_minute: int) -> MintedKey:
        """As `AraApi.create_x_key`."""
        call = CALLS.create_x_key(app_id, name=name, requests_per_minute=requests_per_minute)
        return cast(MintedKey, await self._send(call))

    async def list_x_keys(self, app_id: str) -> HeaderKeyList:
        """As `AraApi.list_x_keys`."""
        return cast(HeaderKeyList, await self._send(CALLS.list_x_keys(app_id)))

    async def revoke_x_key(self, app_id: str, key_id: str) -> None:
        """As `AraApi.revoke_x_key`."""
        await self._send(CALLS.revoke_x_key(app_id, key_id))

    async def list_keys(self, app_id: str) -> HeaderKeyList:
        """As `AraApi.list_keys`."""
        return cast(HeaderKeyList, await self._send(CALLS.list_keys(app_id)))

    async def revoke_key(self, app_id: str, key_id: str) -> None:
        """As `AraApi.revoke_key`."""
        await self._send(CALLS.revoke_key(app_id, key_id))

    async def upsert_secret(self, app_id: str, *, name: str, values: Mapping[str, str]) -> dict[str, Any]:
        """As `AraApi.upsert_secret`."""
        return cast("dict[str, Any]", await self._send(CALLS.upsert_secret(app_id, name=name, values=values)))

    async def list_secrets(self, app_id: str) -> SecretList:
        """As `AraApi.list_secrets`."""
        return cast(SecretList, await self._send(CALLS.list_secrets(app_id)))

    async def delete_secret(self, app_id: str, name: str) -> None:
        """As `AraApi.delete_secret`."""
        await self._send(CALLS.delete_secret(app_id, name))

    async def setup(self, app_id: str) -> dict[str, Any]:
        """As `AraApi.setup`."""
        return cast("dict[str, Any]", await self._send(CALLS.setup(app_id)))

    async def invite(self, app_id: str, *, email: str, role: str, expires_in_hours: int) -> dict[str, Any]:
        """As `AraApi.invite`."""
        call = CALLS.invite(app_id, email=email, role=role, expires_in_hours=expires_in_hours)
        return cast("dict[str, Any]", await self._send(call))

    async def rotate_api_key(self) -> dict[str, Any]:
        """As `AraApi.rotate_api_key`."""
        return cast("dict[str, Any]", await self._send(CALLS.rotate_api_key()))

    async def cli_whoami(self) -> dict[str, Any]:
        """As `AraApi.cli_whoami`."""
        return cast("dict[str, Any]", await self._send(CALLS.cli_whoami()))

    async def cli_auth_config(self) -> dict[str, Any]:
        """`GET /auth/cli/config` (no auth): `{"supabase_url", "supabase_anon_key", "api_base_url"?}`."""
        return cast("dict[str, Any]", await self._send(CALLS.cli_auth_config()))

    async def cli_auth_device_start(
        self,
        *,
        provider: str,
        code_challenge: str,
        code_challenge_method: str = "s256",
        timeout_seconds: int = 180,
    ) -> dict[str, Any]:
        """`POST /auth/cli/device/start` (no auth): `{"authorize_url", "session_id", "poll_token", ...}`."""
        call = CALLS.cli_auth_device_start(
            provider=provider,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
            timeout_seconds=timeout_seconds,
        )
        return cast("dict[str, Any]", await self._send(call))

    async def cli_auth_device_status(self, *, session_id: str, poll_token: str) -> dict[str, Any]:
        """`GET /auth/cli/device/status` (no auth): `{"status", "auth_code"?, "redirect_uri"?, ...}`."""
        call = CALLS.cli_auth_device_status(session_id=session_id, poll_token=poll_token)
        return cast("dict[str, Any]", await self._send(call))

    async def connect_token(self) -> dict[str, Any]:
        """`POST /session/connect/token`."""
        return cast("dict[str, Any]", await self._send(CALLS.connect_token()))

    async def connect_exchange(self, *, token: str, public_key: str, key_comment: str) -> dict[str, Any]:
        """`POST /session/connect/exchange` (timeout 180 s)."""
        call = CALLS.connect_exchange(token=token, public_key=public_key, key_comment=key_comment)
        return cast("dict[str, Any]", await self._send(call))

    async def run_app(
        self,
        app_id: str,
        *,
        runtime_key: str | None = None,
        app_header_key: str | None = None,
        agent_id: str | None = None,
        input_payload: Mapping[str, Any] | None = None,
        warmup: bool = False,
        timeout: float | None = None,
    ) -> RunResponse:
        """As `AraApi.run_app`."""
        auth = _runtime_auth("run_app", runtime_key, app_header_key)
        call = CALLS.run_app(app_id, run_body(agent_id, input_payload, warmup), auth, timeout)
        return cast(RunResponse, await self._send(call))

    async def submit_async_run(
        self,
        app_id: str,
        *,
        runtime_key: str | None = None,
        app_header_key: str | None = None,
        agent_id: str | None = None,
        input_payload: Mapping[str, Any] | None = None,
        warmup: bool = False,
        run_id: str | None = None,
        idempotency_key: str | None = None,
        response_mode: str = "poll",
        callback: Mapping[str, Any] | None = None,
    ) -> RunSubmitted:
        """As `AraApi.submit_async_run`."""
        auth = _runtime_auth("submit_async_run", runtime_key, app_header_key)
        body = async_body(agent_id, input_payload, warmup, run_id, idempotency_key, response_mode, callback)
        return cast(RunSubmitted, await self._send(CALLS.submit_async_run(app_id, body, auth)))

    async def get_async_run_status(
        self, app_id: str, run_id: str, *, runtime_key: str | None = None, app_header_key: str | None = None
    ) -> RunStatusResponse:
        """As `AraApi.get_async_run_status`."""
        auth = _runtime_auth("get_async_run_status", runtime_key, app_header_key)
        return cast(RunStatusResponse, await self._send(CALLS.get_async_run_status(app_id, run_id, auth)))

    async def send_event(
        self,
        app_id: str,
        *,
        runtime_key: str | None = None,
        app_header_key: str | None = None,
        agent_id: str | None = None,
        event_type: str = "webhook.message.received",
        channel: str = "webhook",
        source: str = "webhook",
        message: str = "",
        payload: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> EventResponse:
        """As `AraApi.send_event`."""
        auth = _runtime_auth("send_event", runtime_key, app_header_key)
        body = event_body(agent_id, event_type, channel, source, message, payload, metadata)
        return cast(EventResponse, await self._send(CALLS.send_event(app_id, body, auth, idempotency_key)))

    async def stream_logs(
        self, app_id: str, *, runtime_key: str | None = None, app_header_key: str | None = None
    ) -> AsyncIterator[LogRow]:
        """As `AraApi.stream_logs`, asynchronously."""
        auth = _runtime_auth("stream_logs", runtime_key, app_header_key)
        async for row in self.stream(CALLS.stream_logs(app_id, auth)):
            yield row

    async def stream(self, call: Call) -> AsyncIterator[LogRow]:
        """As `AraApi.stream`, asynchronously."""
        async for row in self.client.stream_events(
            call.method, call.path, auth=call.auth, timeout=None, headers=call.headers
        ):
            if isinstance(row, dict):
                yield cast(LogRow, row)
