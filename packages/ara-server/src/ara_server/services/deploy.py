"""Deploying apps: create and update (manifest validation, app files), runtime and app header keys,
secrets, and invites."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
from ara_core import PROJECT_NAME_PATTERN, ManifestError, ManifestView, validate_manifest, view_of
from msgspec import UnsetType

from ..errors import ApiProblem
from ..settings import Settings
from ..store import Store, apps, invites, keys, secrets
from ..store.keys import KeyMaterial
from ..store.secrets import validate_secret
from .logbus import LogBus

__all__ = [
    "DeployService",
    "file_path_problems",
    "materialize_files",
    "validate_app_manifest",
    "validate_secret",
]

FILES_STAMP = ".ara-files.sha256"
_SECRET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}[a-z0-9]$")


def materialize_files(workdir: Path, manifest: ManifestView | Mapping[str, Any]) -> None:
    """Write the app's `runtime_profile.files` into its working directory.

    `manifest` is the app's view (`store.apps.app_view`) or its manifest document.

    A stamp of the files' digest makes this a no-op when the same files are already there (every
    run calls it, so a node that did not handle the deploy still gets them); a shipped file that a
    run deleted is written again.
    """
    view = manifest if isinstance(manifest, ManifestView) else view_of(manifest)
    declared = view.runtime().files
    files = () if isinstance(declared, UnsetType) else declared
    digest = hashlib.sha256(msgspec.json.encode(files)).hexdigest()
    workdir.mkdir(parents=True, exist_ok=True)
    stamp = workdir / FILES_STAMP
    targets = [(workdir / item.path.lstrip("/")).resolve() for item in files]
    if stamp.is_file() and stamp.read_text() == digest and all(t.exists() for t in targets):
        return
    for item, target in zip(files, targets, strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(item.content, encoding="utf-8")
        target.chmod(0o755 if item.executable else 0o644)
    stamp.write_text(digest)


def file_path_problems(files: list[Any]) -> list[tuple[str, str]]:
    """Problems with the paths of `runtime_profile.files`, as `(JSON path, message)` pairs.

    A path must be relative and normalised: no NUL byte or backslash, no leading `/`, no empty,
    `.` or `..` segment, no trailing `/`, at most 1024 bytes (255 per segment); no two files may
    have the same path, and no file may sit where another file needs a directory (`x` and `x/y`).
    """
    problems: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(files):
        where = f"$.runtime_profile.files[{i}].path"
        path = item.get("path") if isinstance(item, dict) else None
        if not isinstance(path, str) or not path:
            problems.append((where, f"at `{where}`: must be a non-empty string"))
            continue
        parts = path.split("/")
        bad = (
            "\0" in path
            or "\\" in path
            or path.startswith("/")
            or len(path.encode("utf-8", "surrogatepass")) > 1024
            or any(
                part in ("", ".", "..") or len(part.encode("utf-8", "surrogatepass")) > 255 for part in parts
            )
            or path == FILES_STAMP
        )
        if bad:
            problems.append(
                (
                    where,
                    f"at `{where}`: {path!r} must be a normalised relative path inside the app's working "
                    "directory (segments separated by single '/', no '.', '..', NUL or backslash)",
                )
            )
            continue
        if path in seen:
            problems.append((where, f"at `{where}`: {path!r} is also files[{seen[path]}]"))
            continue
        seen[path] = i
    for path, i in seen.items():
        parts = path.split("/")
        for cut in range(1, len(parts)):
            parent = "/".join(parts[:cut])
            if parent in seen:
                where = f"$.runtime_profile.files[{i}].path"
                problems.append(
                    (
                        where,
                        f"at `{where}`: {path!r} needs {parent!r} to be a directory, "
                        f"but files[{seen[parent]}] is a file there",
                    )
                )
                break
    return problems


def validate_app_manifest(body: dict[str, Any], *, slug: str) -> dict[str, Any]:
    """The validated manifest of a create or update body (`status` removed, `slug` set).

    Raises:
        ApiProblem: 422 `invalid_manifest`, with the JSON path of each problem in `details`.
    """
    manifest = {k: v for k, v in body.items() if k != "status"}
    manifest["slug"] = slug
    try:
        manifest = validate_manifest(manifest).raw
        declared = view_of(manifest).runtime().files
    except ManifestError as exc:
        raise ApiProblem(
            422, "invalid_manifest", str(exc), [{"path": p, "message": m} for p, m in exc.errors]
        ) from None
    files = () if isinstance(declared, UnsetType) else declared
    problems = file_path_problems([{"path": item.path} for item in files])
    if problems:
        raise ApiProblem(
            422, "invalid_manifest", problems[0][1], [{"path": p, "message": m} for p, m in problems]
        )
    return manifest


class DeployService:
    """App deployment for the control plane.

    Args:
        settings: Server settings (app working dirs).
        store: The store.
        logbus: Where deploy log lines go.
    """

    def __init__(self, settings: Settings, store: Store, logbus: LogBus) -> None:
        from .execution import Execution  # execution imports this module

        self.settings, self.store, self.logbus = settings, store, logbus
        self.execution = Execution(settings, store, logbus)

    @staticmethod
    def view(app: dict[str, Any]) -> ManifestView:
        """The app's manifest view (cached per deployed version)."""
        return apps.app_view(app)

    async def list_apps(self, account_id: str) -> list[dict[str, Any]]:
        """Apps the account owns or is a member of, with its `role`."""
        return await self.store.run(apps.list_apps, account_id)

    async def create_app(self, account_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Validate and store a new app (inactive), write its files, and prepare it (its
        ``python_packages`` are installed and its artifacts fetched before it is stored; its startup
        entrypoint runs right after).

        Returns:
            The app row, with ``warnings``: what the manifest declares that the server does not
            provide (`deploy_warnings`).

        Raises:
            ApiProblem: 422 `invalid_manifest`, `package_install_failed` or `artifact_unavailable`
                (each naming the JSON path); 409 `slug_taken`.
        """
        slug = body.get("slug")
        if not isinstance(slug, str) or not PROJECT_NAME_PATTERN.match(slug):
            raise ApiProblem(
                422,
                "invalid_manifest",
                f"at `$.slug`: {slug!r} must be 1-63 lowercase letters, digits or hyphens, "
                "not starting or ending with a hyphen",
            )
        manifest = validate_app_manifest(body, slug=slug)
        warnings = await self.execution.check_deploy(manifest)
        app = await apps.create_app(self.store, account_id, slug, manifest)
        if app is None:
            raise ApiProblem(409, "slug_taken", f"project name {slug!r} is already taken")
        await asyncio.to_thread(materialize_files, self.settings.app_dir(app["id"]), manifest)
        await self.logbus.log(app["id"], None, "info", "app.created", f"app {slug} created")
        await self._announce(app["id"], warnings)
        return {**app, "warnings": warnings}

    async def update_app(self, app: dict[str, Any], body: dict[str, Any]) -> str:
        """Merge `body` into the app's manifest and/or set its `status`. Returns the status now.

        Raises:
            ApiProblem: 422 `invalid_status` or `invalid_manifest`.
        """
        status = body.get("status")
        if status is not None and status not in ("active", "inactive"):
            raise ApiProblem(422, "invalid_status", "at `$.status`: must be 'active' or 'inactive'")
        manifest = None
        warnings: list[dict[str, str]] = []
        if set(body) - {"status"}:
            manifest = validate_app_manifest({**app["manifest"], **body}, slug=app["slug"])
            warnings = await self.execution.check_deploy(manifest)
        await self.store.run(apps.update_app, app["id"], manifest=manifest, status=status)
        if manifest is not None:
            await asyncio.to_thread(materialize_files, self.settings.app_dir(app["id"]), manifest)
            await self.logbus.log(app["id"], None, "info", "app.updated", f"app {app['slug']} updated")
            await self._announce(app["id"], warnings)
        return str(status or app["status"])

    async def _announce(self, app_id: str, warnings: list[dict[str, str]]) -> None:
        """Log the deploy warnings and start preparing the new version (its startup runs now)."""
        for warning in warnings:
            await self.logbus.log(
                app_id, None, "warning", "deploy.warning", f"{warning['path']}: {warning['message']}"
            )
        row = await self.store.run(apps.get_app, app_id)
        if row is not None:
            self.execution.prepare_soon(row)

    async def app_warnings(self, app_id: str) -> list[dict[str, str]]:
        """The deploy warnings of the app's current manifest (`deploy_warnings`)."""
        from .execution import deploy_warnings

        row = await self.store.run(apps.get_app, app_id)
        return [] if row is None else deploy_warnings(apps.app_view(row))

    async def create_key(
        self, app: dict[str, Any], kind: str, body: dict[str, Any]
    ) -> tuple[KeyMaterial, str, str, int]:
        """Mint a `runtime` or `app_header` key. Returns `(key, key id, name, requests per minute)`.

        Raises:
            ApiProblem: 422 `invalid_body` for a bad `requests_per_minute`.
        """
        name = str(body.get("name") or f"{app['slug']}-{'x-header' if kind == 'app_header' else 'key'}")
        rpm = body.get("requests_per_minute", 60)
        if isinstance(rpm, bool) or not isinstance(rpm, int) or rpm < 1:
            raise ApiProblem(422, "invalid_body", "at `$.requests_per_minute`: must be a positive integer")
        material, key_id = await self.store.run(keys.create_app_key, app["id"], kind, name, rpm)
        return material, key_id, name, rpm

    async def list_keys(self, app_id: str, kind: str) -> list[dict[str, Any]]:
        """The app's keys of a kind (no hashes)."""
        return await self.store.run(keys.list_app_keys, app_id, kind)

    async def revoke_key(self, app_id: str, key_id: str, kind: str) -> None:
        """Revoke a key.

        Raises:
            ApiProblem: 404 `not_found`.
        """
        if not await self.store.run(keys.revoke_app_key, app_id, key_id, kind):
            raise ApiProblem(404, "not_found", f"app header key {key_id!r} not found")

    async def list_secrets(self, app_id: str) -> list[dict[str, Any]]:
        """Secret names and key names, never values."""
        return await self.store.run(secrets.list_secrets, app_id)

    async def put_secret(self, app_id: str, body: dict[str, Any]) -> tuple[str, list[str]]:
        """Create or replace a secret from `{"name", "values"}`. Returns `(name, sorted key names)`.

        Raises:
            ApiProblem: 422 `invalid_secret`.
        """
        name = str(body.get("name") or "").strip().lower()
        if not _SECRET_NAME.match(name):
            raise ApiProblem(
                422, "invalid_secret", "at `$.name`: must match [a-z0-9][a-z0-9_-]{0,62}[a-z0-9]"
            )
        values = body.get("values")
        if not isinstance(values, dict) or not values or not all(isinstance(k, str) for k in values):
            raise ApiProblem(422, "invalid_secret", "at `$.values`: must be a non-empty object of strings")
        problems = validate_secret(name, values)
        if problems:
            raise ApiProblem(
                422,
                "invalid_secret",
                f"at `{problems[0][0]}`: {problems[0][1]}",
                [{"path": p, "message": m} for p, m in problems],
            )
        clean = {str(k): "" if v is None else str(v) for k, v in values.items()}
        await self.store.run(secrets.put_secret, self.store.box, app_id, name, clean)
        return name, sorted(clean)

    async def delete_secret(self, app_id: str, name: str) -> None:
        """Delete a secret.

        Raises:
            ApiProblem: 404 `not_found`.
        """
        if not await self.store.run(secrets.delete_secret, app_id, name.lower()):
            raise ApiProblem(404, "not_found", f"secret {name!r} not found")

    async def invite(self, app_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Invite an email to the app with a role (`{"email", "role", "expires_in_hours"}`).

        Returns:
            The invite row with its clear `token`.

        Raises:
            ApiProblem: 422 `invalid_invite`.
        """
        email = str(body.get("email") or "").strip()
        role = str(body.get("role") or "viewer")
        hours = body.get("expires_in_hours", 168)
        if "@" not in email:
            raise ApiProblem(422, "invalid_invite", "at `$.email`: must be an email address")
        if role not in ("viewer", "member"):
            raise ApiProblem(422, "invalid_invite", "at `$.role`: must be 'viewer' or 'member'")
        if isinstance(hours, bool) or not isinstance(hours, int) or hours < 1:
            raise ApiProblem(422, "invalid_invite", "at `$.expires_in_hours`: must be a positive integer")
        return await self.store.run(invites.invite, app_id, email, role, hours)

    async def accept_invite(self, token: str) -> tuple[dict[str, Any], KeyMaterial]:
        """Trade an invite token for an API key.

        Raises:
            ApiProblem: 422 `invalid_body` (no token); 404 `invite_not_found`.
        """
        if not token:
            raise ApiProblem(422, "invalid_body", "at `$.token`: the invite token is required")
        accepted = await self.store.run(invites.accept_invite, token)
        if accepted is None:
            raise ApiProblem(
                404, "invite_not_found", "invite token unknown, already used or expired; ask for a new invite"
            )
        return accepted
