"""API keys, runtime keys and app header keys: random, shown once, stored as SHA-256 hashes;
secret values encrypted at rest with Fernet (docs/decisions.md)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import uuid
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

__all__ = ["KeyMaterial", "SecretBox", "hash_key", "new_id"]

PREFIXES = {"api": "ara_sk_", "runtime": "ara_rk_", "app_header": "ara_xk_", "invite": "ara_inv_"}


def new_id(prefix: str) -> str:
    """A random id like `app_1a2b3c4d5e6f7a8b`."""
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def hash_key(key: str) -> str:
    """SHA-256 hex of a key. Keys carry 256 random bits, so a fast hash is enough (no password stretching)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyMaterial:
    """A freshly generated key: the clear `key` (shown once), its `prefix` and `hash`."""

    def __init__(self, kind: str, key: str | None = None) -> None:
        self.key = key or PREFIXES[kind] + secrets.token_urlsafe(32)
        self.prefix = self.key[: len(PREFIXES.get(kind, "")) + 6]
        self.hash = hash_key(self.key)


class SecretBox:
    """Encrypts app secret values with a Fernet key kept in `<data_dir>/secrets.key` (mode 0600)."""

    def __init__(self, data_dir: Path) -> None:
        path = data_dir / "secrets.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key())
        self._fernet = Fernet(path.read_bytes().strip())

    def seal(self, values: dict[str, str]) -> str:
        """Encrypt a values dict."""
        return self._fernet.encrypt(json.dumps(values).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        """Decrypt; `{}` when the key changed (the secret must be deployed again)."""
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError):
            return {}
