"""Function sources as the manifest carries them: from the `def` line, dedented, no surrounding blank.

No file is parsed for this. The function's code object already knows where it starts (its first
decorator) and, through the positions of its instructions, where its last statement ends; the
text comes from the lines the loader read when it compiled the module (`remember_module`), or from
`linecache` for a function defined elsewhere. So loading an app parses its file exactly once: when
Python compiles it.

The block ends where Python's own block finder (`inspect.getsource`) ends it: after the last
statement, plus any comment lines indented at least like the body, plus any deeper-indented
lines (a docstring-only body).
"""

from __future__ import annotations

import linecache
import os
from collections.abc import Callable
from types import CodeType
from typing import Any

from ara_core import DeclarationError

__all__ = ["function_source", "remember_module"]

# filename -> (stamp, lines); the stamp is (mtime_ns, size) of the file when read
_LINES: dict[str, tuple[tuple[int, int] | None, list[str]]] = {}


def remember_module(filename: str, text: str) -> None:
    """Keep the text of a module the loader is about to compile, for source extraction.

    Args:
        filename: The module's file name, as its code objects will report it.
        text: The decoded source text being compiled.
    """
    try:
        st = os.stat(filename)
        stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = None
    _LINES[filename] = (stamp, text.splitlines(keepends=True))


def _lines(filename: str) -> list[str]:
    cached = _LINES.get(filename)
    if cached is not None:
        try:
            st = os.stat(filename)
            if cached[0] is None or cached[0] == (st.st_mtime_ns, st.st_size):
                return cached[1]
        except OSError:
            return cached[1]
    return linecache.getlines(filename)


def _last_line(code: CodeType) -> int:
    """The last line any instruction of `code` (or of a function nested in it) spans."""
    last = code.co_firstlineno
    for _, end, _, _ in code.co_positions():
        if end is not None and end > last:
            last = end
    for const in code.co_consts:
        if isinstance(const, CodeType):
            last = max(last, _last_line(const))
    return last


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _block(lines: list[str], first: int, code: CodeType) -> list[str] | None:
    """The lines from the `def` line to the end of the body (0-based `first`: the decorator start)."""
    start = first
    while start < len(lines) and not lines[start].lstrip().startswith(("def ", "async def ")):
        start += 1
    if start >= len(lines):
        return None
    base = _indent(lines[start])
    end = max(_last_line(code), start + 1)  # 1-based, inclusive
    body = [_indent(line) for line in lines[start + 1 : end] if line.strip() and _indent(line) > base]
    body_col = min(body) if body else None
    i = end
    while i < len(lines):  # what Python's block finder keeps after the last statement
        text = lines[i]
        stripped = text.strip()
        if not stripped:
            i += 1
            continue
        col = _indent(text)
        if stripped.startswith("#"):
            if body_col is not None and col >= body_col:
                end = i + 1
            i += 1
            continue
        if col > base:
            end = i + 1
            i += 1
            continue
        break
    return lines[start:end]


def _dedent(lines: list[str]) -> str:
    margins = [_indent(line) for line in lines if line.strip()]
    cut = min(margins) if margins else 0
    if cut and all(
        line[:cut].strip(" \t") == "" and line[:cut] == lines[0][:cut] for line in lines if line.strip()
    ):
        return "".join(line[cut:] if line.strip() else line.lstrip(" \t") for line in lines)
    import textwrap

    return textwrap.dedent("".join(lines))


def function_source(fn: Callable[..., Any], *, decorator: str) -> str:
    """The source the manifest ships for a function.

    The text runs from the `def` line (decorators dropped) to the end of the body as Python's
    own block finder sees it, dedented, with leading and trailing whitespace stripped, so it never
    ends with a newline.

    Args:
        fn: A plain function defined with `def` in a source file.
        decorator: The decorator named in errors (`@app.agent`, `@app.tool`, `@ara.tool`).

    Returns:
        The source text, starting with `def `.

    Raises:
        DeclarationError: No retrievable source (a lambda, `exec`, the REPL): `<decorator> requires
            source-visible functions (no lambdas/dynamic defs)`; not a plain `def` (`async def`):
            `<decorator> only supports standard def functions`.
    """
    code = getattr(fn, "__code__", None)
    if not isinstance(code, CodeType) or getattr(fn, "__name__", "") == "<lambda>":
        raise DeclarationError(f"{decorator} requires source-visible functions (no lambdas/dynamic defs)")
    lines = _lines(code.co_filename)
    block = _block(lines, code.co_firstlineno - 1, code) if lines else None
    if not block:
        raise DeclarationError(f"{decorator} requires source-visible functions (no lambdas/dynamic defs)")
    source = _dedent(block).strip()
    if not source.startswith("def "):
        raise DeclarationError(f"{decorator} only supports standard def functions")
    return source
