"""`ara runtime ...`, `ara session ...` and the `start`/`status`/`stop` aliases."""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from cyclopts import App, Parameter

from .._inputs import parse_pairs
from .._output import emit, guarded
from ..errors import CliError
from .automation import automation_app, files_app, session_exec, session_keepalive

__all__ = ["runtime_app", "session_app", "start", "status", "stop"]

runtime_app = App(
    name="runtime", help="runtime capabilities, tools, skills, and control APIs", help_format="markdown"
)
session_app = App(
    name="session", help="start/status/stop authenticated cloud sessions", help_format="markdown"
)
skills_app = App(name="skills", help="skills of a session", help_format="markdown")
tools_app = App(name="tools", help="list or execute a session's tools", help_format="markdown")
control_app = App(
    name="control", help="runtime control actions (needs the app UI open)", help_format="markdown"
)
runtime_app.command(session_app)
runtime_app.command(skills_app)
runtime_app.command(tools_app)
runtime_app.command(control_app)
runtime_app.command(automation_app)
runtime_app.command(files_app)
session_app.command(guarded(session_exec), name="exec")
session_app.command(guarded(session_keepalive), name="keepalive")

Session = Annotated[str, Parameter(name="--session", help="Session id, e.g. sess-123.")]
Args = Annotated[list[str] | None, Parameter(name="--arg", negative="", help="key=value, repeatable")]


def _rt() -> Any:
    from ara_http import CredentialsError
    from ara_sdk import AraRuntimeClient

    try:
        return AraRuntimeClient.from_env(cwd=os.getcwd())
    except CredentialsError as exc:
        raise CliError(f"ara runtime: {exc}") from None


@session_app.command(name="start")
@guarded
def session_start() -> int:
    """Start your session (`POST /session/start`)."""
    emit(_rt().session_start())
    return 0


@session_app.command(name="status")
@guarded
def session_status() -> int:
    """Show your session's status (`GET /session/status`)."""
    emit(_rt().session_status())
    return 0


@session_app.command(name="stop")
@guarded
def session_stop() -> int:
    """Stop your session (`POST /session/stop`)."""
    emit(_rt().session_stop())
    return 0


start, status, stop = session_start, session_status, session_stop


@runtime_app.command
@guarded
def capabilities(*, session: Session, agent: str = "") -> int:
    """Show a session's tools, skills, agents and control actions.

    Args:
        session: Session id.
        agent: Restrict to one agent.
    """
    emit(_rt().capabilities(session_id=session, agent_id=agent))
    return 0


@skills_app.command(name="list")
@guarded
def skills_list(*, session: Session) -> int:
    """List a session's skills.

    Args:
        session: Session id.
    """
    emit(_rt().skills(session_id=session))
    return 0


@tools_app.command(name="list")
@guarded
def tools_list(
    *, session: Session, kind: Literal["all", "builtin", "app", "connector"] = "all", agent: str = ""
) -> int:
    """List a session's tools.

    Args:
        session: Session id.
        kind: `all`, `builtin`, `app` or `connector`.
        agent: Restrict to one agent.
    """
    emit(_rt().tools(session_id=session, kind=kind, agent_id=agent))
    return 0


@tools_app.command(name="execute")
@guarded
def tools_execute(*, session: Session, tool: str = "", agent: str = "", arg: Args = None) -> int:
    """Execute a tool in the session's sandbox directly, without the model.

    Args:
        session: Session id.
        tool: Tool name, e.g. `exec` or `read_file` (required).
        agent: Run as this agent.
        arg: Tool arguments as `key=value`, repeatable.
    """
    if not tool.strip():
        raise CliError("ara runtime: tools execute requires --tool")
    emit(
        _rt().execute_tool(
            session_id=session,
            tool_name=tool.strip(),
            args=parse_pairs(arg, flag="--arg"),
            agent_id=agent or None,
        )
    )
    return 0


@control_app.command(name="actions")
@guarded
def control_actions(*, session: Session) -> int:
    """List the runtime control actions.

    Args:
        session: Session id.
    """
    emit(_rt().control_actions(session_id=session))
    return 0


@control_app.command(name="call")
@guarded
def control_call(*, session: Session, action: str = "", timeout_ms: int = 8000, arg: Args = None) -> int:
    """Trigger a runtime control action.

    Args:
        session: Session id.
        action: Action id, e.g. `list_windows` (required).
        timeout_ms: How long the action may take, in milliseconds.
        arg: Action arguments as `key=value`, repeatable.
    """
    if not action.strip():
        raise CliError("ara runtime: control call requires --action")
    emit(
        _rt().control_call(
            session_id=session,
            action=action.strip(),
            args=parse_pairs(arg, flag="--arg"),
            timeout_ms=timeout_ms,
        )
    )
    return 0
