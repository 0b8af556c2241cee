"""App secrets: values encrypted at rest (`SecretBox`), names and key names readable."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from ara_core import validate_env_key
from ara_core.errors import DeclarationError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..settings import SecretBox
from . import schema as t
from ._common import now
from ._upsert import upsert

__all__ = ["SECRET_NAME", "delete_secret", "list_secrets", "put_secret", "secret_env", "validate_secret"]

#: The secret name rule: 2-64 characters of `[a-z0-9_-]`, starting and ending with a letter or digit.
SECRET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}[a-z0-9]$")
#: Largest secret value, in bytes.
MAX_SECRET_VALUE_BYTES = 64 * 1024
#: Most keys in one secret.
MAX_SECRET_KEYS = 256


def validate_secret(name: object, values: object) -> list[tuple[str, str]]:
    """Problems with a secret to store, as `(JSON path, message)` pairs (empty when it is valid).

    The name must match `SECRET_NAME` (lowercase); `values` must be a non-empty object (at most 256
    keys) whose keys follow the environment-key rule (`[A-Za-z_][A-Za-z0-9_]{0,127}`, not
    `SESSION_ID`, `USER_ID`, `APP_ID`, `ARA_*` or `MODAL_*`: so never `=` or NUL) and whose values
    are strings without a NUL byte, at most 64 KiB each (`null` stands for `""`).
    """
    problems: list[tuple[str, str]] = []
    if not isinstance(name, str) or not SECRET_NAME.match(name):
        problems.append(("$.name", "must match [a-z0-9][a-z0-9_-]{0,62}[a-z0-9] (lowercase)"))
    if not isinstance(values, dict) or not values:
        problems.append(("$.values", "must be a non-empty object of strings"))
        return problems
    if len(values) > MAX_SECRET_KEYS:  # pyright: ignore[reportUnknownArgumentType]
        problems.append(("$.values", f"has more than {MAX_SECRET_KEYS} keys"))
    for key, value in values.items():  # pyright: ignore[reportUnknownVariableType]
        where = f"$.values.{key}"
        try:
            if not isinstance(key, str) or validate_env_key(key) != key:
                raise DeclarationError(f"Invalid environment key: {key!r}")
        except DeclarationError as exc:
            problems.append((where, str(exc)))
            continue
        if value is None:
            continue
        if not isinstance(value, str):
            problems.append((where, "must be a string"))
        elif "\0" in value:
            problems.append((where, "must not contain a NUL byte"))
        elif len(value.encode("utf-8", "surrogatepass")) > MAX_SECRET_VALUE_BYTES:
            problems.append((where, f"is longer than {MAX_SECRET_VALUE_BYTES} bytes"))
    return problems


async def put_secret(
    conn: AsyncConnection, box: SecretBox, app_id: str, name: str, values: dict[str, str]
) -> None:
    """Create or replace a secret (values encrypted with `box`) in one statement (`INSERT ... ON
    CONFLICT DO UPDATE`: concurrent first writes of a name never fail).

    The caller validates `name` and `values` first (`validate_secret`)."""
    await upsert(
        conn,
        t.secrets,
        {
            "app_id": app_id,
            "name": name,
            "ciphertext": box.seal(values),
            "keys": sorted(values),
            "updated_at": now(),
        },
        conflict=("app_id", "name"),
        update=("ciphertext", "keys", "updated_at"),
    )


async def list_secrets(conn: AsyncConnection, app_id: str) -> list[dict[str, Any]]:
    """Secret names and key names (`name`, `keys`, `updated_at` ISO 8601), never values."""
    rows = (
        await conn.execute(
            sa.select(t.secrets.c.name, t.secrets.c["keys"], t.secrets.c.updated_at)
            .where(t.secrets.c.app_id == app_id)
            .order_by(t.secrets.c.name)
        )
    ).all()
    return [
        {"name": r.name, "keys": r._mapping["keys"], "updated_at": r.updated_at.isoformat()} for r in rows
    ]


async def delete_secret(conn: AsyncConnection, app_id: str, name: str) -> bool:
    """Delete a secret; `False` if absent."""
    result = await conn.execute(
        sa.delete(t.secrets).where(t.secrets.c.app_id == app_id, t.secrets.c.name == name)
    )
    return bool(result.rowcount)


async def secret_env(conn: AsyncConnection, box: SecretBox, app_id: str) -> dict[str, str]:
    """All secret values of an app merged into one environment (for its sandbox).

    Raises:
        SecretsKeyError: A secret cannot be decrypted with `box`.
    """
    rows = (
        await conn.execute(
            sa.select(t.secrets.c.ciphertext).where(t.secrets.c.app_id == app_id).order_by(t.secrets.c.name)
        )
    ).all()
    env: dict[str, str] = {}
    for r in rows:
        opened = box.open(r.ciphertext)
        # Entries a sandbox cannot take (stored by an older server without validation) are skipped.
        env.update({str(k): str(v) for k, v in opened.items() if not validate_secret("ok", {str(k): str(v)})})
    return env
