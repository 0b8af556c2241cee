"""The secrets data key of a database, stored wrapped by each node's key-encryption key, so that
every node started with the same key opens the same secrets."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..settings import SecretBox, SecretsKeyError
from . import schema as t
from ._common import now

__all__ = ["DATA_KEY_NAME", "open_box", "open_box_retrying"]

#: Name of the wrapped data key in `server_keys`.
DATA_KEY_NAME = "secrets"


async def open_box(conn: AsyncConnection, kek: bytes) -> SecretBox:
    """The box of the database's secrets data key, unwrapped with `kek`.

    On the first start of a database the data key is created and stored wrapped by `kek` (a
    database that already has apps keeps `kek` itself as its data key: its secrets were sealed
    with it before the wrapped key existed).

    Raises:
        SecretsKeyError: `kek` does not unwrap the stored data key (this node was started with
            another secrets key than the nodes that stored it).
        sqlalchemy.exc.IntegrityError: Another node stored the data key at the same moment (retry).
    """
    wrapper = Fernet(kek)
    wrapped = (
        await conn.execute(sa.select(t.server_keys.c.wrapped).where(t.server_keys.c.name == DATA_KEY_NAME))
    ).scalar_one_or_none()
    if wrapped is None:
        legacy = (await conn.execute(sa.select(sa.func.count()).select_from(t.apps))).scalar_one()
        data_key = kek if legacy else Fernet.generate_key()
        await conn.execute(
            sa.insert(t.server_keys).values(
                name=DATA_KEY_NAME, wrapped=wrapper.encrypt(data_key).decode(), created_at=now()
            )
        )
        return SecretBox(data_key)
    try:
        return SecretBox(wrapper.decrypt(str(wrapped).encode()))
    except InvalidToken:
        raise SecretsKeyError(
            "this node's secrets key does not open the secrets of this database: every node of one "
            "database needs the same key; set ARA_SECRETS_KEY (or `--secrets-key-file`) to the key the "
            "other nodes use (docs/server.md, 'Several nodes')"
        ) from None


async def open_box_retrying(
    begin: Callable[[], AbstractAsyncContextManager[AsyncConnection]], kek: bytes
) -> SecretBox:
    """`open_box` in its own transaction, retried once when another node created the key first."""
    try:
        async with begin() as conn:
            return await open_box(conn, kek)
    except IntegrityError:
        async with begin() as conn:
            return await open_box(conn, kek)
