"""The cyclopts application behind `ara`, with commands registered lazily by import path."""

from __future__ import annotations

import sys

from cyclopts import App
from cyclopts.exceptions import CycloptsError

from ._registry import COMMANDS

__all__ = ["build_app", "run_app"]


def build_app(prog: str = "ara") -> App:
    """Build the `ara` cyclopts app; command modules are imported only when a command runs.

    Args:
        prog: Program name used in usage lines.

    Returns:
        The configured `cyclopts.App`.
    """
    app = App(
        name=prog,
        help="ara: build, deploy and run Ara agent apps, against api.ara.so or your own ara-server.",
        version=_version,
        exit_on_error=False,
        print_error=True,
        help_on_error=False,
        result_action="return_value",
        help_format="plaintext",
    )
    for command in COMMANDS:
        app.command(command.target, name=command.name, alias=command.aliases or None)
    return app


def run_app(args: list[str], *, prog: str = "ara") -> int:
    """Parse `args`, run the command and return the exit code (2 for usage errors).

    Args:
        args: Arguments after the program name.
        prog: Program name used in usage lines.

    Returns:
        The exit code.
    """
    app = build_app(prog)
    try:
        result = app(args)
    except CycloptsError:
        known = {name for c in COMMANDS for name in (c.name, *c.aliases)}
        where = f"{prog} {args[0]}" if args and args[0] in known else prog
        sys.stderr.write(f"Run '{where} --help' for usage.\n")
        return 2
    except KeyboardInterrupt:
        return 130
    return result if isinstance(result, int) else 0


def _version() -> str:
    from importlib.metadata import version

    return version("ara-cli")
