"""`AraClient`: deploy and operate an app over the control and runtime planes (spec §3.4)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ara_core import SECRET_DEFINITIONS_KEY, SecretDefinition
from ara_http import (
    ApiError,
    AppHeaderKeyAuth,
    BearerAuth,
    ControlPlaneAuth,
    HttpClient,
    load_dotenv,
    resolve_base_url,
    resolve_control_token,
    write_private_json,
)

__all__ = ["AraClient", "AsyncAraClient", "RUNTIME_KEYS_FILE"]

#: Runtime keys by app slug, written by deploy/setup-auth and read by run/events (0.1.50 format).
RUNTIME_KEYS_FILE = ".runtime-keys.local"
#: Older single-key file: written for compatibility, never read (spec C10).
LEGACY_RUNTIME_KEY_FILE = ".runtime-key.local"
MISSING_RUNTIME_KEY = (
    "Missing runtime key. Set ARA_RUNTIME_KEY, ARA_APP_HEADER_KEY, or run deploy/setup-auth first."
)


class AraClient:
    """Deploy and operate one app.

    Args:
        manifest: The app manifest (`App.manifest`); its `slug` names the app.
        api_key: Control-plane token (API key or JWT).
        access_token: Older spelling of `api_key` (spec C14).
        base_url: API base URL (default: resolved, spec §4.2).
        cwd: Directory for `.runtime-keys.local` (default: the current directory).
        timeout: Default request timeout in seconds.
        transport: httpx transport for tests.
    """

    def __init__(
        self,
        *,
        manifest: Mapping[str, Any],
        api_key: str | None = None,
        access_token: str | None = None,
        base_url: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
        timeout: float = 30.0,
        transport: Any = None,
    ) -> None:
        self.manifest = dict(manifest)
        self.slug = str(self.manifest.get("slug") or "")
        self.base_url = (base_url or resolve_base_url()).rstrip("/")
        self.api_key = api_key or access_token or ""
        self.access_token = self.api_key
        self.cwd = Path(cwd or os.getcwd())
        self._http = HttpClient(
            self.base_url,
            auth=BearerAuth(self.api_key) if self.api_key else None,
            timeout=timeout,
            transport=transport,
        )

    @classmethod
    def from_env(
        cls, *, manifest: Mapping[str, Any], cwd: str | os.PathLike[str] | None = None, **kwargs: Any
    ) -> AraClient:
        """Build a client from the environment: load `.env`, resolve the base URL and token (spec §4.2).

        The resolved base URL is written back to `ARA_API_BASE_URL` (spec §4.1).

        Raises:
            RuntimeError: No credentials (`Missing required env var: ARA_API_KEY. ...`).
        """
        load_dotenv(cwd)
        base = resolve_base_url()
        token = resolve_control_token(base_url=base)
        os.environ["ARA_API_BASE_URL"] = base
        client = cls(manifest=manifest, api_key=token, base_url=base, cwd=cwd, **kwargs)
        # Resolve the token per request from now on, so a stored JWT is refreshed when it nears expiry.
        client._http.auth = ControlPlaneAuth(base)
        return client

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> AraClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------ helpers
    def _find_app(self) -> dict[str, Any] | None:
        listing = self._http.request("GET", "/apps")
        rows = listing.get("apps", []) if isinstance(listing, dict) else []
        for row in rows:
            if isinstance(row, dict) and row.get("slug") == self.slug and row.get("role", "owner") == "owner":
                return row
        return None

    def _app_id(self) -> str:
        row = self._find_app()
        if row is None:
            raise RuntimeError(f"App '{self.slug}' not found. Deploy first.")
        return str(row["id"])

    def _stored_runtime_key(self) -> str:
        try:
            data = json.loads((self.cwd / RUNTIME_KEYS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return ""
        value = data.get(self.slug) if isinstance(data, dict) else None
        return value if isinstance(value, str) else ""

    def _store_runtime_key(self, key: str) -> Path:
        path = self.cwd / RUNTIME_KEYS_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data = data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            data = {}
        data[self.slug] = key
        write_private_json(path, data)
        legacy = self.cwd / LEGACY_RUNTIME_KEY_FILE
        fd = os.open(legacy, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(key + "\n")
        return legacy

    def _runtime_auth(self, runtime_key: str | None, app_header_key: str | None) -> Any:
        """Auth for runtime-plane calls (spec §3.2, §4.2): app header key wins over the runtime key."""
        header_key = app_header_key or os.environ.get("ARA_APP_HEADER_KEY", "").strip()
        if header_key:
            return AppHeaderKeyAuth(header_key)
        key = runtime_key or os.environ.get("ARA_RUNTIME_KEY", "").strip() or self._stored_runtime_key()
        if not key:
            raise RuntimeError(MISSING_RUNTIME_KEY)
        return BearerAuth(key)

    # ------------------------------------------------------------------------------- deploy
    def deploy(
        self,
        *,
        activate: bool = True,
        key_name: str | None = None,
        key_rpm: int = 60,
        warm: bool = False,
        warm_agent_id: str | None = None,
        warm_workflow_id: str | None = None,
        on_existing: str | None = "update",
    ) -> dict[str, Any]:
        """Create or update the app, sync secrets, mint a runtime key, optionally warm it (spec §3.4).

        Args:
            activate: Set the app's status to `active`.
            key_name: Name of the minted runtime key (default `<slug>-py-local`).
            key_rpm: Requests per minute for the key.
            warm: Run the warm-up agent once with the new key.
            warm_agent_id: Agent for the warm-up (default: the app's default).
            warm_workflow_id: Older spelling of `warm_agent_id` (C12).
            on_existing: `update` (default) or `error` when the app exists.

        Returns:
            `{"app_id", "slug", "runtime_key_created", "runtime_key", "runtime_key_written",
            "runtime_key_path", "warmup", "secrets": {"synced", "referenced_only"}}`.

        Raises:
            ValueError: Bad `on_existing`.
            RuntimeError: The app exists and `on_existing="error"`, the name is taken, or an API call failed.
        """
        mode = on_existing or "update"
        if mode not in ("update", "error"):
            raise ValueError("on_existing must be one of: update, error")
        existing = self._find_app()
        if existing is not None and mode == "error":
            raise RuntimeError(
                f"Project '{self.slug}' already exists for this account (app_id={existing['id']})."
            )
        profile = dict(self.manifest.get("runtime_profile") or {})
        reconcile = "secret_refs" in profile
        definitions: list[SecretDefinition] = []
        for d in profile.pop(SECRET_DEFINITIONS_KEY, None) or []:
            if isinstance(d, SecretDefinition) and all(x.name != d.name for x in definitions):
                definitions.append(d)
        payload = {
            "name": self.manifest.get("name") or "",
            "description": self.manifest.get("description") or "",
            "agent": self.manifest.get("agent") or {},
            "workflows": self.manifest.get("workflows") or [],
            "interfaces": self.manifest.get("interfaces") or {},
            "runtime_profile": profile,
        }
        if existing is not None:
            app_id = str(existing["id"])
            self._http.request(
                "PATCH", f"/apps/{app_id}", json={**payload, **({"status": "active"} if activate else {})}
            )
        else:
            try:
                created = self._http.request("POST", "/apps", json={**payload, "slug": self.slug})
            except ApiError as exc:
                if exc.status == 409:
                    raise RuntimeError(
                        "Project name is already taken. Choose a different DNS-safe project_name "
                        "(lowercase letters, digits, hyphens) and retry deploy."
                    ) from None
                raise
            app_id = str(((created or {}).get("app") or {}).get("id") or "")
            if not app_id:
                raise RuntimeError("deploy failed: missing app id")
            if activate:
                self._http.request("PATCH", f"/apps/{app_id}", json={"status": "active"})
        secrets = self._sync_secrets(app_id, definitions, reconcile)
        key_response = self._http.request(
            "POST",
            f"/apps/{app_id}/keys",
            json={"name": key_name or f"{self.slug}-py-local", "requests_per_minute": key_rpm},
        )
        key = str((key_response or {}).get("key") or "")
        if not key:
            raise RuntimeError("deploy failed: runtime key missing")
        legacy_path = self._store_runtime_key(key)
        warmup: Any = None
        if warm:
            agent = warm_agent_id or warm_workflow_id or ""
            warmup = self._http.request(
                "POST",
                f"/v1/apps/{app_id}/run",
                auth=BearerAuth(key),
                json={"agent_id": agent, "workflow_id": agent, "warmup": True, "input": {}},
            )
        return {
            "app_id": app_id,
            "slug": self.slug,
            "runtime_key_created": True,
            "runtime_key": key,
            "runtime_key_written": True,
            "runtime_key_path": str(legacy_path),
            "warmup": warmup,
            "secrets": secrets,
        }

    def _sync_secrets(
        self, app_id: str, definitions: list[SecretDefinition], reconcile: bool
    ) -> dict[str, list[str]]:
        synced: list[str] = []
        referenced: list[str] = []
        try:
            for d in definitions:
                if d.values is None:
                    referenced.append(d.name)
                    continue
                self._http.request(
                    "POST", f"/apps/{app_id}/secrets", json={"name": d.name, "values": d.values}
                )
                synced.append(d.name)
            if reconcile:
                desired = {d.name.lower() for d in definitions} | {
                    str(r.get("name", "")).lower()
                    for r in (self.manifest.get("runtime_profile") or {}).get("secret_refs", [])
                }
                listing = self._http.request("GET", f"/apps/{app_id}/secrets")
                for row in (listing or {}).get("secrets", []) if isinstance(listing, dict) else []:
                    name = str(row.get("name", "")).lower()
                    if name and name not in desired:
                        try:
                            self._http.request("DELETE", f"/apps/{app_id}/secrets/{name}")
                        except ApiError as exc:
                            if exc.status != 404:
                                raise
        except ApiError as exc:
            if exc.status == 404 and "/secrets" in exc.path and exc.method != "DELETE":
                raise RuntimeError(
                    "This backend lacks the App SDK secret routes (/apps/{app_id}/secrets); "
                    "remove runtime(secrets=...) from the app or deploy to a server that supports them."
                ) from None
            raise
        return {"synced": synced, "referenced_only": referenced}

    # --------------------------------------------------------------------------- runtime plane
    def run(
        self,
        *,
        agent_id: str | None = None,
        input_payload: Mapping[str, Any] | None = None,
        runtime_key: str | None = None,
        app_header_key: str | None = None,
        workflow_id: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Run an agent and wait for the result (`POST /v1/apps/{app_id}/run`); the response verbatim.

        Args:
            agent_id: Agent id (default: the app's default agent).
            input_payload: The run input.
            runtime_key: Runtime key (else `ARA_RUNTIME_KEY`, else `.runtime-keys.local`).
            app_header_key: App header key (else `ARA_APP_HEADER_KEY`); wins over the runtime key.
            workflow_id: Older spelling of `agent_id` (C12).
            timeout: Seconds to wait (default `ARA_RUN_TIMEOUT_SECONDS` or 120).

        Raises:
            RuntimeError: Missing app, missing key, or an API error.
        """
        agent = agent_id or workflow_id or ""
        auth = self._runtime_auth(runtime_key, app_header_key)
        app_id = self._app_id()
        return self._http.request(
            "POST",
            f"/v1/apps/{app_id}/run",
            auth=auth,
            timeout=timeout or _run_timeout(),
            json={
                "agent_id": agent,
                "workflow_id": agent,
                "warmup": False,
                "input": dict(input_payload or {}),
            },
        )

    def events(
        self,
        *,
        agent_id: str | None = None,
        event_type: str = "webhook.message.received",
        channel: str = "webhook",
        source: str = "webhook",
        message: str = "",
        payload: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        runtime_key: str | None = None,
        app_header_key: str | None = None,
        workflow_id: str | None = None,
    ) -> Any:
        """Send an event (`POST /v1/apps/{app_id}/events`, `X-Idempotency-Key` when given)."""
        agent = agent_id or workflow_id or ""
        auth = self._runtime_auth(runtime_key, app_header_key)
        app_id = self._app_id()
        headers = {"X-Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._http.request(
            "POST",
            f"/v1/apps/{app_id}/events",
            auth=auth,
            headers=headers,
            json={
                "agent_id": agent,
                "workflow_id": agent,
                "event_type": event_type,
                "channel": channel,
                "source": source,
                "message": message,
                "payload": dict(payload or {}),
                "metadata": dict(metadata or {}),
            },
        )

    def run_async(
        self,
        *,
        agent_id: str | None = None,
        input_payload: Mapping[str, Any] | None = None,
        runtime_key: str | None = None,
        app_header_key: str | None = None,
        response_mode: str = "poll",
        callback: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        idempotency_key: str | None = None,
        warmup: bool = False,
        workflow_id: str | None = None,
    ) -> Any:
        """Submit a run without waiting (`POST /v1/apps/{app_id}/runs`).

        Raises:
            RuntimeError: `webhook` mode without a callback URL, missing app or key.
        """
        if response_mode == "webhook" and not (callback or {}).get("url"):
            raise RuntimeError("run-async with --response-mode webhook requires --callback-url")
        agent = agent_id or workflow_id or ""
        auth = self._runtime_auth(runtime_key, app_header_key)
        app_id = self._app_id()
        body: dict[str, Any] = {
            "agent_id": agent,
            "workflow_id": agent,
            "warmup": bool(warmup),
            "input": dict(input_payload or {}),
            "response_mode": response_mode,
        }
        if run_id:
            body["run_id"] = run_id
        if idempotency_key:
            body["idempotency_key"] = idempotency_key
        if callback:
            body["callback"] = dict(callback)
        headers = {"X-Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._http.request("POST", f"/v1/apps/{app_id}/runs", auth=auth, json=body, headers=headers)

    def run_status(
        self, *, run_id: str, runtime_key: str | None = None, app_header_key: str | None = None
    ) -> Any:
        """A run's status (`GET /v1/apps/{app_id}/runs/{run_id}`).

        Raises:
            RuntimeError: Empty run id (`run_status requires run_id`).
        """
        if not str(run_id or "").strip():
            raise RuntimeError("run_status requires run_id")
        auth = self._runtime_auth(runtime_key, app_header_key)
        app_id = self._app_id()
        return self._http.request("GET", f"/v1/apps/{app_id}/runs/{run_id.strip()}", auth=auth)

    def logs(
        self, *, runtime_key: str | None = None, app_header_key: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield the app's log rows from `GET /v1/apps/{app_id}/logs/stream` (SSE, spec §3.3)."""
        auth = self._runtime_auth(runtime_key, app_header_key)
        app_id = self._app_id()
        for row in self._http.stream_events("GET", f"/v1/apps/{app_id}/logs/stream", auth=auth, timeout=None):
            if isinstance(row, dict):
                yield row

    # --------------------------------------------------------------------------- control plane
    def setup(self) -> Any:
        """The app's setup information (`GET /apps/{app_id}/setup`), verbatim."""
        return self._http.request("GET", f"/apps/{self._app_id()}/setup")

    def invite(self, *, email: str, role: str = "viewer", expires_in_hours: int = 168) -> Any:
        """Invite someone (`POST /apps/{app_id}/invites`), verbatim."""
        return self._http.request(
            "POST",
            f"/apps/{self._app_id()}/invites",
            json={"email": email, "role": role, "expires_in_hours": expires_in_hours},
        )

    def setup_auth(
        self, *, x_key_name: str | None = None, x_key_rpm: int = 30, ensure_runtime_key: bool = True
    ) -> dict[str, Any]:
        """Make sure the app has a runtime key and an app header key (spec §3.4)."""
        app_id = self._app_id()
        runtime_key = os.environ.get("ARA_RUNTIME_KEY", "").strip()
        runtime_created = False
        if not runtime_key and ensure_runtime_key:
            minted = self._http.request(
                "POST",
                f"/apps/{app_id}/keys",
                json={"name": f"{self.slug}-py-local", "requests_per_minute": 60},
            )
            runtime_key = str((minted or {}).get("key") or "")
            runtime_created = bool(runtime_key)
            if runtime_key:
                self._store_runtime_key(runtime_key)
        header_key = os.environ.get("ARA_APP_HEADER_KEY", "").strip()
        created = False
        key_id = prefix = ""
        if not header_key:
            minted = self._http.request(
                "POST",
                f"/apps/{app_id}/x-keys",
                json={"name": x_key_name or f"{self.slug}-x-header", "requests_per_minute": x_key_rpm},
            )
            header_key = str((minted or {}).get("key") or "")
            key_id, prefix, created = str(minted.get("id") or ""), str(minted.get("key_prefix") or ""), True
        else:
            listing = self._http.request("GET", f"/apps/{app_id}/x-keys")
            for item in (listing or {}).get("keys", []) if isinstance(listing, dict) else []:
                if str(item.get("is_active")).lower() != "false" and header_key.startswith(
                    str(item.get("key_prefix") or "\0")
                ):
                    key_id, prefix = str(item.get("id") or ""), str(item.get("key_prefix") or "")
                    break
        return {
            "app_id": app_id,
            "slug": self.slug,
            "runtime_key_present": bool(runtime_key),
            "runtime_key_created": runtime_created,
            "runtime_key": runtime_key,
            "app_header_key_present": bool(header_key),
            "app_header_key_created": created,
            "app_header_key_id": key_id,
            "app_header_key_prefix": prefix,
            "app_header_key": header_key,
        }


def _run_timeout() -> float:
    raw = os.environ.get("ARA_RUN_TIMEOUT_SECONDS", "").strip()
    try:
        return max(30.0, float(raw)) if raw else 120.0
    except ValueError:
        return 120.0


class AsyncAraClient:
    """The methods of `AraClient` as coroutines (each runs the synchronous call in a worker thread).

    Args:
        **kwargs: As `AraClient`.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._sync = AraClient(**kwargs)

    @classmethod
    def from_env(
        cls, *, manifest: Mapping[str, Any], cwd: str | os.PathLike[str] | None = None, **kwargs: Any
    ) -> AsyncAraClient:
        """As `AraClient.from_env`."""
        client = cls.__new__(cls)
        client._sync = AraClient.from_env(manifest=manifest, cwd=cwd, **kwargs)
        return client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._sync, name)
        if name in ("deploy", "run", "events", "run_async", "run_status", "setup", "invite", "setup_auth"):

            async def call(**kwargs: Any) -> Any:
                return await asyncio.to_thread(method, **kwargs)

            return call
        return method
