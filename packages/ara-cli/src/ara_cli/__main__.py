"""Entry point of the `ara` command.

`ara --help` is answered from the command table without importing cyclopts or the SDK; every other
invocation builds the cyclopts app, whose commands import their modules only when they run.
"""

from __future__ import annotations

import os
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the `ara` command line.

    Args:
        argv: Arguments after the program name; defaults to `sys.argv[1:]`.

    Returns:
        The process exit code: 0 on success, 1 when a command fails, 2 for a usage error.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    invoked = os.path.basename(sys.argv[0]) if argv is None and sys.argv else ""
    prog = invoked if invoked in ("ara", "ara-sdk") else "ara"
    if "--json" in args:  # global flag: JSON output for any command
        args = [a for a in args if a != "--json"]
        os.environ["ARA_OUTPUT"] = "json"
    if args and args[0] in ("-h", "--help", "help"):
        from ._registry import render_help

        sys.stdout.write(render_help(prog))
        return 0
    if args in (["--version"], ["-V"]):
        from importlib.metadata import version

        sys.stdout.write(version("ara-cli") + "\n")
        return 0
    if not args:
        from ._registry import render_help

        sys.stderr.write(render_help(prog))
        return 2
    from ._app import run_app

    return run_app(args, prog=prog)


if __name__ == "__main__":
    sys.exit(main())
