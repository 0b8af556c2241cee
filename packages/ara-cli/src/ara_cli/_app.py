"""The cyclopts application behind `ara`, with commands registered lazily by import path."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from cyclopts import App, Parameter
from cyclopts.exceptions import CycloptsError

from ._registry import COMMANDS

__all__ = ["DEFAULT_PARAMETER", "build_app", "normalize_args", "run_app"]


def _shown_default(value: Any) -> str | None:
    """The `[default: ...]` text of a help entry; none for empty, absent or off values."""
    if value is None or isinstance(value, bool) or value == "" or value == () or value == []:
        return None
    return str(value)


#: Parameter defaults of every command: boolean flags without a `--no-` twin (commands that need one,
#: for an option that is on by default, name it), and no `[default: ...]` for empty values.
DEFAULT_PARAMETER = Parameter(negative=(), show_default=_shown_default)


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
        version_flags=["--version", "-V"],
        default_parameter=DEFAULT_PARAMETER,
        exit_on_error=False,
        print_error=True,
        help_on_error=False,
        result_action="return_value",
        help_format="markdown",
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
    args = normalize_args(args)
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


#: Flags the original CLI took as strings (`--warm true`, `--activate false`), now boolean flags.
#: Maps the flag to (the value that turns it on, the flag that turns it off).
_STRING_BOOLEANS: dict[str, tuple[Callable[[str], bool], str]] = {
    "--activate": (lambda v: v != "false", "--no-activate"),
    "--warm": (lambda v: v == "true", ""),
    "--ensure-runtime-key": (lambda v: v != "false", "--no-ensure-runtime-key"),
}
_BOOLEAN_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "1", "0"})


def normalize_args(args: list[str]) -> list[str]:
    """Accept the original CLI's spellings on top of ours.

    - `ara app.py [flags]` (a Python file as the first argument) means `ara deploy app.py [flags]`;
    - `--warm true`, `--activate false`, `--ensure-runtime-key false` (and `--flag=value`) become the
      boolean flags `--warm`, `--no-activate`, `--no-ensure-runtime-key`.

    Args:
        args: Arguments after the program name.

    Returns:
        The arguments cyclopts parses.
    """
    known = {name for c in COMMANDS for name in (c.name, *c.aliases)}
    if args and args[0] not in known and args[0].endswith(".py") and not args[0].startswith("-"):
        args = ["deploy", *args]
    out: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        flag, eq, inline = token.partition("=")
        if flag in _STRING_BOOLEANS:
            value = inline if eq else (args[i + 1] if i + 1 < len(args) else "")
            if eq or value.strip().lower() in _BOOLEAN_WORDS:
                is_on, off_flag = _STRING_BOOLEANS[flag]
                if is_on(value.strip().lower()):
                    out.append(flag)
                elif off_flag:
                    out.append(off_flag)
                i += 1 if eq else 2
                continue
        out.append(token)
        i += 1
    return out


def _version() -> str:
    from importlib.metadata import version

    return version("ara-cli")
