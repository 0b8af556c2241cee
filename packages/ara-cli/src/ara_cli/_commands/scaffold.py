"""`ara init NAME`: scaffold a new app, and `ara completion`: shell completion scripts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from .._output import guarded
from ..errors import CliError

__all__ = ["completion", "init", "scaffold_files"]

_APP_PY = '''"""{name}: an Ara app.

Deploy with `ara deploy app.py`, run with `ara run app.py --agent assistant`.
"""

from ara_sdk import App

app = App("{name}")


@app.tool()
def word_count(text: str) -> dict:
    """Count the words and characters of a text."""
    return {{"words": len(text.split()), "characters": len(text)}}


@app.agent(entrypoint=True)
def assistant(input: dict) -> str:
    """Answers questions about a text."""
    return (
        "You help the user with their text. Use the word_count tool to measure it, "
        "then answer in one sentence."
    )
'''

_TEST_PY = '''"""Tests for {name}: tools are plain functions, and the manifest is what ara deploys."""

from app import app, word_count


def test_word_count():
    assert word_count("hello ara world") == {{"words": 3, "characters": 15}}


def test_manifest():
    manifest = app.manifest
    assert manifest["slug"] == "{name}"
    assert manifest["agent"]["default_agent_id"] == "assistant"
    assert [t["function"]["name"] for t in manifest["agent"]["tools"]] == ["word_count"]
'''

_README = """# {name}

An [Ara](https://github.com/) agent app.

```bash
ara dev                                   # shell 1: a local ara-server (or set ARA_API_BASE_URL/ARA_API_KEY)
ara deploy app.py                         # shell 2
ara run app.py --agent assistant --input text="hello ara world"
pytest                                    # the app's tests
```

Secrets: copy `.env.example` to `.env` and declare them with `runtime(secrets=[Secret.from_dotenv()])`.
"""

_ENV_EXAMPLE = """# Variables for this app. Copy to .env (never commit .env).
# ARA_API_BASE_URL=http://127.0.0.1:8780
# ARA_API_KEY=
# ARA_MODEL_BASE_URL=https://api.openai.com/v1
# ARA_MODEL_API_KEY=
"""

_GITIGNORE = """.env
.runtime-key.local
.runtime-keys.local
.app-header-key.local
__pycache__/
"""


def scaffold_files(name: str) -> dict[str, str]:
    """Return the files of a new app named `name` (relative path -> text)."""
    return {
        "app.py": _APP_PY.format(name=name),
        "test_app.py": _TEST_PY.format(name=name),
        "README.md": _README.format(name=name),
        ".env.example": _ENV_EXAMPLE,
        ".gitignore": _GITIGNORE,
    }


@guarded
def init(name: str, /, *, directory: Path | None = None, force: bool = False) -> int:
    """Create a new app: app.py (a tool and an agent), a test, README.md and .env.example.

    Args:
        name: The app's project name: 1-63 lowercase letters, digits and hyphens, starting and
            ending with a letter or digit, e.g. `my-app-1`.
        directory: Where to create it (default `./<name>`).
        force: Write into an existing non-empty directory (existing files are kept unless they
            are among the scaffold's files).
    """
    from ara_core import PROJECT_NAME_PATTERN, slugify

    if not PROJECT_NAME_PATTERN.match(name):
        hint = slugify(name)[:63].strip("-") or "my-app"
        raise CliError(
            f"invalid app name {name!r}: use 1-63 lowercase letters, digits and hyphens, "
            f"starting and ending with a letter or digit (e.g. {hint!r})"
        )
    target = (directory or Path(name)).expanduser()
    if target.exists() and any(target.iterdir()) and not force:
        raise CliError(f"{target} exists and is not empty; choose another --directory or pass --force")
    target.mkdir(parents=True, exist_ok=True)
    for rel, text in scaffold_files(name).items():
        (target / rel).write_text(text, encoding="utf-8")
    sys.stdout.write(
        f"Created {target}/ (app.py, test_app.py, README.md, .env.example)\n"
        f"Next: cd {target} && ara deploy app.py && ara run app.py --agent assistant --input text=hi\n"
    )
    return 0


def completion(shell: Literal["bash", "zsh", "fish"] = "bash", /) -> int:
    """Print a shell completion script for `ara`.

    Install, e.g.: `ara completion bash > ~/.local/share/bash-completion/completions/ara`.

    Args:
        shell: `bash`, `zsh` or `fish`.
    """
    from .._app import build_app

    sys.stdout.write(build_app().generate_completion(shell=shell))
    return 0
