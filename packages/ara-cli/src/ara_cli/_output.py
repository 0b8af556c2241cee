"""Printing command results: JSON (the original SDK's format) or readable text on a terminal."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from ara_core import AraError

__all__ = ["emit", "emit_json", "fail", "guarded", "json_wanted", "render_run", "render_text"]

P = ParamSpec("P")
R = TypeVar("R")


def json_wanted() -> bool:
    """JSON output: asked for with `--json` (`ARA_OUTPUT=json`), or stdout is not a terminal."""
    mode = os.environ.get("ARA_OUTPUT", "").strip().lower()
    if mode == "json":
        return True
    if mode == "text":
        return False
    return not sys.stdout.isatty()


def emit_json(value: Any) -> None:
    """Print `value` as indented JSON (`json.dumps(result, indent=2)`, as the original CLI)."""
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")
    sys.stdout.flush()


def render_text(value: Any, indent: int = 0) -> str:
    """Render JSON-like data readably: `key: value` lines, nested blocks indented, lists as `- `."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return f"{pad}(none)\n"
        out = []
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                out.append(f"{pad}{key}:\n{render_text(item, indent + 1)}")
            else:
                out.append(f"{pad}{key}: {_scalar(item)}\n")
        return "".join(out)
    if isinstance(value, list):
        if not value:
            return f"{pad}(none)\n"
        out = []
        for item in value:
            if isinstance(item, dict | list) and item:
                block = render_text(item, indent + 1)
                out.append(f"{pad}- {block.lstrip()}")
            else:
                out.append(f"{pad}- {_scalar(item)}\n")
        return "".join(out)
    return f"{pad}{_scalar(value)}\n"


def _scalar(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return "(none)"
    text = str(value)
    return text.replace("\n", "\n    ") if "\n" in text else text


def emit(value: Any) -> None:
    """Print a command result: JSON when `json_wanted()`, else `render_text`."""
    if json_wanted():
        emit_json(value)
    else:
        sys.stdout.write(render_text(value))
        sys.stdout.flush()


def fail(message: str, code: int = 1) -> int:
    """Print `error: <message>` to stderr and return `code`."""
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    return code


def guarded(fn: Callable[P, R]) -> Callable[P, R | int]:
    """Turn the errors a user can cause into a message and exit code 1, never a traceback.

    Caught: every `AraError` (bad declarations and manifests, failed API calls, missing
    credentials, `CliError`) and `OSError` (files the user named, ports in use). Anything else is a
    bug and propagates with its traceback.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | int:
        try:
            return fn(*args, **kwargs)
        except (AraError, OSError) as exc:
            return fail((str(exc) or type(exc).__name__) + _server_detail(exc))

    return wrapper


def _server_detail(exc: BaseException) -> str:
    """The message of an ara-server JSON error body (`{"error": {"message"}}`), as an extra line.

    The exception text itself stays the original SDK's (body hidden); the structured message of an
    ara-server error is written for users and holds no secrets, so the CLI shows it.
    """
    if "ara_http" not in sys.modules:  # an ApiError can only exist once ara_http is imported
        return ""
    from ara_http import ApiError

    if not isinstance(exc, ApiError) or exc.body_shown:
        return ""
    message = exc.server_message
    return f"\n  server: {message}" if message else ""


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_run(response: Mapping[str, Any]) -> str:
    """Render a run response readably: the tool calls with arguments and results, then the output.

    Args:
        response: The JSON body of `POST /v1/apps/{app_id}/run` (docs/architecture.md).

    Returns:
        Multi-line text ending with a newline.
    """
    lines: list[str] = []
    trace = [e for e in response.get("trace") or [] if isinstance(e, dict)]
    calls = [e for e in trace if e.get("type") == "tool_call"]
    if not calls:
        result = response.get("result") or {}
        calls = [
            {
                "tool": c.get("name"),
                "arguments": c.get("arguments"),
                "result": c.get("result"),
                "error": c.get("error"),
            }
            for c in (result.get("tool_calls") or [])
            if isinstance(c, dict)
        ]
    if calls:
        lines.append("Tool calls:")
        for i, call in enumerate(calls, 1):
            args = call.get("arguments") or {}
            arg_text = ", ".join(f"{k}={_short(v, 60)}" for k, v in args.items())
            ms = call.get("duration_ms")
            timing = f"  ({ms:.0f} ms)" if isinstance(ms, int | float) else ""
            lines.append(f"  {i}. {call.get('tool')}({arg_text}){timing}")
            if call.get("error"):
                lines.append(f"     ! {call['error']}")
            else:
                lines.append(f"     -> {_short(call.get('result'))}")
        lines.append("")
    result = response.get("result") or {}
    output = result.get("output_text") if isinstance(result, dict) else None
    status = response.get("status", "")
    if output:
        lines.append("Result:")
        lines.extend(f"  {line}" for line in str(output).splitlines())
        lines.append("")
    if response.get("error"):
        lines.append(f"Error: {response['error']}")
    lines.append(f"run {response.get('run_id', '?')} {status}".rstrip())
    return "\n".join(lines) + "\n"
