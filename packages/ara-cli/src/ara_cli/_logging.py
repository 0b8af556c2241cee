"""structlog configuration for the `ara` command: configured once, secrets redacted."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

__all__ = ["SECRET_KEYS", "configure_logging", "redact_secrets"]

#: Event-dict keys whose values are masked before rendering.
SECRET_KEYS = frozenset(
    {"api_key", "token", "authorization", "secret", "password", "runtime_key", "app_header_key", "key"}
)

_configured = False


def redact_secrets(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: replace the value of any secret-looking key with `"***"`."""
    for key in list(event_dict):
        lowered = key.lower()
        if lowered in SECRET_KEYS or any(part in lowered for part in ("secret", "token", "password")):
            event_dict[key] = "***"
    return event_dict


def configure_logging(level: str | None = None) -> None:
    """Configure structlog once for the CLI process.

    Logs go to stderr: a console renderer on a terminal, JSON lines otherwise.

    Args:
        level: A logging level name; defaults to `ARA_LOG_LEVEL` or `WARNING`.
    """
    global _configured
    if _configured:
        return
    name = (level or os.environ.get("ARA_LOG_LEVEL") or "WARNING").upper()
    numeric = logging.getLevelName(name)
    if not isinstance(numeric, int):
        numeric = logging.WARNING
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if sys.stderr.isatty()
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    _configured = True
