"""ara-server: an Ara-compatible control plane and runtime (SQLite on one machine, PostgreSQL for
several), with a durable run queue and a sandboxed run engine."""

from .app import create_app
from .errors import ApiProblem
from .server import ServerThread, serve
from .settings import Settings, SettingsError, sandbox_settings_from_env

__all__ = [
    "ApiProblem",
    "ServerThread",
    "Settings",
    "SettingsError",
    "create_app",
    "sandbox_settings_from_env",
    "serve",
]
