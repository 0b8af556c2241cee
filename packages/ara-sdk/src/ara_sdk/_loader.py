"""Loading an app script the way the `ara` command does (spec §5.1 steps 9 and 10)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sys
import traceback
from pathlib import Path

from ._app import App
from .errors import AppLoadError

__all__ = ["load_app"]

MODULE_NAME = "ara_user_app"


def load_app(path: str | os.PathLike[str]) -> App:
    """Import an app script and return its `App`.

    The script runs as module `ara_user_app` with its own directory first on `sys.path` (so it can
    import modules next to it). A global named `app` is preferred when it is an `App`; otherwise
    the first `App` among the module's globals.

    Args:
        path: The script's path (`~` expanded).

    Returns:
        The app.

    Raises:
        AppLoadError: The script is missing (`Script not found: <path>`), breaks the project-name
            rule (with the allowed characters), fails to import (file, line and error, no
            traceback), or defines no `App` (`No App(...) instance found in script`).
    """
    script = Path(path).expanduser()
    with contextlib.suppress(OSError):
        script = script.resolve()
    if not script.is_file():
        raise AppLoadError(f"Script not found: {script}")
    spec = importlib.util.spec_from_file_location(MODULE_NAME, script)
    if spec is None or spec.loader is None:
        raise AppLoadError(f"Cannot load {script}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    directory = str(script.parent)
    sys.path.insert(0, directory)
    try:
        spec.loader.exec_module(module)
    except ValueError as exc:
        if "project_name must match" in str(exc):
            got = re.search(r"\(got (.*?)\):", str(exc))
            raise AppLoadError(
                f"Invalid project name in {_where(script, exc)}"
                + (f": {got.group(1)}" if got else "")
                + ".\n"
                "  A project_name may contain only lowercase letters, digits and hyphens (a-z, 0-9, -),\n"
                "  1-63 characters, starting and ending with a letter or digit (regex ^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$).\n"
                '  Example: App("my-app-1")'
            ) from None
        raise AppLoadError(_describe(script, exc)) from None
    except SyntaxError as exc:
        raise AppLoadError(f"{exc.filename or script}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:  # the user's module raised while importing
        raise AppLoadError(_describe(script, exc)) from None
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(directory)
    candidate = getattr(module, "app", None)
    if isinstance(candidate, App):
        return candidate
    for value in vars(module).values():
        if isinstance(value, App):
            return value
    raise AppLoadError(f'No App(...) instance found in script {script}; define one, e.g. app = App("my-app")')


def _where(script: Path, exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(script)]
    return f"{script}:{frames[-1].lineno}" if frames else str(script)


def _describe(script: Path, exc: BaseException) -> str:
    return f"{_where(script, exc)}: {type(exc).__name__}: {exc}"
