"""ara-server configuration, and the key that encrypts app secrets at rest."""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

__all__ = [
    "SANDBOX_ENV",
    "SecretBox",
    "SecretsKeyError",
    "Settings",
    "SettingsError",
    "key_encryption_key",
    "parse_size",
    "parse_switch",
    "sandbox_settings_from_env",
]


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
        run_timeout_seconds: Limit of one attempt of a run whose subagent declares no
            `runtime.timeout_seconds`, in seconds. Default 600.
        workers: Run workers per node (runs this node executes at once). Default 2.
        node_id: This node's id in run leases; default `<hostname>-<pid>-<random>`.
        lease_seconds: How long a node holds a run without a heartbeat, in seconds; a run whose
            lease expired (its node died) is reclaimed by any node. Heartbeats come every third
            of it. Default 30.
        poll_seconds: How often an idle worker looks for runs queued by other nodes, in seconds.
            Default 1.
        retry_backoff_cap_seconds: Longest delay between two attempts of a run, in seconds.
            Default 300.
        secrets_key: Key that wraps the database's secrets key (a Fernet key: 32 url-safe base64
            bytes; `ARA_SECRETS_KEY`). Every node of one database needs the same one; default the
            key in `<data_dir>/secrets.key` (created on first start), which suits one node.
        webhook_attempts: Delivery attempts of one webhook before it is given up. Default 8.
        webhook_backoff_seconds: Base of the backoff between webhook attempts, in seconds. Default 1.
        log_heartbeat_seconds: Interval of `: heartbeat` comments on log streams, in seconds.
        scheduler_interval_seconds: How often the scheduler looks for due schedules, in seconds;
            0 turns the scheduler off on this node.
        max_manifest_bytes: Largest body of `POST /apps` and `PATCH /apps/{app_id}` (the manifest
            with its inline runtime files), in bytes; larger bodies get 413. Default 8 MiB.
        max_run_bytes: Largest body of a run, async run or event request, in bytes. Default 1 MiB.
        max_body_bytes: Largest body of every other request (keys, secrets, invites, session
            tools, chat), in bytes. Default 1 MiB.
        max_json_depth: Deepest nesting of arrays and objects accepted in a JSON body; deeper
            bodies get 400. Default 64.
        allow_private_callbacks: Accept webhook callback URLs on loopback, private, link-local and
            other non-public addresses (`ara dev` sets it; off by default so a runtime key cannot
            make the server call into its own network).
        sandbox_cpu_seconds: CPU time of each process running app code (tools, prompt functions,
            hooks, session commands), in seconds (`ARA_SANDBOX_CPU_SECONDS`). Default 120.
        sandbox_memory_bytes: Address space of each such process, in bytes
            (`ARA_SANDBOX_MEMORY_BYTES`). Default 2 GiB.
        sandbox_open_files: Open file descriptors of each such process (`ARA_SANDBOX_OPEN_FILES`).
            Default 1024.
        sandbox_processes: Processes and threads of one sandbox (`ARA_SANDBOX_PROCESSES`).
            Default 256.
        sandbox_output_bytes: Bytes of stdout and of stderr kept per call; the rest is dropped and
            the result marked truncated (`ARA_SANDBOX_OUTPUT_BYTES`). Default 1 MiB.
        sandbox_network: App code may open outbound connections (`ARA_SANDBOX_NETWORK`, `on` or
            `off`); off gives it a network namespace with only loopback. Default on.
        sandbox_warm_per_app: Warm sandboxes kept per app environment for tool calls and prompt
            functions (`ARA_SANDBOX_WARM_PER_APP`): ready sandboxes whose fork server forks a fresh
            child per call; 0 starts a fresh sandbox per call. Default 2.
        sandbox_warm_total: Most warm sandboxes of the server, all apps together
            (`ARA_SANDBOX_WARM_TOTAL`); when it is full a call runs in a fresh sandbox. Default 16.
        sandbox_warm_idle_seconds: A warm sandbox unused this long is closed, in seconds
            (`ARA_SANDBOX_WARM_IDLE_SECONDS`). Default 60.
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
    node_id: str = ""
    lease_seconds: float = 30.0
    poll_seconds: float = 1.0
    retry_backoff_cap_seconds: float = 300.0
    secrets_key: str | None = field(default=None, repr=False)
    webhook_attempts: int = 8
    webhook_backoff_seconds: float = 1.0
    log_heartbeat_seconds: float = 15.0
    scheduler_interval_seconds: float = 1.0
    max_manifest_bytes: int = 8 * 1024 * 1024
    max_run_bytes: int = 1024 * 1024
    max_body_bytes: int = 1024 * 1024
    max_json_depth: int = 64
    allow_private_callbacks: bool = False
    sandbox_cpu_seconds: int = 120
    sandbox_memory_bytes: int = 2048 * 1024 * 1024
    sandbox_open_files: int = 1024
    sandbox_processes: int = 256
    sandbox_output_bytes: int = 1024 * 1024
    sandbox_network: bool = True
    sandbox_warm_per_app: int = 2
    sandbox_warm_total: int = 16
    sandbox_warm_idle_seconds: int = 60

    def __post_init__(self) -> None:
        for name in SANDBOX_ENV.values():
            value = getattr(self, name)
            if name != "sandbox_network" and (
                not isinstance(value, int) or value < (0 if name == "sandbox_warm_per_app" else 1)
            ):
                raise SettingsError(name, f"must be an integer of at least {0 if 'warm' in name else 1}")
        self.data_dir = Path(self.data_dir).expanduser().resolve()
        if not self.node_id:
            self.node_id = f"{socket.gethostname()[:32]}-{os.getpid()}-{secrets.token_hex(3)}"

    @property
    def url(self) -> str:
        """The database URL in use."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'ara.db'}"

    def app_dir(self, app_id: str) -> Path:
        """Working directory of an app's sandboxed code: `<data_dir>/apps/<app_id>/work`."""
        return self.data_dir / "apps" / app_id / "work"


#: Environment variable -> `Settings` field of the sandbox settings (`sandbox_settings_from_env`).
SANDBOX_ENV = {
    "ARA_SANDBOX_CPU_SECONDS": "sandbox_cpu_seconds",
    "ARA_SANDBOX_MEMORY_BYTES": "sandbox_memory_bytes",
    "ARA_SANDBOX_OPEN_FILES": "sandbox_open_files",
    "ARA_SANDBOX_PROCESSES": "sandbox_processes",
    "ARA_SANDBOX_OUTPUT_BYTES": "sandbox_output_bytes",
    "ARA_SANDBOX_NETWORK": "sandbox_network",
    "ARA_SANDBOX_WARM_PER_APP": "sandbox_warm_per_app",
    "ARA_SANDBOX_WARM_TOTAL": "sandbox_warm_total",
    "ARA_SANDBOX_WARM_IDLE_SECONDS": "sandbox_warm_idle_seconds",
}


class SettingsError(ValueError):
    """A setting has a value it cannot take.

    Attributes:
        name: The setting: a `Settings` field or an environment variable.
    """

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        super().__init__(f"{name}: {problem}")


def sandbox_settings_from_env(environ: Mapping[str, str]) -> dict[str, int | bool]:
    """The sandbox settings given as `ARA_SANDBOX_*` environment variables, as `Settings` keyword
    arguments (unset or empty variables are left out, so the defaults apply).

    Integers may carry a `k`, `m` or `g` suffix (powers of 1024: `512m`); `ARA_SANDBOX_NETWORK` is
    `on`/`off` (also `true`/`false`, `1`/`0`, `yes`/`no`).

    Raises:
        SettingsError: A value cannot be read; `name` is the variable.
    """
    out: dict[str, int | bool] = {}
    for variable, name in SANDBOX_ENV.items():
        raw = environ.get(variable, "").strip()
        if not raw:
            continue
        if name == "sandbox_network":
            flag = parse_switch(raw)
            if flag is None:
                raise SettingsError(variable, f"expected on or off, got {raw!r}")
            out[name] = flag
        else:
            number = parse_size(raw)
            if number is None:
                raise SettingsError(
                    variable, f"expected a whole number (with an optional k, m or g), got {raw!r}"
                )
            out[name] = number
    return out


def parse_switch(raw: str) -> bool | None:
    """`on`/`true`/`1`/`yes` -> True, `off`/`false`/`0`/`no` -> False, anything else -> None."""
    value = raw.strip().lower()
    if value in ("on", "true", "1", "yes"):
        return True
    if value in ("off", "false", "0", "no"):
        return False
    return None


def parse_size(raw: str) -> int | None:
    """A whole number with an optional `k`/`m`/`g` suffix (powers of 1024), or None if malformed."""
    value = raw.strip().lower().removesuffix("b")
    scale = 1
    if value[-1:] in ("k", "m", "g"):
        scale = 1024 ** ("kmg".index(value[-1]) + 1)
        value = value[:-1]
    return int(value) * scale if value.isdigit() else None


class SecretsKeyError(Exception):
    """The secrets key of this node cannot open the secrets of its database (or is malformed)."""


def key_encryption_key(settings: Settings) -> bytes:
    """The key that wraps the database's secrets key: `settings.secrets_key`, else the key in
    `<data_dir>/secrets.key` (mode 0600, created on first use).

    Raises:
        SecretsKeyError: `secrets_key` is not a Fernet key.
    """
    if settings.secrets_key:
        key = settings.secrets_key.strip().encode()
        try:
            Fernet(key)
        except ValueError:
            raise SecretsKeyError(
                "ARA_SECRETS_KEY must be a Fernet key (32 url-safe base64-encoded bytes), e.g. the output of "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
            ) from None
        return key
    path = settings.data_dir / "secrets.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key())
    return path.read_bytes().strip()


class SecretBox:
    """Encrypts app secret values with the database's data key (Fernet).

    The data key lives in the database wrapped by the key-encryption key (`key_encryption_key`), so
    every node that has the same key-encryption key opens the same secrets (see `store.secrets`).

    Args:
        key: The data key (a Fernet key).
    """

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, values: dict[str, str]) -> str:
        """Encrypt a values dict into a text token."""
        return self._fernet.encrypt(json.dumps(values).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        """Decrypt a token.

        Raises:
            SecretsKeyError: The token was sealed with another key (or is damaged).
        """
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError):
            raise SecretsKeyError(
                "a secret cannot be decrypted with this server's secrets key; deploy the secret again"
            ) from None
