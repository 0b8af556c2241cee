"""Function sources as the manifest carries them: from the `def` line, dedented, no surrounding blank.

An app file is parsed at most once. The loader hands over the syntax tree it compiled the module
from (`remember_module`), so extracting the sources of a thousand tools reuses that one parse; a
function from a file the loader did not load (a test module, an imported helper) gets its file
parsed once on first use and cached by path, modification time and size.
"""

from __future__ import annotations

import ast
import inspect
import io
import itertools
import os
import textwrap
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ara_core import DeclarationError

__all__ = ["function_source", "remember_module"]


@dataclass(frozen=True, slots=True)
class _Index:
    """One parsed file: its lines and, for every `def`, the line the `def` keyword is on.

    Attributes:
        stamp: `(mtime_ns, size)` of the file when parsed, or None for text handed over by the loader.
        lines: The file's lines, newlines kept.
        defs: First line of a function (its first decorator or its `def`) -> (`def` line, is async).
    """

    stamp: tuple[int, int] | None
    lines: list[str]
    defs: dict[int, tuple[int, bool]]


_INDEX: dict[str, _Index] = {}
_NESTED = ("body", "orelse", "finalbody", "handlers", "cases")


def _build(tree: ast.Module, text: str, stamp: tuple[int, int] | None) -> _Index:
    defs: dict[int, tuple[int, bool]] = {}
    stack: list[Any] = list(tree.body)
    while stack:  # statements only: a def can only sit in a statement list
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            entry = (node.lineno, isinstance(node, ast.AsyncFunctionDef))
            defs[node.lineno] = entry
            for decorator in node.decorator_list:  # code objects start at the first decorator
                defs.setdefault(decorator.lineno, entry)
        for field in _NESTED:
            children = getattr(node, field, None)
            if isinstance(children, list):
                stack.extend(children)
    return _Index(stamp, io.StringIO(text).readlines(), defs)


def remember_module(filename: str, text: str, tree: ast.Module) -> None:
    """Keep the parse of a module the loader compiled, for source extraction of its functions.

    Args:
        filename: The module's file name, as its code objects report it.
        text: The decoded source text the tree was parsed from.
        tree: The parsed module.
    """
    try:
        st = os.stat(filename)
        stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = None
    _INDEX[filename] = _build(tree, text, stamp)


def _index(filename: str) -> _Index | None:
    try:
        st = os.stat(filename)
    except OSError:
        return _INDEX.get(filename)
    cached = _INDEX.get(filename)
    if cached is not None and cached.stamp in (None, (st.st_mtime_ns, st.st_size)):
        return cached
    try:
        with tokenize.open(filename) as fh:  # honours a coding cookie
            text = fh.read()
        tree = ast.parse(text, filename)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    index = _build(tree, text, (st.st_mtime_ns, st.st_size))
    _INDEX[filename] = index
    return index


def _block(lines: list[str], start: int) -> list[str]:
    """The lines of the block starting at `lines[start]`, found as `inspect.getsource` finds them.

    Tokenizes from `start` only as far as the block goes (no copy of the rest of the file).
    """
    finder = inspect.BlockFinder()
    try:
        for token in tokenize.generate_tokens(iter(itertools.islice(lines, start, None)).__next__):
            finder.tokeneater(*token)
    except (inspect.EndOfBlock, IndentationError, SyntaxError, tokenize.TokenError):
        pass
    return lines[start : start + max(finder.last, 1)]


def function_source(fn: Callable[..., Any], *, decorator: str) -> str:
    """The source the manifest ships for a function.

    The text runs from the `def` line (decorators dropped) to the end of the body as Python's
    own block finder sees it (comments indented like the body included), dedented, with leading
    and trailing whitespace stripped, so it never ends with a newline.

    Args:
        fn: A plain function defined with `def` in a source file.
        decorator: The decorator named in errors (`@app.agent`, `@app.tool`, `@ara.tool`).

    Returns:
        The source text, starting with `def `.

    Raises:
        DeclarationError: No retrievable source (a lambda, `exec`, the REPL): `<decorator> requires
            source-visible functions (no lambdas/dynamic defs)`; not a plain `def` (`async def`, a
            wrapper object): `<decorator> only supports standard def functions`.
    """
    code = getattr(fn, "__code__", None)
    if code is None or getattr(fn, "__name__", "") == "<lambda>":
        raise DeclarationError(f"{decorator} requires source-visible functions (no lambdas/dynamic defs)")
    index = _index(code.co_filename)
    found = index.defs.get(code.co_firstlineno) if index is not None else None
    if index is None or found is None:
        try:
            lines, _ = inspect.getsourcelines(fn)
        except (OSError, TypeError):
            raise DeclarationError(
                f"{decorator} requires source-visible functions (no lambdas/dynamic defs)"
            ) from None
        start = next((i for i, line in enumerate(lines) if line.lstrip().startswith(("def ", "async "))), 0)
        block = lines[start:]
    else:
        block = _block(index.lines, found[0] - 1)
    source = textwrap.dedent("".join(block)).strip()
    if not source.startswith("def "):
        raise DeclarationError(f"{decorator} only supports standard def functions")
    return source
