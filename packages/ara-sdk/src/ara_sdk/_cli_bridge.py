"""The command-line entry points of earlier SDK generations, dispatched to the `ara` command.

`run_cli(app)`, `run_auth_cli(argv)` and `run_runtime_cli(argv)` keep app files and scripts
written for earlier versions working. They hand over to the `ara` command of the `ara-cli`
package, imported only when called (the SDK itself does not depend on the CLI).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import AppLoadError

if TYPE_CHECKING:
    from ._app import App

__all__ = ["cli_main", "run_auth_cli", "run_cli", "run_runtime_cli"]

_INSTALL_HINT = (
    "the `ara` command line is in the ara-cli package, which is not installed; "
    "install it with `pip install ara-cli` (or `uv add ara-cli`)"
)


class CliNotInstalledError(ModuleNotFoundError):
    """`ara-cli` is needed for a command-line entry point but is not installed."""


def cli_main() -> Callable[[list[str]], int]:
    """The `main(argv) -> exit code` function of the `ara` command.

    Raises:
        CliNotInstalledError: `ara-cli` is not installed (the message says how to install it).
    """
    try:
        module = importlib.import_module("ara_cli.__main__")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "ara_cli":
            raise CliNotInstalledError(_INSTALL_HINT, name="ara_cli") from None
        raise
    return module.main


def _finish(code: int) -> int:
    if code:
        raise SystemExit(code)
    return code


def run_cli(
    app_or_manifest: App | Mapping[str, Any],
    argv: Sequence[str] | None = None,
    *,
    default_command: str = "deploy",
) -> int:
    """Run the `ara` command for an app, as `python app.py <command> [flags]` does.

    Put `run_cli(app)` (or `app.cli()`) at the end of an app file; `python app.py run --agent x`
    then equals `ara run app.py --agent x`. While the `ara` command itself imports the file, the
    call does nothing, so the line is safe with or without an `if __name__ == "__main__":` guard.

    Args:
        app_or_manifest: The app. (A plain manifest dict cannot be run: the command needs the file.)
        argv: The command and its flags (default `sys.argv[1:]`); empty runs `default_command`.
        default_command: The command when none is given (default `deploy`).

    Returns:
        0 on success.

    Raises:
        SystemExit: The command failed (its exit code).
        AppLoadError: A manifest dict was given, or the app was not created in a file.
        CliNotInstalledError: `ara-cli` is not installed.
    """
    from ._app import App
    from ._loader import loading

    if loading():
        return 0
    if not isinstance(app_or_manifest, App):
        raise AppLoadError(
            "run_cli(...) needs the App of an app file; for a manifest dict, write the app with App(...) "
            "in a file and run `ara <command> <file>`"
        )
    script = app_or_manifest._script  # pyright: ignore[reportPrivateUsage]
    if not script:
        raise AppLoadError("run_cli(app): the app was not created in a file; save it in app.py and run it")
    args = list(sys.argv[1:] if argv is None else argv)
    command, rest = (args[0], args[1:]) if args and not args[0].startswith("-") else (default_command, args)
    return _finish(cli_main()([command, script, *rest]))


def run_auth_cli(argv: Sequence[str] | None = None) -> int:
    """`ara auth ...`: log in, show who you are, log out, rotate the API key.

    Args:
        argv: The auth subcommand and flags (default `sys.argv[1:]`).

    Returns:
        0 on success.

    Raises:
        SystemExit: The command failed (its exit code).
        CliNotInstalledError: `ara-cli` is not installed.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    return _finish(cli_main()(["auth", *args]))


def run_runtime_cli(argv: Sequence[str] | None = None) -> int:
    """`ara runtime ...`: sessions, tools, skills and control calls of the runtime.

    Args:
        argv: The runtime subcommand and flags (default `sys.argv[1:]`).

    Returns:
        0 on success.

    Raises:
        SystemExit: The command failed (its exit code).
        CliNotInstalledError: `ara-cli` is not installed.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    return _finish(cli_main()(["runtime", *args]))
