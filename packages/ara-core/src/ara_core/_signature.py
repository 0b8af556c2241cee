"""Function signatures and sources: the JSON schema of parameters and the source text
shipped in manifests, extracted in linear time per module."""

from __future__ import annotations

import ast
import inspect
import io
import json
import os
import textwrap
import tokenize
import typing
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple, cast

from .errors import DeclarationError

__all__ = ["FunctionSource", "UnresolvedAnnotationWarning", "function_source", "signature_schema"]

_SCALARS: dict[Any, str] = {str: "string", bool: "boolean", int: "integer", float: "number", dict: "object"}
_ARRAYS = (list, tuple, set)


def _json_type(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty or annotation is None or isinstance(annotation, str):
        return "string"
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    if annotation in _ARRAYS:
        return "array"
    origin = typing.get_origin(annotation)
    if origin is dict:
        return "object"
    if origin in _ARRAYS:
        return "array"
    return "string"


def _json_default(value: Any) -> tuple[bool, Any]:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False, None
    return True, value


class UnresolvedAnnotationWarning(UserWarning):
    """A parameter's annotation is a string (e.g. under ``from __future__ import annotations``) that
    cannot be evaluated in the function's module, so its JSON schema type falls back to ``string``."""


def _resolve(annotation: str, fn: Callable[..., Any]) -> Any:
    namespace: dict[str, Any] = dict(getattr(fn, "__globals__", {}))
    return eval(annotation, namespace)  # noqa: S307 - the app's own annotation, as typing.get_type_hints does


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - one bad annotation; the others are resolved one by one below
        return {}


def signature_schema(fn: Callable[..., Any], *, resolve_string_annotations: bool = True) -> dict[str, Any]:
    """Return the JSON schema of a function's parameters.

    Positional-or-keyword and keyword-only parameters are included; `str`, missing or `None`
    annotations give `string`, `bool` boolean, `int` integer, `float` number, `dict`/`dict[...]`
    object, `list`/`tuple`/`set` (bare or subscripted) array, anything else (`Optional`, unions,
    classes) string. A JSON-serialisable default adds `"default"`; parameters without a default are
    `required`.

    String annotations (``from __future__ import annotations``, or quoted types) are evaluated in
    the function's module, as `typing.get_type_hints` does, so ``add(a: int, b: int)`` gives two
    integers either way. An annotation that cannot be evaluated (a name imported only under
    ``TYPE_CHECKING``, a class local to another function) falls back to `string` with an
    `UnresolvedAnnotationWarning` naming the function and the parameter.

    Args:
        fn: Any callable with an inspectable signature.
        resolve_string_annotations: ``False`` maps every string annotation to `string` without
            evaluating it, as the original SDK did (default ``True``).

    Returns:
        `{"type": "object", "properties": {...}, "required": [...]}`.
    """
    hints = _hints(fn) if resolve_string_annotations else {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            continue
        annotation: Any = hints.get(param.name, param.annotation)
        if isinstance(annotation, str) and resolve_string_annotations:
            try:
                annotation = _resolve(annotation, fn)
            except Exception as exc:  # noqa: BLE001 - any failure to evaluate means "cannot resolve"
                warnings.warn(
                    f"{getattr(fn, '__qualname__', fn)!s}: the annotation {annotation!r} of parameter "
                    f"{param.name!r} cannot be resolved ({type(exc).__name__}: {exc}); its JSON schema "
                    "type falls back to 'string'. Import the name at module level (not only under "
                    "TYPE_CHECKING), or pass parameters= explicitly.",
                    UnresolvedAnnotationWarning,
                    stacklevel=2,
                )
        prop: dict[str, Any] = {"type": _json_type(annotation)}
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
        else:
            ok, value = _json_default(param.default)
            if ok:
                prop["default"] = value
        properties[param.name] = prop
    return {"type": "object", "properties": properties, "required": required}


class FunctionSource(NamedTuple):
    """Where a function's definition sits in its file (1-based, inclusive lines).

    Attributes:
        decorator_start: First line of the first decorator (or of the `def`).
        def_start: Line of the `def` keyword.
        end: Last line of the body.
        is_async: Whether it is an `async def`.
    """

    decorator_start: int
    def_start: int
    end: int
    is_async: bool


# filename -> (mtime_ns, size, lines, {def line: FunctionSource})
_FILE_INDEX: dict[str, tuple[int, int, list[str], dict[int, FunctionSource]]] = {}


def _index_file(filename: str) -> tuple[list[str], dict[int, FunctionSource]] | None:
    try:
        stat = os.stat(filename)
    except OSError:
        return None
    cached = _FILE_INDEX.get(filename)
    if cached and cached[0] == stat.st_mtime_ns and cached[1] == stat.st_size:
        return cached[2], cached[3]
    try:
        with tokenize.open(filename) as fh:  # honours a PEP 263 coding cookie
            text = fh.read()
        tree = ast.parse(text, filename)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    index: dict[int, FunctionSource] = {}
    for node in _function_defs(tree.body):
        first = min([d.lineno for d in node.decorator_list] + [node.lineno])
        entry = FunctionSource(
            first, node.lineno, node.end_lineno or node.lineno, isinstance(node, ast.AsyncFunctionDef)
        )
        index[node.lineno] = entry
        for dec in node.decorator_list:  # code objects may report a decorator's line on 3.11
            index.setdefault(dec.lineno, entry)
    lines = io.StringIO(text).readlines()  # split on "\n" only, as line numbers count (not on \f etc.)
    _FILE_INDEX[filename] = (stat.st_mtime_ns, stat.st_size, lines, index)
    return lines, index


_NESTED_STATEMENTS = ("body", "orelse", "finalbody", "handlers", "cases")


def _function_defs(body: list[ast.stmt]) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Every `def` in a module, nested ones included, visiting statements only (never expressions).

    A `def` is a statement, so it can only sit in statement lists (`body`, `orelse`, `finalbody`,
    exception handlers, `match` cases); skipping expression subtrees makes this several times faster
    than `ast.walk` on typical code.
    """
    found: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    stack: list[Any] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node)
        for field in _NESTED_STATEMENTS:
            children: object = getattr(node, field, None)
            if isinstance(children, list):
                stack.extend(cast("list[Any]", children))
    return found


def function_source(fn: Callable[..., Any], *, decorator: str = "@app.agent") -> str:
    """Return a function's source without its decorator lines, dedented.

    Each file is parsed once (cached by path, modification time and size), so extracting the
    sources of N functions of one module is linear in the module's size, where
    `inspect.getsource` re-scans the file for every function.

    Args:
        fn: A plain function defined with `def` in a source file.
        decorator: The decorator name used in error messages (`@app.agent`, `@app.tool`).

    Returns:
        The dedented source, starting with `def `.

    Raises:
        DeclarationError: The function has no retrievable source (lambda, `exec`, REPL) — message
            `<decorator> requires source-visible functions (no lambdas/dynamic defs)` — or is not a
            standard `def` (`<decorator> only supports standard def functions`).
    """
    code = getattr(fn, "__code__", None)
    if code is None or getattr(fn, "__name__", "") == "<lambda>":
        raise DeclarationError(f"{decorator} requires source-visible functions (no lambdas/dynamic defs)")
    indexed = _index_file(code.co_filename)
    entry = indexed[1].get(code.co_firstlineno) if indexed else None
    if indexed is None or entry is None:
        try:
            raw = inspect.getsource(fn)
        except (OSError, TypeError):
            raise DeclarationError(
                f"{decorator} requires source-visible functions (no lambdas/dynamic defs)"
            ) from None
        source = _strip_decorators(textwrap.dedent(raw))
    else:
        lines = indexed[0]
        source = textwrap.dedent("".join(lines[entry.def_start - 1 : entry.end]))
    if not source.startswith("def "):
        raise DeclarationError(f"{decorator} only supports standard def functions")
    return source


def _strip_decorators(source: str) -> str:
    lines = source.splitlines(keepends=True)
    i = 0
    while i < len(lines) and not lines[i].lstrip().startswith(("def ", "async def ")):
        i += 1
    return "".join(lines[i:]) if i < len(lines) else source
