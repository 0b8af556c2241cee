"""Apps (with their manifest and status) and app membership."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from ara_core import ManifestView, view_of
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from . import Store
from . import schema as t
from ._common import new_id, now, row_dict

__all__ = [
    "active_apps",
    "app_for",
    "app_view",
    "create_app",
    "get_app",
    "list_apps",
    "manifest_version",
    "update_app",
]

#: Deployed versions whose view stays decoded.
VIEW_CACHE_SIZE = 512
_views: OrderedDict[tuple[str, str], tuple[str, ManifestView]] = OrderedDict()


def _key(app: dict[str, Any]) -> tuple[str, str]:
    stamp: Any = app.get("updated_at")
    return str(app.get("id") or ""), stamp.isoformat() if isinstance(stamp, datetime) else str(stamp)


def _decode(app: dict[str, Any]) -> tuple[str, ManifestView]:
    key = _key(app)
    if not key[0] or app.get("updated_at") is None:  # not a stored row: no identity to cache by
        manifest = app["manifest"]
        digest = hashlib.sha256(json.dumps(manifest, sort_keys=True, default=str).encode()).hexdigest()[:16]
        return digest, view_of(manifest)
    hit = _views.get(key)
    if hit is not None:
        _views.move_to_end(key)
        return hit
    manifest = app["manifest"]
    version = hashlib.sha256(json.dumps(manifest, sort_keys=True, default=str).encode()).hexdigest()[:16]
    entry = (version, view_of(manifest))
    _views[key] = entry
    while len(_views) > VIEW_CACHE_SIZE:
        _views.popitem(last=False)
    return entry


def app_view(app: dict[str, Any]) -> ManifestView:
    """The typed view of an app row's manifest, decoded once per deployed version and cached.

    A version is identified by the app id and its `updated_at` (every deploy sets it).

    Raises:
        ara_core.ManifestError: The stored manifest does not decode (it was validated at deploy,
            so only a manual database edit can cause this).
    """
    return _decode(app)[1]


def manifest_version(app: dict[str, Any]) -> str:
    """The content hash of an app row's manifest (16 hex characters): equal manifests, equal
    versions. Startup commands run once per version."""
    return _decode(app)[0]


async def list_apps(conn: AsyncConnection, account_id: str) -> list[dict[str, Any]]:
    """Apps the account owns or is a member of, with its `role`."""
    owned = (await conn.execute(sa.select(t.apps).where(t.apps.c.owner_id == account_id))).all()
    shared = (
        await conn.execute(
            sa.select(t.apps, t.app_members.c.role)
            .join(t.app_members, t.app_members.c.app_id == t.apps.c.id)
            .where(t.app_members.c.account_id == account_id)
        )
    ).all()
    out = [{**dict(r._mapping), "role": "owner"} for r in owned]
    out += [dict(r._mapping) for r in shared]
    return out


async def app_for(conn: AsyncConnection, app_id: str, account_id: str) -> dict[str, Any] | None:
    """The app with the caller's role (`owner`, `member`, `viewer`), or `None` if not visible."""
    app = await get_app(conn, app_id)
    if app is None:
        return None
    if app["owner_id"] == account_id:
        return {**app, "role": "owner"}
    member = (
        await conn.execute(
            sa.select(t.app_members.c.role).where(
                t.app_members.c.app_id == app_id, t.app_members.c.account_id == account_id
            )
        )
    ).first()
    return {**app, "role": member[0]} if member else None


async def get_app(conn: AsyncConnection, app_id: str) -> dict[str, Any] | None:
    """The app row."""
    return row_dict((await conn.execute(sa.select(t.apps).where(t.apps.c.id == app_id))).first())


async def create_app(
    store: Store, owner_id: str, slug: str, manifest: dict[str, Any]
) -> dict[str, Any] | None:
    """Insert an app (status `inactive`) in its own transaction; `None` when the slug is taken."""
    row = {
        "id": new_id("app"),
        "owner_id": owner_id,
        "slug": slug,
        "name": view_of(manifest).name or slug,
        "status": "inactive",
        "manifest": manifest,
        "created_at": now(),
        "updated_at": now(),
    }
    try:
        async with store.begin() as conn:
            await conn.execute(sa.insert(t.apps).values(**row))
    except IntegrityError:
        return None
    return row


async def update_app(
    conn: AsyncConnection, app_id: str, *, manifest: dict[str, Any] | None = None, status: str | None = None
) -> None:
    """Replace the manifest and/or set the status."""
    values: dict[str, Any] = {"updated_at": now()}
    if manifest is not None:
        values["manifest"] = manifest
        values["name"] = view_of(manifest).name
    if status is not None:
        values["status"] = status
    await conn.execute(sa.update(t.apps).where(t.apps.c.id == app_id).values(**values))


async def active_apps(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Apps whose status is `active` (the scheduler fires only their schedules)."""
    rows = (await conn.execute(sa.select(t.apps).where(t.apps.c.status == "active"))).all()
    return [dict(r._mapping) for r in rows]
