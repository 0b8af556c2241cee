"""ara-server configuration, and the key that encrypts app secrets at rest."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

__all__ = ["SecretBox", "Settings"]


@dataclass(slots=True)
class Settings:
    """How an ara-server runs (docs/server.md).

    Attributes:
        data_dir: Directory for the SQLite database, app working dirs and the secrets key.
        database_url: SQLAlchemy async URL; default `sqlite+aiosqlite:///<data_dir>/ara.db`;
            `postgresql+asyncpg://user@host/db` for several nodes.
        owner_api_key: The owner's API key. When given it is registered (hash only) for the owner;
            when `None` and the database has no owner yet, one is generated (see
            `ServerThread.owner_api_key`).
        owner_email: Email of the owner account created on first start.
        host: Interface to listen on.
        port: TCP port; 0 picks a free one.
        tool_timeout_seconds: Limit per tool or prompt-function call, in seconds.
        run_timeout_seconds: Limit per run, in seconds.
        workers: Async-run workers per node.
        log_heartbeat_seconds: Interval of `: heartbeat` comments on log streams, in seconds.
        scheduler_interval_seconds: How often the scheduler looks for due schedules, in seconds;
            0 turns the scheduler off on this node.
    """

    data_dir: Path
    database_url: str | None = None
    owner_api_key: str | None = None
    owner_email: str = "owner@localhost"
    host: str = "127.0.0.1"
    port: int = 0
    tool_timeout_seconds: float = 30.0
    run_timeout_seconds: float = 600.0
    workers: int = 2
    log_heartbeat_seconds: float = 15.0
    scheduler_interval_seconds: float = 1.0

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser().resolve()

    @property
    def url(self) -> str:
        """The database URL in use."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'ara.db'}"

    def app_dir(self, app_id: str) -> Path:
        """Working directory of an app's sandboxed code: `<data_dir>/apps/<app_id>/work`."""
        return self.data_dir / "apps" / app_id / "work"


class SecretBox:
    """Encrypts app secret values with a Fernet key kept in `<data_dir>/secrets.key` (mode 0600,
    created on first use; docs/decisions.md).

    Args:
        data_dir: The server's data directory.
    """

    def __init__(self, data_dir: Path) -> None:
        path = data_dir / "secrets.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key())
        self._fernet = Fernet(path.read_bytes().strip())

    def seal(self, values: dict[str, str]) -> str:
        """Encrypt a values dict into a text token."""
        return self._fernet.encrypt(json.dumps(values).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        """Decrypt a token; `{}` when the key changed (the secret must be deployed again)."""
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError):
            return {}
