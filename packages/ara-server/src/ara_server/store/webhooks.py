"""The per-app signing secret of webhook callbacks: generated on first use, kept encrypted with the
secrets key in `apps.webhook_secret`."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..settings import SecretBox
from . import schema as t

__all__ = ["webhook_secret"]

#: Prefix of generated signing secrets.
PREFIX = "whsec_"


async def webhook_secret(conn: AsyncConnection, box: SecretBox, app_id: str) -> str | None:
    """The app's webhook signing secret, generated (32 random bytes) when it has none; `None` when
    there is no such app.

    The first writer wins in one conditional statement (`UPDATE ... WHERE webhook_secret IS NULL`),
    so two nodes asking at once get the same secret.
    """
    fresh = box.seal({"secret": PREFIX + secrets.token_urlsafe(32)})
    await conn.execute(
        sa.update(t.apps)
        .where(t.apps.c.id == app_id, t.apps.c.webhook_secret.is_(None))
        .values(webhook_secret=fresh)
    )
    sealed = (await conn.execute(sa.select(t.apps.c.webhook_secret).where(t.apps.c.id == app_id))).scalar()
    if sealed is None:
        return None
    return str(box.open(sealed)["secret"])
