"""Apps (with their manifest and status) and app membership."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from . import Store
from . import schema as t
from ._common import new_id, now, row_dict

__all__ = ["active_apps", "app_for", "create_app", "get_app", "list_apps", "update_app"]


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
        "name": str(manifest.get("name") or slug),
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
        values["name"] = str(manifest.get("name") or "")
    if status is not None:
        values["status"] = status
    await conn.execute(sa.update(t.apps).where(t.apps.c.id == app_id).values(**values))


async def active_apps(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Apps whose status is `active` (the scheduler fires only their schedules)."""
    rows = (await conn.execute(sa.select(t.apps).where(t.apps.c.status == "active"))).all()
    return [dict(r._mapping) for r in rows]
