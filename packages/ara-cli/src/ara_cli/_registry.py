"""The table of `ara` commands: one source for lazy registration and the top-level help.

This module imports only the standard library, so `ara --help` prints without importing cyclopts,
httpx or the SDK (docs/benchmarks.md).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["COMMANDS", "Command", "is_one_shot", "render_help"]


class Command(NamedTuple):
    """One `ara` command.

    Attributes:
        name: The command word (`ara <name>`).
        target: Import path `module:function` (or `module:app` for a sub-app) registered lazily.
        summary: One line for the top-level help.
        group: Help section: `app` (needs an app script), `server`, `global` or `alias`.
        aliases: Other words for the same command.
        more: An extra help line printed under the summary.
        one_shot: The command makes a bounded number of API calls (or writes a few files) and
            exits: `ara` runs it without the cyclic garbage collector (see `ara_cli.__main__`).
            Commands that serve, stream without end or run the user's code keep it.
    """

    name: str
    target: str
    summary: str
    group: str
    aliases: tuple[str, ...] = ()
    more: str = ""
    one_shot: bool = False


_APP = "ara_cli._commands.app_commands"
_SERVER = "ara_cli._commands.server"
_SCAFFOLD = "ara_cli._commands.scaffold"

COMMANDS: tuple[Command, ...] = (
    Command(
        "deploy",
        f"{_APP}:deploy",
        "create or update the app, sync secrets, mint a runtime key",
        "app",
        ("up",),
        one_shot=True,
    ),
    Command("run", f"{_APP}:run", "run an agent and print the result", "app", one_shot=True),
    Command(
        "run-async",
        f"{_APP}:run_async",
        "submit a run without waiting (poll or webhook)",
        "app",
        one_shot=True,
    ),
    Command(
        "runs",
        "ara_cli._commands.runs_commands:runs",
        "list the app's runs, newest first",
        "app",
        one_shot=True,
    ),
    Command("run-status", f"{_APP}:run_status", "show (or --wait for) a run's status", "app", one_shot=True),
    Command("cancel", f"{_APP}:cancel", "cancel a queued or running run", "app", one_shot=True),
    Command("logs", f"{_APP}:logs", "stream the app's run logs", "app"),
    Command("events", f"{_APP}:events", "send an event (idempotent by key)", "app", one_shot=True),
    Command("setup", f"{_APP}:setup", "show the app's setup information", "app", one_shot=True),
    Command("setup-auth", f"{_APP}:setup_auth", "mint an app header key for callers", "app", one_shot=True),
    Command("invite", f"{_APP}:invite", "invite a viewer or member to the app", "app", one_shot=True),
    Command(
        "keys",
        "ara_cli._commands.keys:keys_app",
        "list or revoke the app's runtime and header keys",
        "app",
        one_shot=True,
    ),
    Command("local", f"{_APP}:local", "call the app's local entrypoint on this machine", "app"),
    Command("dev", f"{_SERVER}:dev", "run ara-server on 127.0.0.1 for local development", "server"),
    Command(
        "server", f"{_SERVER}:server", "run one ara-server node (JSON logs; nodes share a database)", "server"
    ),
    Command("demo", f"{_SERVER}:demo", "deploy and run an example app on a throwaway local server", "server"),
    Command(
        "auth",
        "ara_cli._commands.auth:auth_app",
        "login/whoami/logout for CLI auth",
        "global",
        more="rotate: rotate your API key (ara auth rotate)",
    ),
    Command(
        "runtime",
        "ara_cli._commands.runtime:runtime_app",
        "runtime capabilities, tools, skills, and control APIs",
        "global",
    ),
    Command(
        "session",
        "ara_cli._commands.runtime:session_app",
        "start/status/stop authenticated cloud sessions",
        "global",
    ),
    Command("start", "ara_cli._commands.runtime:start", "shorthand for `ara runtime session start`", "alias"),
    Command(
        "status", "ara_cli._commands.runtime:status", "shorthand for `ara runtime session status`", "alias"
    ),
    Command("stop", "ara_cli._commands.runtime:stop", "shorthand for `ara runtime session stop`", "alias"),
    Command(
        "init",
        f"{_SCAFFOLD}:init",
        "create a new app (app.py, a test, README, .env.example)",
        "project",
        one_shot=True,
    ),
    Command(
        "completion", f"{_SCAFFOLD}:completion", "print a shell completion script", "project", one_shot=True
    ),
)


def render_help(prog: str = "ara") -> str:
    """Return the top-level help text, keeping the original CLI's wording.

    Args:
        prog: The program name shown in the usage lines.

    Returns:
        The help text, ending with a newline.
    """

    def section(group: str) -> list[str]:
        rows = [c for c in COMMANDS if c.group == group]
        width = max((len(_label(c)) for c in rows), default=0)
        lines: list[str] = []
        for c in rows:
            lines.append(f"  {_label(c).ljust(width)}   {c.summary}")
            if c.more:
                lines.append(f"  {''.ljust(width)}   {c.more}")
        return lines

    lines = [
        f"Usage: {prog} <command> <app_script.py> [args...]",
        f"       {prog} <global-command> [args...]",
        f"       {prog} <app_script.py> [args...]   (same as `{prog} deploy <app_script.py>`)",
        f"       {prog} --version",
        "",
        "App commands (require <app_script.py>):",
        *section("app"),
        "",
        "Local server (no app script required):",
        *section("server"),
        "",
        "Global command groups (no app script required):",
        *section("global"),
        "",
        "Project:",
        *section("project"),
        "",
        "Global aliases (no app script required):",
        *section("alias"),
        "",
        "Examples:",
        f"  {prog} demo",
        f"  {prog} dev",
        f"  {prog} deploy app.py",
        f'  {prog} run app.py --agent booking_coordinator --message "hello"',
        "",
        "More help:",
        f"  {prog} <command> --help",
    ]
    return "\n".join(lines) + "\n"


def is_one_shot(args: list[str]) -> bool:
    """Whether the command line `args` (after the program name) runs a one-shot command.

    `ara app.py ...` is `ara deploy app.py ...`.

    Args:
        args: The arguments, e.g. `["run", "app.py", "--agent", "a"]`.

    Returns:
        True for a command with `one_shot` set (or one of its aliases); False otherwise, and for
        an unknown word.
    """
    if not args:
        return False
    word = args[0]
    if word.endswith(".py") and not word.startswith("-"):
        word = "deploy"
    return any(c.one_shot and word in (c.name, *c.aliases) for c in COMMANDS)


def _label(command: Command) -> str:
    return ", ".join((command.name, *command.aliases))
