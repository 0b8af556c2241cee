"""`python -m ara_sdk ...`: the `ara` command (from the ara-cli package)."""

from __future__ import annotations

import sys

from ._cli_bridge import CliNotInstalledError, cli_main


def main() -> int:
    """Run the `ara` command with this process's arguments and return its exit code."""
    try:
        run = cli_main()
    except CliNotInstalledError as exc:
        sys.stderr.write(f"python -m ara_sdk: {exc}\n")
        return 1
    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
