"""httpx clients for the Ara API: one base, sync and async fronts."""

from __future__ import annotations

import json
import random
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import msgspec

from .errors import APIConnectionError, ApiError, APITimeoutError, status_error

#: Requests are sent without waiting for the server's delayed ACK of the previous segment.
_SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


def _plain(base_url: str) -> bool:
    """Whether a client of `base_url` speaks plain `http://` (every request goes to the base URL:
    redirects are not followed), so it needs no TLS set-up at all."""
    return base_url.startswith("http://")


class _PlainHTTPTransport(httpx.HTTPTransport):
    """`httpx.HTTPTransport` for a plain `http://` base URL: httpx's transport and connection pool
    (httpcore) with the default limits and `TCP_NODELAY`, minus the TLS context that
    `httpx.HTTPTransport.__init__` builds for every transport (about 1 ms of OpenSSL set-up per
    process, paid by each `ara` command against a local server). An `https://` URL still gets
    httpcore's default, verified context."""

    def __init__(self) -> None:  # replaces the base __init__: builds the pool itself
        import httpcore

        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._pool = httpcore.ConnectionPool(
            ssl_context=None,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            socket_options=_SOCKET_OPTIONS,
        )


class _PlainAsyncHTTPTransport(httpx.AsyncHTTPTransport):
    """`_PlainHTTPTransport`'s asynchronous twin."""

    def __init__(self) -> None:  # replaces the base __init__: builds the pool itself
        import httpcore

        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=None,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            socket_options=_SOCKET_OPTIONS,
        )


async def _asyncio_sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


_json_loads = json.loads
#: Compact JSON for dicts, lists and msgspec Structs alike (`{"a":1}`, as the original SDK sends).
_encode = msgspec.json.encode

__all__ = [
    "USE_CLIENT_AUTH",
    "AppHeaderKeyAuth",
    "AsyncHttpClient",
    "BearerAuth",
    "HttpClient",
    "RetryPolicy",
]

#: Sentinel: use the client's own auth for this call.
USE_CLIENT_AUTH: Any = object()
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_RETRY_STATUS = frozenset({408, 429, 502, 503, 504})


class BearerAuth(httpx.Auth):
    """`Authorization: Bearer <token>` (control-plane API key or JWT, or a runtime key)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.token:
            request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


class AppHeaderKeyAuth(httpx.Auth):
    """`X-Ara-App-Key: <key>` and no `Authorization` header."""

    def __init__(self, key: str) -> None:
        self.key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.pop("Authorization", None)
        request.headers["X-Ara-App-Key"] = self.key
        yield request


class RetryPolicy:
    """When and how long to retry (docs/decisions.md).

    Idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE) and requests carrying an idempotency key
    are retried on network errors and on 408/429/502/503/504, honouring `Retry-After` (seconds or
    an HTTP date, capped at `max_delay`) and otherwise backing off exponentially with full jitter.
    Non-idempotent requests without a key are never retried.

    Args:
        max_retries: Retries after the first attempt (default 2; 0 disables).
        base_delay: First backoff step in seconds.
        max_delay: Largest wait in seconds.
    """

    def __init__(self, max_retries: int = 2, base_delay: float = 0.5, max_delay: float = 20.0) -> None:
        self.max_retries, self.base_delay, self.max_delay = max(0, max_retries), base_delay, max_delay

    def allowed(self, method: str, headers: Mapping[str, str]) -> bool:
        keyed = any(k.lower() in ("x-idempotency-key", "idempotency-key") for k in headers)
        return method.upper() in _IDEMPOTENT or keyed

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            after = response.headers.get("Retry-After")
            if after:
                try:
                    return min(self.max_delay, max(0.0, float(after)))
                except ValueError:
                    try:
                        when = parsedate_to_datetime(after)
                        return min(self.max_delay, max(0.0, when.timestamp() - time.time()))
                    except (TypeError, ValueError):
                        pass
        return random.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


_SKIP: Any = object()


def _event_payload(data: str) -> Any:
    """An SSE `data:` payload decoded as JSON, or `_SKIP` for blank or undecodable ones."""
    text = data.strip()
    if not text:
        return _SKIP
    try:
        return _json_loads(text)
    except ValueError:
        return _SKIP


_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0"})


def _network_error(req: dict[str, Any], path: str, exc: httpx.HTTPError) -> APIConnectionError:
    """The error for a request that got no response; its message names the host and what to check."""
    url = httpx.URL(str(req["url"]))
    host = url.netloc.decode("ascii", "replace") or url.host
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        timeout: httpx.Timeout = req["timeout"]
        seconds = timeout.read if timeout.read is not None else timeout.connect
        waited = f" within {seconds:g} s" if seconds is not None else ""
        return APITimeoutError(
            req["method"], path, host=host, reason=f"no response from {host}{waited} ({detail})"
        )
    if url.host in _LOOPBACK:
        hint = "is the server running? Start a local one with `ara dev`"
    else:
        hint = "check the address (ARA_API_BASE_URL, or `ara auth login --api-base-url`) and your network"
    return APIConnectionError(
        req["method"], path, host=host, reason=f"cannot reach {host} ({detail}); {hint}"
    )


def _status_error(req: dict[str, Any], path: str, response: httpx.Response) -> ApiError:
    retry_after: float | None = None
    if response.status_code == 429:
        try:
            retry_after = float(response.headers.get("Retry-After", ""))
        except ValueError:
            retry_after = None
    return status_error(req["method"], path, response.status_code, response.text, retry_after)


def _decode(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None if response.status_code == 204 else {}
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {"raw": response.text}


class _Base:
    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = str(base_url).strip().rstrip("/")
        self.auth = auth
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            **dict(headers or {}),
        }

    def _prepare(
        self,
        method: str,
        path: str,
        json_body: Any,
        headers: Mapping[str, str] | None,
        auth: Any,
        timeout: float | None,
        content: bytes | None = None,
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "method": method.upper(),
            "url": self.base_url + path,
            "headers": {**self.headers, **dict(headers or {})},
            "timeout": httpx.Timeout(timeout if timeout is not None else self.timeout),
            "auth": self.auth if auth is USE_CLIENT_AUTH else auth,
        }
        if content is not None and json_body is not None:
            raise TypeError("pass either json= or content=, not both")
        if content is not None:
            request["content"] = bytes(content)
        elif json_body is not None:
            request["content"] = _encode(json_body)
        return request

    def _prepare_raw(
        self, method: str, path: str, headers: Mapping[str, str] | None, auth: Any, timeout: float | None
    ) -> dict[str, Any]:
        """A request without a body: no `Content-Type`, `Accept: */*`."""
        req = self._prepare(method, path, None, headers, auth, timeout)
        sent = {k: v for k, v in req["headers"].items() if k.lower() not in ("content-type", "accept")}
        req["headers"] = {"Accept": "*/*", **sent}
        return req

    def _retry_delay(
        self, attempt: int, req: dict[str, Any], path: str, outcome: httpx.Response | httpx.HTTPError
    ) -> float | None:
        """`None` when `outcome` is a success to decode; the seconds to wait before a retry; or raise.

        Raises:
            ApiError: A failure that is not retried (see `ara_http.errors` for the subclasses).
        """
        if isinstance(outcome, httpx.Response) and outcome.is_success:
            return None
        status = outcome.status_code if isinstance(outcome, httpx.Response) else None
        if self._should_retry(attempt, req["method"], req["headers"], status):
            return self.retry.delay(attempt, outcome if isinstance(outcome, httpx.Response) else None)
        if isinstance(outcome, httpx.Response):
            raise _status_error(req, path, outcome)
        raise _network_error(req, path, outcome)

    def _should_retry(
        self, attempt: int, method: str, headers: Mapping[str, str], status: int | None
    ) -> bool:
        if attempt >= self.retry.max_retries or not self.retry.allowed(method, headers):
            return False
        return status is None or status in _RETRY_STATUS


class HttpClient(_Base):
    """Synchronous JSON client for the Ara API.

    Args:
        base_url: API base URL; a trailing `/` is removed.
        auth: Default auth for calls (`BearerAuth`, `AppHeaderKeyAuth`, any `httpx.Auth`), or `None`.
        timeout: Default timeout in seconds (default 30 s).
        retry: Retry policy (default `RetryPolicy()`).
        headers: Extra headers on every call.
        transport: An httpx transport (tests use `httpx.MockTransport`).
        sleep: Called with the seconds to wait before a retry (default `time.sleep`).
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(base_url, auth=auth, timeout=timeout, retry=retry, headers=headers)
        if transport is None:
            transport = (
                _PlainHTTPTransport()
                if _plain(self.base_url)
                else httpx.HTTPTransport(socket_options=_SOCKET_OPTIONS)
            )
        self._client = httpx.Client(transport=transport, follow_redirects=False)
        self._sleep = sleep

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Any = USE_CLIENT_AUTH,
        timeout: float | None = None,
    ) -> Any:
        """Send a request and decode the JSON answer.

        Args:
            method: HTTP method.
            path: Path (may include a query string), appended to the base URL.
            json: Body to send as compact JSON (a dict, list, or msgspec Struct), or `None`.
            content: Raw body bytes, sent as given (set `Content-Type` in `headers`); not with `json`.
            headers: Extra headers (merged last).
            auth: Auth for this call; `None` sends no auth; default: the client's.
            timeout: Timeout in seconds for this call.

        Returns:
            `None` for 204, `{}` for an empty body, else the decoded JSON.

        Raises:
            APIStatusError: A non-2xx status; the subclass says which (`NotFoundError` for 404, ...).
            APIConnectionError: No response (`APITimeoutError` when it timed out); names the host.
            TypeError: Both `json` and `content` given.
        """
        req = self._prepare(method, path, json, headers, auth, timeout, content)
        attempt = 0
        while True:
            try:
                outcome: httpx.Response | httpx.HTTPError = self._client.request(**req)
            except httpx.HTTPError as exc:
                outcome = exc
            delay = self._retry_delay(attempt, req, path, outcome)
            if delay is None:
                return _decode(outcome)  # type: ignore[arg-type]
            self._sleep(delay)
            attempt += 1

    def request_bytes(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: Any = USE_CLIENT_AUTH,
        timeout: float | None = None,
    ) -> bytes:
        """Send a request without a body and return the answer's body as raw bytes (a file download).

        No `Content-Type` is sent and `Accept` is `*/*`; failures are retried and raised as by
        `request`.

        Args:
            method: HTTP method.
            path: Path (may include a query string), appended to the base URL.
            headers: Extra headers (merged last).
            auth: Auth for this call; `None` sends no auth; default: the client's.
            timeout: Timeout in seconds for this call.

        Returns:
            The body, byte for byte (empty for 204 or an empty body).

        Raises:
            APIStatusError: A non-2xx status; the subclass says which (`NotFoundError` for 404, ...).
            APIConnectionError: No response (`APITimeoutError` when it timed out); names the host.
        """
        req = self._prepare_raw(method, path, headers, auth, timeout)
        attempt = 0
        while True:
            try:
                outcome: httpx.Response | httpx.HTTPError = self._client.request(**req)
            except httpx.HTTPError as exc:
                outcome = exc
            delay = self._retry_delay(attempt, req, path, outcome)
            if delay is None:
                return outcome.content  # type: ignore[union-attr]
            self._sleep(delay)
            attempt += 1

    def stream_events(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: Any = USE_CLIENT_AUTH,
        timeout: float | None = 60.0,
        json: Any = None,
        content: bytes | None = None,
    ) -> Iterator[Any]:
        """Stream a `text/event-stream` response and yield each `data:` payload decoded as JSON.

        Comment lines (`:`) and undecodable payloads are skipped.

        Raises:
            APIStatusError: A non-2xx status (subclass by status).
            APIConnectionError: No response; the message names the host.
        """
        req = self._prepare(
            method, path, json, {"Accept": "text/event-stream", **dict(headers or {})}, auth, timeout, content
        )
        try:
            with self._client.stream(**req) as response:
                if not response.is_success:
                    response.read()
                    raise _status_error(req, path, response)
                from httpx_sse import EventSource  # only streams need it

                for event in EventSource(response).iter_sse():
                    payload = _event_payload(event.data)
                    if payload is not _SKIP:
                        yield payload
        except httpx.HTTPError as exc:
            raise _network_error(req, path, exc) from None


class AsyncHttpClient(_Base):
    """Asynchronous twin of `HttpClient` (same arguments, `await client.request(...)`; `sleep` is
    awaited, default `asyncio.sleep`)."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = _asyncio_sleep,
    ) -> None:
        super().__init__(base_url, auth=auth, timeout=timeout, retry=retry, headers=headers)
        if transport is None:
            transport = (
                _PlainAsyncHTTPTransport()
                if _plain(self.base_url)
                else httpx.AsyncHTTPTransport(socket_options=_SOCKET_OPTIONS)
            )
        self._client = httpx.AsyncClient(transport=transport, follow_redirects=False)
        self._sleep = sleep

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def __aenter__(self) -> AsyncHttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Any = USE_CLIENT_AUTH,
        timeout: float | None = None,
    ) -> Any:
        """As `HttpClient.request`, awaited."""
        req = self._prepare(method, path, json, headers, auth, timeout, content)
        attempt = 0
        while True:
            try:
                outcome: httpx.Response | httpx.HTTPError = await self._client.request(**req)
            except httpx.HTTPError as exc:
                outcome = exc
            delay = self._retry_delay(attempt, req, path, outcome)
            if delay is None:
                return _decode(outcome)  # type: ignore[arg-type]
            await self._sleep(delay)
            attempt += 1

    async def request_bytes(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: Any = USE_CLIENT_AUTH,
        timeout: float | None = None,
    ) -> bytes:
        """As `HttpClient.request_bytes`, awaited."""
        req = self._prepare_raw(method, path, headers, auth, timeout)
        attempt = 0
        while True:
            try:
                outcome: httpx.Response | httpx.HTTPError = await self._client.request(**req)
            except httpx.HTTPError as exc:
                outcome = exc
            delay = self._retry_delay(attempt, req, path, outcome)
            if delay is None:
                return outcome.content  # type: ignore[union-attr]
            await self._sleep(delay)
            attempt += 1

    async def stream_events(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: Any = USE_CLIENT_AUTH,
        timeout: float | None = 60.0,
        json: Any = None,
        content: bytes | None = None,
    ) -> AsyncIterator[Any]:
        """As `HttpClient.stream_events`, asynchronously."""
        req = self._prepare(
            method, path, json, {"Accept": "text/event-stream", **dict(headers or {})}, auth, timeout, content
        )
        try:
            async with self._client.stream(**req) as response:
                if not response.is_success:
                    await response.aread()
                    raise _status_error(req, path, response)
                from httpx_sse import EventSource  # only streams need it

                async for event in EventSource(response).aiter_sse():
                    payload = _event_payload(event.data)
                    if payload is not _SKIP:
                        yield payload
        except httpx.HTTPError as exc:
            raise _network_error(req, path, exc) from None
