"""ara-server: an Ara-compatible control plane and runtime (SQLite on one machine, PostgreSQL for
several), with a durable run queue and a sandboxed run engine."""

from ._api import create_app
from ._server import ServerThread, serve
from ._settings import Settings
from .errors import ApiProblem

__all__ = [
    "ApiProblem",
    "ServerThread",
    "Settings",
    "create_app",
    "serve",
]
