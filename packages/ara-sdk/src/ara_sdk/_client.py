"""`AraClient` and `AsyncAraClient`: deploy and operate one app over the control and runtime planes.

Both share `_ClientBase`, where every operation is written once as a flow (see `ara_sdk._api`): the
synchronous client drives the flows with `httpx.Client`, the asynchronous one awaits them on
`httpx.AsyncClient`. The app id is looked up once per client and cached.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any, Self, TypedDict, cast

import msgspec
from ara_core import SECRET_DEFINITIONS_KEY, SecretDefinition
from ara_http import (
    USE_CLIENT_AUTH,
    AppHeaderKeyAuth,
    AsyncHttpClient,
    AuthenticationError,
    BearerAuth,
    ConflictError,
    ControlPlaneAuth,
    HttpClient,
    NotFoundError,
    PermissionDeniedError,
    load_dotenv,
    resolve_base_url,
    resolve_control_token,
    runtime_keys_path,
    write_private_json,
)

from ._api import (
    CALLS,
    AppList,
    AppRow,
    AraApi,
    AsyncAraApi,
    Call,
    CreatedApp,
    EventResponse,
    Flow,
    HeaderKeyList,
    LogRow,
    MintedKey,
    RunResponse,
    RunStatusResponse,
    RunSubmitted,
    SecretList,
    async_body,
    event_body,
    run_body,
)
from ._run_events import RunEvent, RunPage, aiter_run_events, iter_run_events, runs_flow
from .errors import (
    AppExistsError,
    AppNotDeployedError,
    ClientError,
    InvalidOptionError,
    MissingDeployEnvError,
    MissingRuntimeKeyError,
    ProjectNameTakenError,
    SecretRoutesMissingError,
)

__all__ = [
    "AraClient",
    "AsyncAraClient",
    "DeployResult",
    "RUNTIME_KEYS_FILE",
    "RuntimeKeyStore",
    "SetupAuthResult",
]

#: Runtime keys by app slug, `{"<slug>": "<key>"}`, in the working directory (the original SDK's file).
RUNTIME_KEYS_FILE = ".runtime-keys.local"
#: Older single-key file: written for compatibility with older tools, never read.
LEGACY_RUNTIME_KEY_FILE = ".runtime-key.local"


class SecretSync(TypedDict):
    """Secrets handled by a deploy: `{"synced": [names uploaded], "referenced_only": [names]}`."""

    synced: list[str]
    referenced_only: list[str]


class DeployResult(TypedDict):
    """What `deploy` returns.

    Shape: `{"app_id", "slug", "runtime_key_created": true, "runtime_key", "runtime_key_written":
    true, "runtime_key_path", "warmup": {"ok", "run_id", "app_id", "warmup": true, "status"} | None,
    "secrets": SecretSync, "warnings": [{"path", "message"}]}` (`warnings`: what the server
    said it does not provide for this app, e.g. an email channel on ara-server);
    `runtime_key_path` is the older single-key file (`<cwd>/.runtime-key.local`).
    """

    app_id: str
    slug: str
    runtime_key_created: bool
    runtime_key: str
    runtime_key_written: bool
    runtime_key_path: str
    warmup: dict[str, Any] | None
    secrets: SecretSync
    warnings: list[dict[str, str]]


class SetupAuthResult(TypedDict):
    """What `setup_auth` returns: which keys exist or were minted, and the keys themselves."""

    app_id: str
    slug: str
    runtime_key_present: bool
    runtime_key_created: bool
    runtime_key: str
    app_header_key_present: bool
    app_header_key_created: bool
    app_header_key_id: str
    app_header_key_prefix: str
    app_header_key: str


class DeployPayload(msgspec.Struct, kw_only=True):
    """Body of `POST /apps` and `PATCH /apps/{app_id}` on deploy (the wire key order)."""

    name: str
    description: str
    agent: Any
    workflows: Any
    interfaces: Any
    runtime_profile: dict[str, Any]
    status: str | msgspec.UnsetType = msgspec.UNSET
    slug: str | msgspec.UnsetType = msgspec.UNSET


class StatusPatch(msgspec.Struct, kw_only=True):
    """Body of `PATCH /apps/{app_id}` that only activates the app."""

    status: str


class RuntimeKeyStore:
    """Where deploy and setup-auth keep an app's runtime key, and where run, events and logs find it.

    As the original SDK does, a key is written to `<cwd>/.runtime-keys.local` (`{"<slug>": "<key>"}`,
    mode 0600) and the older single-key file `<cwd>/.runtime-key.local` (written, never read).
    When the app file's directory is known (the `ara` command passes it), the key is also kept
    under that directory and the slug in `~/.ara/runtime-keys.json` (`{"<app dir>": {"<slug>":
    "<key>"}}`, mode 0600; entries of directories that no longer exist are pruned), so
    `ara run path/to/app.py` finds it from any directory.

    Lookup order: the user store for (app dir, slug), `<app dir>/.runtime-keys.local`,
    `<cwd>/.runtime-keys.local`.

    Args:
        app_dir: Directory of the app file, or `None` when unknown.
        cwd: The working directory.
        user_store: The user-level file (default `~/.ara/runtime-keys.json`).
    """

    def __init__(self, app_dir: Path | None, cwd: Path, user_store: Path | None = None) -> None:
        self.app_dir = app_dir.absolute() if app_dir is not None else None
        self.cwd = cwd.absolute()
        self.user_store = user_store or runtime_keys_path()

    def _local_files(self) -> list[Path]:
        files = [self.cwd / RUNTIME_KEYS_FILE]
        if self.app_dir is not None and self.app_dir != self.cwd:
            files.insert(0, self.app_dir / RUNTIME_KEYS_FILE)
        return files

    def searched(self) -> list[str]:
        """Where `get` looks, in order (for messages)."""
        local = [str(p) for p in self._local_files()]
        return [f"{self.user_store} (for {self.app_dir})", *local] if self.app_dir is not None else local

    def get(self, slug: str) -> str:
        """The stored key for `slug`, or `""`."""
        if self.app_dir is not None:
            by_dir = _read_keys(self.user_store).get(str(self.app_dir))
            value = cast("dict[str, Any]", by_dir).get(slug) if isinstance(by_dir, dict) else None
            if isinstance(value, str) and value:
                return value
        for path in self._local_files():
            value = _read_keys(path).get(slug)
            if isinstance(value, str) and value:
                return value
        return ""

    def put(self, slug: str, key: str) -> Path:
        """Store `key` for `slug` (see the class docstring).

        Returns:
            The path of the older single-key file.

        Raises:
            OSError: A file could not be written.
        """
        if self.app_dir is not None:
            store = {d: keys for d, keys in _read_keys(self.user_store).items() if Path(d).is_dir()}
            by_dir = store.get(str(self.app_dir))
            entry = dict(cast("dict[str, Any]", by_dir)) if isinstance(by_dir, dict) else {}
            entry[slug] = key
            store[str(self.app_dir)] = entry
            write_private_json(self.user_store, store)
        path = self.cwd / RUNTIME_KEYS_FILE
        data = _read_keys(path)
        data[slug] = key
        write_private_json(path, data)
        legacy = self.cwd / LEGACY_RUNTIME_KEY_FILE
        fd = os.open(legacy, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(key + "\n")
        return legacy


def _read_keys(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return cast("dict[str, Any]", data) if isinstance(data, dict) else {}


def _rows(listing: object, key: str) -> list[dict[str, Any]]:
    """The object rows of `listing[key]`; anything malformed is skipped rather than trusted."""
    rows = cast("dict[str, Any]", listing).get(key) if isinstance(listing, dict) else None
    if not isinstance(rows, list):
        return []
    return [cast("dict[str, Any]", r) for r in cast("list[object]", rows) if isinstance(r, dict)]


def _run_timeout() -> float:
    raw = os.environ.get("ARA_RUN_TIMEOUT_SECONDS", "").strip()
    try:
        return max(30.0, float(raw)) if raw else 120.0
    except ValueError:
        return 120.0


#: Private runtime-profile key of job-first apps: the environment keys their jobs and tools require.
REQUIRED_ENV_KEYS_KEY = "__required_env_keys"


def _job_tool_keys(manifest: dict[str, Any]) -> list[str]:
    """The `required_env` keys of a job-first app's tools (`ara.Job`: its entrypoints are shipped as
    the prompt function `_automation_entry`), in tool order; none for other apps."""
    agent = manifest.get("agent")
    if not isinstance(agent, dict):
        return []
    agent = cast("dict[str, Any]", agent)
    rows = [r for r in agent.get("agents") or [] if isinstance(r, dict)]
    factories = [cast("dict[str, Any]", r).get("prompt_factory") for r in rows]
    if not any(isinstance(f, dict) and f.get("function_name") == "_automation_entry" for f in factories):
        return []
    keys: list[str] = []
    for row in agent.get("tools") or []:
        if isinstance(row, dict):
            keys.extend(str(k) for k in cast("dict[str, Any]", row).get("required_env") or [])
    return keys


def _required_env_secret(keys: Any, manifest: dict[str, Any]) -> SecretDefinition | None:
    """The secret deploy syncs for a job-first app's required environment keys: the jobs'
    `required_env` (the private runtime-profile key `__required_env_keys`), then its tools'.

    Deploy reads each key from this process's environment and stores them all in one app secret
    named `sdk-dict-<first 12 hex digits of the SHA-256 of the sorted keys as compact JSON>` (the
    newest original SDK's name, so a redeploy with either SDK updates the same secret), referenced
    from `runtime_profile.secret_refs`; the private key itself is never sent.

    Raises:
        MissingDeployEnvError: A key is not set in the environment.
    """
    listed = [str(k) for k in cast("list[Any]", keys)] if isinstance(keys, list | tuple) else []
    names = list(dict.fromkeys([*listed, *_job_tool_keys(manifest)]))
    if not names:
        return None
    missing = [name for name in names if name not in os.environ]
    if missing:
        raise MissingDeployEnvError(missing)
    digest = hashlib.sha256(json.dumps(sorted(names), separators=(",", ":")).encode()).hexdigest()[:12]
    return SecretDefinition(
        name=f"sdk-dict-{digest}", values={name: os.environ[name] for name in names}, source="local_environ"
    )


def _check_manifest(manifest: dict[str, Any]) -> None:
    """Validate the manifest as it will be sent (private runtime-profile keys left out).

    Raises:
        ManifestError: With the `(json_path, message)` of every broken rule.
    """
    from ara_core import validate_manifest

    wire = dict(manifest)
    profile = wire.get("runtime_profile")
    if isinstance(profile, Mapping):
        items = cast("Mapping[str, Any]", profile).items()
        wire["runtime_profile"] = {k: v for k, v in items if not str(k).startswith("__")}
    validate_manifest(wire)


def _as_dict(manifest: Any) -> dict[str, Any]:
    if isinstance(manifest, Mapping):
        return dict(cast("Mapping[str, Any]", manifest))
    if isinstance(manifest, msgspec.Struct):
        return cast("dict[str, Any]", msgspec.to_builtins(manifest))
    inner = getattr(manifest, "manifest", None)  # an `App`
    if isinstance(inner, Mapping):
        return dict(cast("Mapping[str, Any]", inner))
    raise InvalidOptionError("manifest must be a mapping (App.manifest) or an App")


class _ClientBase:
    """State and flows shared by `AraClient` and `AsyncAraClient` (no I/O here)."""

    def __init__(
        self,
        *,
        manifest: Any,
        api_key: str | None = None,
        access_token: str | None = None,
        base_url: str | None = None,
        api_base_url: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
        app_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.manifest = _as_dict(manifest)
        self.slug = str(self.manifest.get("slug") or "")
        self.base_url = (base_url or api_base_url or resolve_base_url()).rstrip("/")
        self.api_key = api_key or access_token or ""
        self.access_token = self.api_key
        self.cwd = Path(cwd or os.getcwd())
        self.app_dir = Path(app_dir) if app_dir is not None else None
        self.runtime_keys = RuntimeKeyStore(self.app_dir, self.cwd)
        self._app: AppRow | None = None

    def _control_auth(self, auth: Any) -> Any:
        if auth is not None:
            return auth
        return BearerAuth(self.api_key) if self.api_key else None

    # ------------------------------------------------------------------------------ app lookup
    def _find_app(self) -> Flow[AppRow | None]:
        """The app's row in `GET /apps`, cached; the caller's own app first, then one shared with it."""
        if self._app is not None:
            return self._app
        listing: AppList = yield CALLS.list_apps()
        rows: list[AppRow] = []
        for row in _rows(listing, "apps"):
            app_id = row.get("id")
            if row.get("slug") == self.slug and isinstance(app_id, str | int) and str(app_id):
                rows.append(cast(AppRow, {**row, "id": str(app_id)}))
        found = next((r for r in rows if r.get("role", "owner") == "owner"), rows[0] if rows else None)
        self._app = found
        return found

    def _require_app(self) -> Flow[AppRow]:
        row = yield from self._find_app()
        if row is None:
            raise AppNotDeployedError(self.slug, self.base_url)
        return row

    def _app_call(self, call: Call) -> Flow[Any]:
        """Send an app-scoped call; a 404 forgets the cached app id (the app may have been deleted
        or deployed again), so the next call looks it up afresh."""
        try:
            return (yield call)
        except NotFoundError:
            self._app = None
            raise

    def _runtime_target(self, runtime_key: str | None, app_header_key: str | None) -> Flow[tuple[str, Any]]:
        """The app id and the auth for a runtime-plane call.

        1. an app header key (argument, else `ARA_APP_HEADER_KEY`) as `X-Ara-App-Key`;
        2. a runtime key (argument, else `ARA_RUNTIME_KEY`, else the stored key of this app
           directory and slug) as `Authorization: Bearer`;
        3. for an app shared with the caller (role `member` or `viewer`), the caller's own token:
           the server decides what the role allows.
        """
        app = yield from self._require_app()
        header_key = app_header_key or os.environ.get("ARA_APP_HEADER_KEY", "").strip()
        if header_key:
            return app["id"], AppHeaderKeyAuth(header_key)
        key = runtime_key or os.environ.get("ARA_RUNTIME_KEY", "").strip() or self.runtime_keys.get(self.slug)
        if key:
            return app["id"], BearerAuth(key)
        if app.get("role", "owner") != "owner":
            return app["id"], USE_CLIENT_AUTH
        raise MissingRuntimeKeyError(self.slug, self.runtime_keys.searched())

    # ---------------------------------------------------------------------------------- deploy
    def _deploy_flow(
        self,
        activate: bool,
        key_name: str | None,
        key_rpm: int,
        warm: bool,
        warm_agent_id: str | None,
        on_existing: str | None,
        rotate_key: bool = False,
    ) -> Flow[DeployResult]:
        mode = on_existing or "update"
        if mode not in ("update", "error"):
            raise InvalidOptionError("on_existing must be one of: update, error")
        _check_manifest(self.manifest)
        profile = dict(self.manifest.get("runtime_profile") or {})
        definitions: list[SecretDefinition] = []
        for d in profile.pop(SECRET_DEFINITIONS_KEY, None) or []:
            if isinstance(d, SecretDefinition) and all(x.name != d.name for x in definitions):
                definitions.append(d)
        env_secret = _required_env_secret(profile.pop(REQUIRED_ENV_KEYS_KEY, None), self.manifest)
        if env_secret is not None:
            definitions.append(env_secret)
            refs = [r for r in profile.get("secret_refs") or [] if isinstance(r, dict)]
            if all(str(r.get("name", "")).lower() != env_secret.name for r in refs):
                profile["secret_refs"] = [*refs, env_secret.ref()]
        reconcile = "secret_refs" in profile
        existing = yield from self._find_app()
        if existing is not None and mode == "error":
            raise AppExistsError(self.slug, existing["id"])
        payload = DeployPayload(
            name=str(self.manifest.get("name") or ""),
            description=str(self.manifest.get("description") or ""),
            agent=self.manifest.get("agent") or {},
            workflows=self.manifest.get("workflows") or [],
            interfaces=self.manifest.get("interfaces") or {},
            runtime_profile=profile,
        )
        if existing is not None:
            app_id = existing["id"]
            if activate:
                payload.status = "active"
            updated = yield CALLS.update_app(app_id, payload)
            warnings = _warnings(updated)
        else:
            payload.slug = self.slug
            try:
                created: CreatedApp = yield CALLS.create_app(payload)
            except ConflictError:
                raise ProjectNameTakenError() from None
            warnings = _warnings(created)
            app = created.get("app") if isinstance(created, dict) else None
            app_id = str(app.get("id") or "") if isinstance(app, dict) else ""
            if not app_id:
                raise ClientError("deploy failed: missing app id")
            self._app = {"id": app_id, "slug": self.slug, "role": "owner"}
            if activate:
                yield CALLS.update_app(app_id, StatusPatch(status="active"))
        secrets = yield from self._sync_secrets(app_id, definitions, reconcile, profile.get("secret_refs"))
        # A redeploy keeps the stored runtime key while the server still accepts it (keys do not
        # pile up); `rotate_key` or a key the server refuses mints a new one.
        key = ""
        stored = self.runtime_keys.get(self.slug) if existing is not None and not rotate_key else ""
        if stored and (yield from self._key_works(app_id, stored)):
            key = stored
        created_key = not key
        if created_key:
            minted: MintedKey = yield CALLS.create_key(
                app_id, name=key_name or f"{self.slug}-py-local", requests_per_minute=key_rpm
            )
            key = str(minted.get("key") or "") if isinstance(minted, dict) else ""
            if not key:
                raise ClientError("deploy failed: runtime key missing")
        legacy_path = self.runtime_keys.put(self.slug, key)
        warmup: dict[str, Any] | None = None
        if warm:
            body = run_body(warm_agent_id, {}, True)
            warmup = yield CALLS.run_app(app_id, body, BearerAuth(key))
        return {
            "app_id": app_id,
            "slug": self.slug,
            "runtime_key_created": created_key,
            "runtime_key": key,
            "runtime_key_written": True,
            "runtime_key_path": str(legacy_path),
            "warmup": warmup,
            "secrets": secrets,
            "warnings": warnings,
        }

    def _sync_secrets(
        self, app_id: str, definitions: list[SecretDefinition], reconcile: bool, refs: Any = None
    ) -> Flow[SecretSync]:
        synced: list[str] = []
        referenced: list[str] = []
        try:
            for d in definitions:
                if d.values is None:
                    referenced.append(d.name)
                    continue
                yield CALLS.upsert_secret(app_id, name=d.name, values=d.values)
                synced.append(d.name)
            if reconcile:
                refs = refs or []
                desired = {d.name.lower() for d in definitions} | {
                    str(r.get("name", "")).lower() for r in refs if isinstance(r, dict)
                }
                listing: SecretList = yield CALLS.list_secrets(app_id)
                for row in _rows(listing, "secrets"):
                    name = str(row.get("name", "")).lower()
                    if name and name not in desired:
                        try:
                            yield CALLS.delete_secret(app_id, name)
                        except NotFoundError:
                            pass  # already gone
        except NotFoundError:
            raise SecretRoutesMissingError() from None
        return {"synced": synced, "referenced_only": referenced}

    # ---------------------------------------------------------------------------- runtime plane
    def _run_flow(
        self,
        agent_id: str | None,
        input_payload: Mapping[str, Any] | None,
        runtime_key: str | None,
        app_header_key: str | None,
        timeout: float | None,
    ) -> Flow[RunResponse]:
        app_id, auth = yield from self._runtime_target(runtime_key, app_header_key)
        body = run_body(agent_id, input_payload, False)
        return (yield from self._app_call(CALLS.run_app(app_id, body, auth, timeout or _run_timeout())))

    def _events_flow(
        self,
        agent_id: str | None,
        event_type: str,
        channel: str,
        source: str,
        message: str,
        payload: Mapping[str, Any] | None,
        metadata: Mapping[str, Any] | None,
        idempotency_key: str | None,
        runtime_key: str | None,
        app_header_key: str | None,
    ) -> Flow[EventResponse]:
        app_id, auth = yield from self._runtime_target(runtime_key, app_header_key)
        body = event_body(agent_id, event_type, channel, source, message, payload, metadata)
        return (yield from self._app_call(CALLS.send_event(app_id, body, auth, idempotency_key)))

    def _run_async_flow(
        self,
        agent_id: str | None,
        input_payload: Mapping[str, Any] | None,
        runtime_key: str | None,
        app_header_key: str | None,
        response_mode: str,
        callback: Mapping[str, Any] | None,
        run_id: str | None,
        idempotency_key: str | None,
        warmup: bool,
    ) -> Flow[RunSubmitted]:
        if response_mode == "webhook" and not (callback or {}).get("url"):
            raise ClientError("run-async with --response-mode webhook requires --callback-url")
        app_id, auth = yield from self._runtime_target(runtime_key, app_header_key)
        body = async_body(agent_id, input_payload, warmup, run_id, idempotency_key, response_mode, callback)
        return (yield from self._app_call(CALLS.submit_async_run(app_id, body, auth)))

    def _run_status_flow(
        self, run_id: str, runtime_key: str | None, app_header_key: str | None
    ) -> Flow[RunStatusResponse]:
        if not str(run_id or "").strip():
            raise ClientError("run_status requires run_id")
        app_id, auth = yield from self._runtime_target(runtime_key, app_header_key)
        return (yield from self._app_call(CALLS.get_async_run_status(app_id, run_id.strip(), auth)))

    def _cancel_flow(
        self, run_id: str, runtime_key: str | None, app_header_key: str | None
    ) -> Flow[RunStatusResponse]:
        if not str(run_id or "").strip():
            raise ClientError("cancel requires run_id")
        app_id, auth = yield from self._runtime_target(runtime_key, app_header_key)
        return (yield from self._app_call(CALLS.cancel_run(app_id, run_id.strip(), auth)))

    def _logs_call(self, runtime_key: str | None, app_header_key: str | None) -> Flow[Any]:
        app_id, auth = yield from self._runtime_target(runtime_key, app_header_key)
        return CALLS.stream_logs(app_id, auth)

    # ---------------------------------------------------------------------------- control plane
    def _setup_flow(self) -> Flow[dict[str, Any]]:
        app = yield from self._require_app()
        return (yield from self._app_call(CALLS.setup(app["id"])))

    def _invite_flow(self, email: str, role: str, expires_in_hours: int) -> Flow[dict[str, Any]]:
        app = yield from self._require_app()
        call = CALLS.invite(app["id"], email=email, role=role, expires_in_hours=expires_in_hours)
        return (yield from self._app_call(call))

    def _key_works(self, app_id: str, key: str) -> Flow[bool]:
        """Whether the server accepts `key` as a runtime key of the app (one cheap run listing)."""
        try:
            yield CALLS.list_runs(app_id, {"limit": 1}, BearerAuth(key))
        except (AuthenticationError, PermissionDeniedError, NotFoundError):
            return False
        return True

    def _keys_flow(self) -> Flow[dict[str, Any]]:
        app = yield from self._require_app()
        runtime = yield from self._app_call(CALLS.list_keys(app["id"]))
        header = yield from self._app_call(CALLS.list_x_keys(app["id"]))
        return {
            "app_id": app["id"],
            "slug": self.slug,
            "runtime_keys": list(runtime.get("keys") or []) if isinstance(runtime, dict) else [],
            "app_header_keys": list(header.get("keys") or []) if isinstance(header, dict) else [],
        }

    def _revoke_key_flow(self, key_id: str, app_header: bool) -> Flow[dict[str, Any]]:
        if not key_id.strip():
            raise InvalidOptionError("revoke_key requires key_id (see keys())")
        app = yield from self._require_app()
        call = (CALLS.revoke_x_key if app_header else CALLS.revoke_key)(app["id"], key_id.strip())
        answer = yield from self._app_call(call)
        return answer if isinstance(answer, dict) else {"ok": True, "id": key_id.strip()}

    def _setup_auth_flow(
        self, x_key_name: str | None, x_key_rpm: int, ensure_runtime_key: bool
    ) -> Flow[SetupAuthResult]:
        app = yield from self._require_app()
        app_id = app["id"]
        runtime_key = os.environ.get("ARA_RUNTIME_KEY", "").strip()
        runtime_created = False
        stored = self.runtime_keys.get(self.slug) if not runtime_key and ensure_runtime_key else ""
        if stored and (yield from self._key_works(app_id, stored)):
            runtime_key = stored  # the key of the last deploy still works: no new key
        if not runtime_key and ensure_runtime_key:
            minted: MintedKey = yield CALLS.create_key(
                app_id, name=f"{self.slug}-py-local", requests_per_minute=60
            )
            runtime_key = str(minted.get("key") or "") if isinstance(minted, dict) else ""
            runtime_created = bool(runtime_key)
            if runtime_key:
                self.runtime_keys.put(self.slug, runtime_key)
        header_key = os.environ.get("ARA_APP_HEADER_KEY", "").strip()
        created = False
        key_id = prefix = ""
        if not header_key:
            x_minted: MintedKey = yield CALLS.create_x_key(
                app_id, name=x_key_name or f"{self.slug}-x-header", requests_per_minute=x_key_rpm
            )
            if isinstance(x_minted, dict):
                header_key = str(x_minted.get("key") or "")
                key_id, prefix = str(x_minted.get("id") or ""), str(x_minted.get("key_prefix") or "")
            created = True
        else:
            listing: HeaderKeyList = yield CALLS.list_x_keys(app_id)
            for item in _rows(listing, "keys"):
                item_prefix = str(item.get("key_prefix") or "")
                if (
                    str(item.get("is_active")).lower() != "false"
                    and item_prefix
                    and header_key.startswith(item_prefix)
                ):
                    key_id, prefix = str(item.get("id") or ""), item_prefix
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

    @classmethod
    def _env_kwargs(cls, cwd: str | os.PathLike[str] | None) -> dict[str, Any]:
        load_dotenv(cwd)
        base = resolve_base_url()
        token = resolve_control_token(base_url=base)
        os.environ["ARA_API_BASE_URL"] = base
        # The token is resolved again per request, so a stored JWT is refreshed when it nears expiry.
        return {"api_key": token, "base_url": base, "auth": ControlPlaneAuth(base)}


class AraClient(_ClientBase):
    """Deploy and operate one app (synchronous).

    Args:
        manifest: The app manifest (`App.manifest`) or the `App`; its `slug` names the app.
        api_key: Control-plane token (API key or JWT).
        access_token: Older spelling of `api_key`.
        base_url: API base URL (default: resolved: `ARA_API_BASE_URL`, a running `ara dev`, the
            stored login, `https://api.ara.so`).
        api_base_url: The original SDK's spelling of `base_url`.
        cwd: Directory for `.env` and `.runtime-keys.local` (default: the current directory).
        app_dir: Directory of the app file; when given, runtime keys are also stored and found by
            it and the slug, from any working directory (see `RuntimeKeyStore`).
        timeout: Default request timeout in seconds (default 30).
        auth: An `httpx.Auth` for control-plane calls (default: `Authorization: Bearer <api_key>`).
        transport: An `httpx.BaseTransport` (tests use `httpx.MockTransport`).

    Raises:
        InvalidOptionError: `manifest` is neither a mapping nor an `App`.
    """

    def __init__(
        self,
        *,
        manifest: Any,
        api_key: str | None = None,
        access_token: str | None = None,
        base_url: str | None = None,
        api_base_url: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
        app_dir: str | os.PathLike[str] | None = None,
        timeout: float = 30.0,
        auth: Any = None,
        transport: Any = None,
    ) -> None:
        super().__init__(
            manifest=manifest,
            api_key=api_key,
            access_token=access_token,
            base_url=base_url,
            api_base_url=api_base_url,
            cwd=cwd,
            app_dir=app_dir,
        )
        self._api = AraApi(
            HttpClient(self.base_url, auth=self._control_auth(auth), timeout=timeout, transport=transport)
        )

    @classmethod
    def from_env(
        cls,
        *,
        manifest: Any,
        cwd: str | os.PathLike[str] | None = None,
        app_dir: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """Build a client from the environment: load `<cwd>/.env`, resolve the base URL and token.

        The resolved base URL is written back to `ARA_API_BASE_URL`.

        Raises:
            MissingCredentialsError: No credentials; the message names the server and says to start
                `ara dev` or run `ara auth login`.
        """
        return cls(manifest=manifest, cwd=cwd, app_dir=app_dir, **{**cls._env_kwargs(cwd), **kwargs})

    @property
    def http(self) -> AraApi:
        """The Ara API with this client's token, one method per route.

        For example `client.http.list_secrets(app_id)`.
        """
        return self._api

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._api.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def app_id(self) -> str:
        """The app's id on the server, looked up once and cached.

        Raises:
            AppNotDeployedError: No app with this slug is visible to the account.
        """
        return self._api.drive(self._require_app())["id"]

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
        rotate_key: bool = False,
    ) -> DeployResult:
        """Create or update the app, sync its secrets, make sure it has a runtime key, optionally warm it.

        A first deploy mints a runtime key and stores it for the app directory and slug (see
        `RuntimeKeyStore`, mode 0600). A redeploy reuses the stored key while the server accepts it
        (`runtime_key_created` is then false), so keys do not pile up; `rotate_key=True`, or a stored
        key the server refuses (revoked), mints a new one. Revoke old keys with `revoke_key`.

        Args:
            activate: Set the app's status to `active`.
            key_name: Name of the minted runtime key (default `<slug>-py-local`).
            key_rpm: Requests per minute for the key.
            warm: Run the warm-up agent once with the new key.
            warm_agent_id: Agent for the warm-up (default: the app's default).
            warm_workflow_id: Older spelling of `warm_agent_id`.
            on_existing: `update` (default) or `error` when the app exists.
            rotate_key: Mint a new runtime key even when the stored one still works.

        Returns:
            `DeployResult`.

        Raises:
            InvalidOptionError: Bad `on_existing` (a `ValueError`).
            AppExistsError: The app exists and `on_existing="error"`.
            ProjectNameTakenError: Another account uses the project name.
            SecretRoutesMissingError: The server has no secret routes and the app declares secrets.
            ara_http.ApiError: Any other API failure (subclass by status).
        """
        flow = self._deploy_flow(
            activate, key_name, key_rpm, warm, warm_agent_id or warm_workflow_id, on_existing, rotate_key
        )
        return self._api.drive(flow)

    def run(
        self,
        *,
        agent_id: str | None = None,
        input_payload: Mapping[str, Any] | None = None,
        runtime_key: str | None = None,
        app_header_key: str | None = None,
        workflow_id: str | None = None,
        timeout: float | None = None,
    ) -> RunResponse:
        """Run an agent and wait for the result (`POST /v1/apps/{app_id}/run`); the response verbatim.

        Args:
            agent_id: Agent id (default: the app's default agent).
            input_payload: The run input.
            runtime_key: Runtime key (else `ARA_RUNTIME_KEY`, else the stored key for this app).
            app_header_key: App header key (else `ARA_APP_HEADER_KEY`); wins over the runtime key.
            workflow_id: Older spelling of `agent_id`.
            timeout: Seconds to wait (default `ARA_RUN_TIMEOUT_SECONDS`, else 120).

        Returns:
            `RunResponse`.

        Raises:
            AppNotDeployedError: The app is not on the server.
            MissingRuntimeKeyError: The app is deployed but no key was found.
            ara_http.ApiError: The call failed (subclass by status).
        """
        flow = self._run_flow(agent_id or workflow_id, input_payload, runtime_key, app_header_key, timeout)
        return self._api.drive(flow)

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
    ) -> EventResponse:
        """Send an event (`POST /v1/apps/{app_id}/events`, `X-Idempotency-Key` when given).

        Raises:
            AppNotDeployedError, MissingRuntimeKeyError, ara_http.ApiError: As `run`.
        """
        flow = self._events_flow(
            agent_id or workflow_id,
            event_type,
            channel,
            source,
            message,
            payload,
            metadata,
            idempotency_key,
            runtime_key,
            app_header_key,
        )
        return self._api.drive(flow)

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
    ) -> RunSubmitted:
        """Submit a run without waiting (`POST /v1/apps/{app_id}/runs`).

        Raises:
            ClientError: `webhook` mode without a callback URL.
            AppNotDeployedError, MissingRuntimeKeyError, ara_http.ApiError: As `run`.
        """
        flow = self._run_async_flow(
            agent_id or workflow_id,
            input_payload,
            runtime_key,
            app_header_key,
            response_mode,
            callback,
            run_id,
            idempotency_key,
            warmup,
        )
        return self._api.drive(flow)

    def run_status(
        self, *, run_id: str, runtime_key: str | None = None, app_header_key: str | None = None
    ) -> RunStatusResponse:
        """A run's status (`GET /v1/apps/{app_id}/runs/{run_id}`).

        Raises:
            ClientError: Empty run id (`run_status requires run_id`).
            AppNotDeployedError, MissingRuntimeKeyError, ara_http.ApiError: As `run`.
        """
        return self._api.drive(self._run_status_flow(run_id, runtime_key, app_header_key))

    def cancel(
        self, *, run_id: str, runtime_key: str | None = None, app_header_key: str | None = None
    ) -> RunStatusResponse:
        """Cancel a run (`POST /v1/apps/{app_id}/runs/{run_id}/cancel`): a queued run ends at once;
        a running run is stopped and its sandbox process tree killed. The response's `run` is the
        run after the cancel (`status` `cancelled`, or still `running` with `cancel_requested` when
        its node has not stopped it yet; the response is then 202).

        Raises:
            ClientError: Empty run id (`cancel requires run_id`).
            AppNotDeployedError, MissingRuntimeKeyError: As `run`.
            ara_http.ApiError: 404 `not_found`; 409 `run_finished` (it had already completed or failed).
        """
        return self._api.drive(self._cancel_flow(run_id, runtime_key, app_header_key))

    def logs(self, *, runtime_key: str | None = None, app_header_key: str | None = None) -> Iterator[LogRow]:
        """Yield the app's log rows from `GET /v1/apps/{app_id}/logs/stream` as they arrive (SSE)."""
        call = self._api.drive(self._logs_call(runtime_key, app_header_key))
        yield from self._api.stream(call)

    def runs(
        self,
        *,
        status: str | None = None,
        agent: str | None = None,
        kind: str | None = None,
        since: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
        runtime_key: str | None = None,
        app_header_key: str | None = None,
    ) -> RunPage:
        """A page of the app's runs, newest first (`GET /v1/apps/{app_id}/runs`).

        Args:
            status: Only runs with this status (`queued`, `running`, `completed`, `failed`, `cancelled`).
            agent: Only runs of this agent or workflow id.
            kind: Only runs of this kind (`agent`, `command`, `pipeline`, `tool`, `handler`).
            since: Only runs created at or after this ISO 8601 time.
            cursor: `next_cursor` of the previous page.
            limit: Page size, 1-200 (default 50).
            runtime_key: Runtime key (as `run`).
            app_header_key: App header key (as `run`).

        Raises:
            AppNotDeployedError, MissingRuntimeKeyError: As `run`.
            ara_http.UnprocessableEntityError: A filter the server refuses (the message names it).
        """
        query = {
            "status": status,
            "agent": agent,
            "kind": kind,
            "since": since,
            "cursor": cursor,
            "limit": limit,
        }
        return self._api.drive(runs_flow(self, query, runtime_key, app_header_key))

    def stream_run(
        self,
        *,
        run_id: str,
        last_event_id: str | None = None,
        runtime_key: str | None = None,
        app_header_key: str | None = None,
    ) -> Iterator[RunEvent]:
        """Yield a run's events as they happen (`GET /v1/apps/{app_id}/runs/{run_id}/events`), ending
        with its terminal event (`run.completed`, `run.failed` or `run.cancelled`); a dropped
        connection is resumed with `Last-Event-ID`, so no event is repeated or lost.

        Args:
            run_id: The run.
            last_event_id: Resume after this event `id`.
            runtime_key: Runtime key (as `run`).
            app_header_key: App header key (as `run`).
        """
        yield from iter_run_events(
            self, run_id, last_event_id=last_event_id, runtime_key=runtime_key, app_header_key=app_header_key
        )

    def setup(self) -> dict[str, Any]:
        """The app's setup information (`GET /apps/{app_id}/setup`), verbatim."""
        return self._api.drive(self._setup_flow())

    def invite(self, *, email: str, role: str = "viewer", expires_in_hours: int = 168) -> dict[str, Any]:
        """Invite someone to the app (`POST /apps/{app_id}/invites`); `role` is `viewer` or `member`."""
        return self._api.drive(self._invite_flow(email, role, expires_in_hours))

    def setup_auth(
        self, *, x_key_name: str | None = None, x_key_rpm: int = 30, ensure_runtime_key: bool = True
    ) -> SetupAuthResult:
        """Make sure the app has a runtime key and an app header key; mint what is missing."""
        return self._api.drive(self._setup_auth_flow(x_key_name, x_key_rpm, ensure_runtime_key))

    def keys(self) -> dict[str, Any]:
        """The app's runtime keys and app header keys: `{"app_id", "slug", "runtime_keys": [...],
        "app_header_keys": [...]}`, each key `{"id", "name", "key_prefix", "requests_per_minute",
        "is_active", "created_at"}` (never the key itself)."""
        return self._api.drive(self._keys_flow())

    def revoke_key(self, key_id: str, *, app_header: bool = False) -> dict[str, Any]:
        """Revoke a runtime key (or an app header key when `app_header`) by its id (from `keys()`).

        Raises:
            InvalidOptionError: `key_id` is empty (a `ValueError`).
            NotFoundError: The app has no such key.
        """
        return self._api.drive(self._revoke_key_flow(key_id, app_header))


class AsyncAraClient(_ClientBase):
    """Deploy and operate one app with `await` (over `httpx.AsyncClient`; no threads).

    Use `async with AsyncAraClient(...) as client:` or call `await client.aclose()`.

    Args:
        manifest, api_key, access_token, base_url, api_base_url, cwd, app_dir, timeout, auth:
            As `AraClient`.
        transport: An `httpx.AsyncBaseTransport` (tests use `httpx.MockTransport` or
            `httpx.ASGITransport`).
    """

    def __init__(
        self,
        *,
        manifest: Any,
        api_key: str | None = None,
        access_token: str | None = None,
        base_url: str | None = None,
        api_base_url: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
        app_dir: str | os.PathLike[str] | None = None,
        timeout: float = 30.0,
        auth: Any = None,
        transport: Any = None,
    ) -> None:
        super().__init__(
            manifest=manifest,
            api_key=api_key,
            access_token=access_token,
            base_url=base_url,
            api_base_url=api_base_url,
            cwd=cwd,
            app_dir=app_dir,
        )
        self._api = AsyncAraApi(
            AsyncHttpClient(
                self.base_url, auth=self._control_auth(auth), timeout=timeout, transport=transport
            )
        )

    @classmethod
    def from_env(
        cls,
        *,
        manifest: Any,
        cwd: str | os.PathLike[str] | None = None,
        app_dir: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """As `AraClient.from_env`."""
        return cls(manifest=manifest, cwd=cwd, app_dir=app_dir, **{**cls._env_kwargs(cwd), **kwargs})

    @property
    def http(self) -> AsyncAraApi:
        """The Ara API with awaitable methods (`await client.http.list_secrets(app_id)`)."""
        return self._api

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._api.client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def app_id(self) -> str:
        """As `AraClient.app_id`."""
        return (await self._api.drive(self._require_app()))["id"]

    async def deploy(
        self,
        *,
        activate: bool = True,
        key_name: str | None = None,
        key_rpm: int = 60,
        warm: bool = False,
        warm_agent_id: str | None = None,
        warm_workflow_id: str | None = None,
        on_existing: str | None = "update",
        rotate_key: bool = False,
    ) -> DeployResult:
        """As `AraClient.deploy`."""
        flow = self._deploy_flow(
            activate, key_name, key_rpm, warm, warm_agent_id or warm_workflow_id, on_existing, rotate_key
        )
        return await self._api.drive(flow)

    async def run(
        self,
        *,
        agent_id: str | None = None,
        input_payload: Mapping[str, Any] | None = None,
        runtime_key: str | None = None,
        app_header_key: str | None = None,
        workflow_id: str | None = None,
        timeout: float | None = None,
    ) -> RunResponse:
        """As `AraClient.run`."""
        flow = self._run_flow(agent_id or workflow_id, input_payload, runtime_key, app_header_key, timeout)
        return await self._api.drive(flow)

    async def events(
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
    ) -> EventResponse:
        """As `AraClient.events`."""
        flow = self._events_flow(
            agent_id or workflow_id,
            event_type,
            channel,
            source,
            message,
            payload,
            metadata,
            idempotency_key,
            runtime_key,
            app_header_key,
        )
        return await self._api.drive(flow)

    async def run_async(
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
    ) -> RunSubmitted:
        """As `AraClient.run_async`."""
        flow = self._run_async_flow(
            agent_id or workflow_id,
            input_payload,
            runtime_key,
            app_header_key,
            response_mode,
            callback,
            run_id,
            idempotency_key,
            warmup,
        )
        return await self._api.drive(flow)

    async def run_status(
        self, *, run_id: str, runtime_key: str | None = None, app_header_key: str | None = None
    ) -> RunStatusResponse:
        """As `AraClient.run_status`."""
        return await self._api.drive(self._run_status_flow(run_id, runtime_key, app_header_key))

    async def cancel(
        self, *, run_id: str, runtime_key: str | None = None, app_header_key: str | None = None
    ) -> RunStatusResponse:
        """As `AraClient.cancel`."""
        return await self._api.drive(self._cancel_flow(run_id, runtime_key, app_header_key))

    async def logs(
        self, *, runtime_key: str | None = None, app_header_key: str | None = None
    ) -> AsyncIterator[LogRow]:
        """As `AraClient.logs`, asynchronously (`async for row in client.logs(): ...`)."""
        call = await self._api.drive(self._logs_call(runtime_key, app_header_key))
        async for row in self._api.stream(call):
            yield row

    async def runs(
        self,
        *,
        status: str | None = None,
        agent: str | None = None,
        kind: str | None = None,
        since: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
        runtime_key: str | None = None,
        app_header_key: str | None = None,
    ) -> RunPage:
        """As `AraClient.runs`."""
        query = {
            "status": status,
            "agent": agent,
            "kind": kind,
            "since": since,
            "cursor": cursor,
            "limit": limit,
        }
        return await self._api.drive(runs_flow(self, query, runtime_key, app_header_key))

    async def stream_run(
        self,
        *,
        run_id: str,
        last_event_id: str | None = None,
        runtime_key: str | None = None,
        app_header_key: str | None = None,
    ) -> AsyncIterator[RunEvent]:
        """As `AraClient.stream_run`, asynchronously (`async for event in client.stream_run(...)`)."""
        async for event in aiter_run_events(
            self, run_id, last_event_id=last_event_id, runtime_key=runtime_key, app_header_key=app_header_key
        ):
            yield event

    async def setup(self) -> dict[str, Any]:
        """As `AraClient.setup`."""
        return await self._api.drive(self._setup_flow())

    async def invite(
        self, *, email: str, role: str = "viewer", expires_in_hours: int = 168
    ) -> dict[str, Any]:
        """As `AraClient.invite`."""
        return await self._api.drive(self._invite_flow(email, role, expires_in_hours))

    async def setup_auth(
        self, *, x_key_name: str | None = None, x_key_rpm: int = 30, ensure_runtime_key: bool = True
    ) -> SetupAuthResult:
        """As `AraClient.setup_auth`."""
        return await self._api.drive(self._setup_auth_flow(x_key_name, x_key_rpm, ensure_runtime_key))

    async def keys(self) -> dict[str, Any]:
        """As `AraClient.keys`."""
        return await self._api.drive(self._keys_flow())

    async def revoke_key(self, key_id: str, *, app_header: bool = False) -> dict[str, Any]:
        """As `AraClient.revoke_key`."""
        return await self._api.drive(self._revoke_key_flow(key_id, app_header))


def _warnings(response: object) -> list[dict[str, str]]:
    """The deploy warnings of a create or update response (`[]` when the server sends none)."""
    raw = response.get("warnings") if isinstance(response, dict) else None
    if not isinstance(raw, list):
        return []
    return [
        {"path": str(w.get("path") or ""), "message": str(w.get("message") or "")}
        for w in raw  # pyright: ignore[reportUnknownVariableType]
        if isinstance(w, dict)
    ]
