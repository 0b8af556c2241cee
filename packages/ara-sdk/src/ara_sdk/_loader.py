"""Loading an app script the way the `ara` command does.

The script is read once and parsed once: the loader compiles the text itself and keeps it for
source extraction, which reads line numbers from the compiled functions (no second parse, no
tokenizing), so a file with a thousand tools costs one compile.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from ._app import App, ProjectNameError
from ._source import remember_module
from .errors import AppLoadError

__all__ = ["load_app", "loading"]

MODULE_NAME = "ara_user_app"

_LOADING: list[str] = []


def loading() -> bool:
    """Whether an app script is being imported by `load_app` right now (then `run_cli` does nothing)."""
    return bool(_LOADING)


@contextlib.contextmanager
def _loading(script: Path) -> Iterator[None]:
    _LOADING.append(str(script))
    try:
        yield
    finally:
        _LOADING.pop()


def load_app(path: str | os.PathLike[str]) -> App:
    """Import an app script and return its `App` (or the app behind its `ara.Job(...)`).

    The script runs as module `ara_user_app` with its own directory first on `sys.path` (so it can
    import modules next to it). A global named `app` is preferred when it is an `App`; otherwise
    the first `App` among the module's globals, then the app of the first `Job`, then the app that
    module-level `ara.Job(...)` calls registered for the script.

    Args:
        path: The script's path (`~` expanded).

    Returns:
        The app.

    Raises:
        AppLoadError: The script is missing (`Script not found: <path>`), breaks the project-name
            rule (with the allowed characters), fails to import (file, line and error, no
            traceback), or defines no app (`No App(...) instance found in script`).
    """
    script = Path(path).expanduser()
    with contextlib.suppress(OSError):
        script = script.resolve()
    if not script.is_file():
        raise AppLoadError(f"Script not found: {script}")
    module = _import(script)
    return find_app(module, script)


def _import(script: Path) -> ModuleType:
    import importlib.util
    import io
    import tokenize

    from ._job import forget_module_app

    filename = str(script)
    try:
        raw = script.read_bytes()
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        text = raw.decode(encoding)
        code = compile(text, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise AppLoadError(f"{exc.filename or script}:{exc.lineno}: syntax error: {exc.msg}") from None
    except (OSError, UnicodeDecodeError, LookupError, ValueError) as exc:
        raise AppLoadError(f"Cannot read {script}: {exc}") from None
    remember_module(filename, text)
    spec = importlib.util.spec_from_file_location(MODULE_NAME, script)
    if spec is None:
        raise AppLoadError(f"Cannot load {script}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    forget_module_app(MODULE_NAME)
    directory = str(script.parent)
    sys.path.insert(0, directory)
    try:
        with _loading(script):
            exec(code, module.__dict__)
    except ProjectNameError as exc:
        raise AppLoadError(
            f"Invalid project name in {_where(script, exc)}: {exc.value!r}.\n"
            "  A project_name may contain only lowercase letters, digits and hyphens (a-z, 0-9, -),\n"
            "  1-63 characters, starting and ending with a letter or digit "
            "(regex ^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$).\n"
            '  Example: App("my-app-1")'
        ) from None
    except SyntaxError as exc:
        raise AppLoadError(f"{exc.filename or script}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:  # the user's module raised while importing
        raise AppLoadError(_describe(script, exc)) from None
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(directory)
    return module


def find_app(module: ModuleType, script: Path | str) -> App:
    """The app a loaded module declares (see `load_app` for the order).

    Raises:
        AppLoadError: The module declares no app.
    """
    from ._job import Job, module_app

    candidate = getattr(module, "app", None)
    if isinstance(candidate, App):
        return candidate
    values = list(vars(module).values())
    for value in values:
        if isinstance(value, App):
            return value
    for value in values:
        if isinstance(value, Job):
            return value.app
    registered = module_app(module.__name__)
    if registered is not None:
        return registered
    raise AppLoadError(
        f'No App(...) instance found in script {script}; define one, e.g. app = App("my-app"), '
        'or declare a job, e.g. ara.Job("my-job")'
    )


def _where(script: Path, exc: BaseException) -> str:
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(script)]
    return f"{script}:{frames[-1].lineno}" if frames else str(script)


def _describe(script: Path, exc: BaseException) -> str:
    return f"{_where(script, exc)}: {type(exc).__name__}: {exc}"
