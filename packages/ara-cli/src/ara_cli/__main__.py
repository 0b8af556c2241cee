"""Entry point of the `ara` command.

`ara --help` is answered from the command table without importing cyclopts or the SDK; every other
invocation builds the cyclopts app, whose commands import their modules only when they run.

Start-up and exit of the `ara` process (not of `main()` called in-process):

- a one-shot command (`ara run`, `ara deploy`, ... see `Command.one_shot`) runs with the cyclic
  garbage collector off: its memory is bounded by a few API calls, and the collector would otherwise
  walk the objects of every module being imported, again and again;
- when the command returns, every object is frozen (`gc.freeze()`), so the interpreter's final
  collections at exit do not walk the whole heap. Exit handlers, buffered output and finalizers run
  as usual.

Together they take about 35 ms of CPU off an `ara run` (docs/benchmarks.md).
"""

from __future__ import annotations

import gc
import os
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the `ara` command line.

    Args:
        argv: Arguments after the program name; `None` (the `ara` process itself) reads
            `sys.argv[1:]` and applies the start-up and exit tuning described above.

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
    process = argv is None
    if process:
        from ._registry import is_one_shot

        if is_one_shot(args):
            gc.disable()
    from ._app import run_app

    try:
        return run_app(args, prog=prog)
    finally:
        if process:
            gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
