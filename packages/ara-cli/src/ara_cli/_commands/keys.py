"""`ara keys list|revoke <app_script.py>`: the app's runtime keys and app header keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cyclopts import App

from .._output import emit, guarded
from ..errors import CliError

__all__ = ["keys_app"]

keys_app = App(
    name="keys",
    help="list and revoke the app's runtime keys and app header keys",
    help_format="markdown",
)


def _client(app_script: Path) -> Any:
    from .app_commands import _client as app_client  # pyright: ignore[reportPrivateUsage]

    return app_client(app_script)


@keys_app.command(name="list")
@guarded
def list_keys(app_script: Path, /) -> int:
    """List the app's keys: id, name, prefix, requests per minute, active or revoked (never the
    key itself; it is shown once, when minted).

    Args:
        app_script: Path of the Python file that defines the `App`.
    """
    emit(_client(app_script).keys())
    return 0


@keys_app.command(name="revoke")
@guarded
def revoke(app_script: Path, /, *, key_id: str = "", app_header: bool = False) -> int:
    """Revoke one key by its id (from `ara keys list`); it stops working at once.

    Args:
        app_script: Path of the Python file that defines the `App`.
        key_id: The key's id (`rk_...` for a runtime key, `xk_...` for an app header key).
        app_header: The id is an app header key's (implied by an `xk_` id).
    """
    key = key_id.strip()
    if not key:
        raise CliError("ara keys revoke requires --key-id (see `ara keys list`)")
    emit(_client(app_script).revoke_key(key, app_header=app_header or key.startswith("xk_")))
    return 0
