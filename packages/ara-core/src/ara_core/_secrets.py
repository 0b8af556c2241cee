"""`Secret` declarations."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from .errors import DeclarationError

__all__ = ["RESERVED_ENV_KEYS", "Secret", "SecretDefinition", "normalize_secrets", "validate_env_key"]

_SECRET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}[a-z0-9]$")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
#: Environment keys apps may not declare; `ARA_*` and `MODAL_*` are reserved too.
RESERVED_ENV_KEYS = frozenset({"SESSION_ID", "USER_ID", "APP_ID"})


def validate_env_key(key: object) -> str:
    """Validate an environment key for secrets and `runtime(env=...)`.

    Raises:
        DeclarationError: empty, invalid, or reserved (`SESSION_ID`, `USER_ID`, `APP_ID`, `ARA_*`,
            `MODAL_*`).
    """
    text = str(key or "").strip()
    if not text:
        raise DeclarationError("Environment key cannot be empty")
    if not _ENV_KEY.match(text):
        raise DeclarationError(
            f"Invalid environment key: {text} (use letters, digits and _, not starting with a digit)"
        )
    if text in RESERVED_ENV_KEYS or text.startswith(("ARA_", "MODAL_")):
        raise DeclarationError(f"Reserved environment key is not allowed: {text}")
    return text


def _secret_name(name: object) -> str:
    text = str(name or "").strip().lower()
    if not _SECRET_NAME.match(text):
        raise DeclarationError(
            "Secret name must match [a-z0-9][a-z0-9_-]{0,62}[a-z0-9]"
            f" (got {str(name)!r}: 2-64 lowercase letters, digits, '_' or '-')"
        )
    return text


def _values(env_dict: object) -> dict[str, str]:
    if not isinstance(env_dict, Mapping):
        raise DeclarationError("Secret values must be a dict[str, str]")
    values = cast("Mapping[object, object]", env_dict)
    if not values:
        raise DeclarationError("Secret values cannot be empty")
    return {validate_env_key(str(k)): "" if v is None else str(v) for k, v in values.items()}


def _required(keys: object) -> list[str]:
    if keys is None:
        return []
    if not isinstance(keys, list | tuple):
        raise DeclarationError("Secret required_keys must be a list of environment keys")
    out: list[str] = []
    for key in cast("list[object] | tuple[object, ...]", keys):
        k = validate_env_key(str(key))
        if k not in out:
            out.append(k)
    return out


def _auto_name(prefix: str, keys: list[str]) -> str:
    digest = hashlib.sha256(json.dumps(sorted(keys), separators=(",", ":")).encode("ascii")).hexdigest()
    return f"{prefix}-{digest[:12]}"


@dataclass(slots=True)
class SecretDefinition:
    """A declared secret.

    Attributes:
        name: Normalised name (2-64 chars of `[a-z0-9_-]`).
        values: Key -> value, or `None` for a reference to a secret stored on the server.
        required_keys: Keys the app needs from it.
        source: `"name"`, `"dict"`, `"dotenv"` or `"local_environ"`.
    """

    name: str
    values: dict[str, str] | None = None
    required_keys: list[str] = field(default_factory=list[str])
    source: str = "name"

    def ref(self) -> dict[str, Any]:
        """The manifest reference: `{"name"}` plus `"required_keys"` when non-empty."""
        out: dict[str, Any] = {"name": self.name}
        if self.required_keys:
            out["required_keys"] = list(self.required_keys)
        return out


class Secret:
    """Constructors of `SecretDefinition`."""

    @staticmethod
    def from_name(name: str, required_keys: list[str] | None = None) -> SecretDefinition:
        """A reference to a secret that already exists on the server."""
        return SecretDefinition(_secret_name(name), None, _required(required_keys), "name")

    @staticmethod
    def from_dict(
        name_or_env_dict: str | Mapping[str, Any],
        env_dict: Mapping[str, Any] | None = None,
        *,
        required_keys: list[str] | None = None,
        name: str | None = None,
    ) -> SecretDefinition:
        """A secret with values.

        Called as `from_dict({...})`, `from_dict("name", {...})` or `from_dict({...}, name="n")`.

        The name defaults to `sdk-dict-<12 hex of SHA-256 of the sorted key names>`.
        """
        if isinstance(name_or_env_dict, Mapping):
            if env_dict is not None:
                raise DeclarationError("from_dict(dict, ...) does not accept a second env_dict argument")
            if not name_or_env_dict:
                raise DeclarationError("from_dict requires a non-empty env_dict")
            values = _values(name_or_env_dict)
            final = _secret_name(name) if name else _auto_name("sdk-dict", list(values))
        else:
            if env_dict is None:
                raise DeclarationError("from_dict requires either (name, env_dict) or (env_dict)")
            if name is not None and str(name).strip().lower() != str(name_or_env_dict).strip().lower():
                raise DeclarationError("from_dict positional name conflicts with name= keyword")
            final = _secret_name(name_or_env_dict)
            values = _values(env_dict)
        return SecretDefinition(final, values, _required(required_keys), "dict")

    @staticmethod
    def from_dotenv(
        name: str | None = None,
        filename: str | os.PathLike[str] = ".env",
        *,
        required_keys: list[str] | None = None,
    ) -> SecretDefinition:
        """A secret read from a dotenv file.

        The file holds `KEY=value` lines and `#` comments; one matching quote pair is stripped.

        A single positional argument that names an existing file or cannot be a secret name is
        taken as the filename.

        Raises:
            DeclarationError: The file is missing (`Secret dotenv file not found: <path>`) or has
                no entries.
        """
        if name is not None and filename == ".env":
            text = str(name)
            if Path(text).is_file() or not _SECRET_NAME.match(text.strip().lower()):
                name, filename = None, text
        path = Path(filename)
        if not path.is_file():
            raise DeclarationError(f"Secret dotenv file not found: {path}")
        values: dict[str, str] = {}
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, value = line.split("=", 1)
            key, value = key.strip(), value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in ("'", '"'):
                value = value[1:-1]
            if key:
                values[key] = value
        if not values:
            raise DeclarationError(f"Secret dotenv file has no key=value entries: {path}")
        checked = _values(values)
        final = _secret_name(name) if name else _auto_name("sdk-dotenv", list(checked))
        return SecretDefinition(final, checked, _required(required_keys), "dotenv")

    @staticmethod
    def from_local_environ(
        name: str, env_keys: list[str], *, required_keys: list[str] | None = None
    ) -> SecretDefinition:
        """A secret built from variables of this process's environment.

        Raises:
            DeclarationError: Some keys are unset: `Missing environment variables for secret <name>: K1, K2`.
        """
        final = _secret_name(name)
        keys = [validate_env_key(k) for k in env_keys]
        missing = [k for k in keys if k not in os.environ]
        if missing:
            raise DeclarationError(f"Missing environment variables for secret {final}: {', '.join(missing)}")
        return SecretDefinition(
            final, {k: os.environ[k] for k in keys}, _required(required_keys), "local_environ"
        )


def normalize_secrets(items: object) -> tuple[list[dict[str, Any]], list[SecretDefinition]]:
    """Normalise `runtime(secrets=[...])` into `(secret_refs, definitions)`.

    Raises:
        DeclarationError: Not a list, or an item that is not a `SecretDefinition`, str or dict.
    """
    if not isinstance(items, list | tuple):
        raise DeclarationError("runtime(secrets=...) expects a list")
    defs: list[SecretDefinition] = []
    for item in cast("list[object] | tuple[object, ...]", items):
        if isinstance(item, SecretDefinition):
            d = item
        elif isinstance(item, str):
            d = Secret.from_name(item)
        elif isinstance(item, Mapping) and "name" in item:
            ref = cast("Mapping[str, Any]", item)
            d = Secret.from_name(str(ref["name"]), list(ref.get("required_keys") or []))
        else:
            raise DeclarationError("runtime(secrets=...) items must be SecretDefinition, str, or dict")
        existing = [x for x in defs if x.name == d.name or x.name.startswith(d.name + "-")]
        same = next((x for x in existing if x.name == d.name), None)
        if same is None:
            defs.append(d)
            continue
        if (same.values, same.required_keys, same.source) == (d.values, d.required_keys, d.source):
            continue
        if same.values is None or d.values is None:
            continue
        n = 2
        taken = {x.name for x in defs}
        while True:
            suffix = f"-{n}"
            candidate = d.name[: 64 - len(suffix)].rstrip("-_") + suffix
            if candidate not in taken:
                break
            n += 1
        defs.append(SecretDefinition(candidate, d.values, d.required_keys, d.source))
    return [d.ref() for d in defs], defs
