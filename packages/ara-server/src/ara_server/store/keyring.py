"""The secrets data key and the key pepper of a database, stored wrapped by each node's
key-encryption key, so that every node started with the same key opens the same secrets and hashes
API keys, runtime keys, app header keys and invite tokens alike."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..settings import SecretBox, SecretsKeyError
from . import schema as t
from ._common import now
from .keys import PEPPER_FILE, KeyHasher

__all__ = [
    "DATA_KEY_NAME",
    "PEPPER_KEY_NAME",
    "FilePepperHasher",
    "load_pepper",
    "open_box",
    "open_box_retrying",
]

#: Name of the wrapped data key in `server_keys`.
DATA_KEY_NAME = "secrets"
#: Name of the wrapped key pepper in `server_keys`.
PEPPER_KEY_NAME = "key_pepper"

_WRONG_KEY = (
    "this node's secrets key does not open the secrets of this database: every node of one "
    "database needs the same key; set ARA_SECRETS_KEY (or `--secrets-key-file`) to the key the "
    "other nodes use (docs/server.md, 'Several nodes')"
)


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
        raise SecretsKeyError(_WRONG_KEY) from None


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


def _file_pepper(data_dir: Path) -> bytes | None:
    """The per-node pepper older servers kept in `<data_dir>/keys.pepper`, if there is one."""
    path = data_dir / PEPPER_FILE
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    try:
        pepper = bytes.fromhex(text)
    except ValueError:
        return None
    return pepper if len(pepper) >= 16 else None


class FilePepperHasher:
    """The hasher the keyed-hashes migration uses: the node's `<data_dir>/keys.pepper`, read (or
    created) only when a stored digest has to be re-hashed. `load_pepper` then adopts that file's
    pepper as the database's, so the re-hashed digests keep verifying on every node.

    Args:
        data_dir: The node's data directory.
    """

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._hasher: KeyHasher | None = None

    def rehash(self, digest: str) -> str:
        """The keyed hash of a stored SHA-256 hex digest with the file's pepper."""
        if self._hasher is None:
            self._hasher = KeyHasher.load(self._data_dir)
        return self._hasher.rehash(digest)


async def load_pepper(conn: AsyncConnection, kek: bytes, data_dir: Path) -> tuple[bytes, list[bytes]]:
    """The database's key pepper (unwrapped with `kek`) and the legacy peppers still to accept.

    On the first start of a database the pepper is stored wrapped by `kek`: the node's
    `<data_dir>/keys.pepper` when it has one (a data dir of an older single-node server, whose
    stored hashes were made with it), else 32 random bytes. A node whose `keys.pepper` differs from
    the database's pepper (keys minted on it by an older server) keeps accepting its keys: that
    pepper is returned as legacy.

    Returns:
        `(pepper, legacy peppers)`.

    Raises:
        SecretsKeyError: `kek` does not unwrap the stored pepper.
        sqlalchemy.exc.IntegrityError: Another node stored the pepper at the same moment (retry).
    """
    wrapper = Fernet(kek)
    local = _file_pepper(data_dir)
    wrapped = (
        await conn.execute(sa.select(t.server_keys.c.wrapped).where(t.server_keys.c.name == PEPPER_KEY_NAME))
    ).scalar_one_or_none()
    if wrapped is None:
        pepper = local or secrets.token_bytes(32)
        await conn.execute(
            sa.insert(t.server_keys).values(
                name=PEPPER_KEY_NAME,
                wrapped=wrapper.encrypt(pepper.hex().encode()).decode(),
                created_at=now(),
            )
        )
        return pepper, []
    try:
        pepper = bytes.fromhex(wrapper.decrypt(str(wrapped).encode()).decode("ascii"))
    except InvalidToken:
        raise SecretsKeyError(_WRONG_KEY) from None
    return pepper, [local] if local is not None and local != pepper else []
