"""signature_schema (spec §2.10) and function_source (spec §1.3): shapes, errors, linear-time caching."""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
import textwrap
from pathlib import Path

import ara_core._signature as sig
import pytest
from ara_core import DeclarationError, UnresolvedAnnotationWarning, function_source, signature_schema
from inline_snapshot import snapshot


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def test_schema_types_without_postponed_annotations(tmp_path):
    # This test module uses `from __future__ import annotations`, so real types come from a module without it.
    path = tmp_path / "typed_mod.py"
    path.write_text(
        textwrap.dedent("""
        from typing import Optional

        def f(s: str, b: bool, i: int, x: float, d: dict, dd: dict[str, int], l: list, lt: list[int],
              t: tuple[int, ...], st: set, o: Optional[int] = None, u: int | str = 1, none: None = None,
              bare="k") -> str:
            return ""

        def g(p, /, q, *args, r: int = 2, **kw):
            return q
    """)
    )
    mod2 = _load(path, "typed_mod")
    assert signature_schema(mod2.f) == snapshot(
        {
            "type": "object",
            "properties": {
                "s": {"type": "string"},
                "b": {"type": "boolean"},
                "i": {"type": "integer"},
                "x": {"type": "number"},
                "d": {"type": "object"},
                "dd": {"type": "object"},
                "l": {"type": "array"},
                "lt": {"type": "array"},
                "t": {"type": "array"},
                "st": {"type": "array"},
                "o": {"type": "string", "default": None},
                "u": {"type": "string", "default": 1},
                "none": {"type": "string", "default": None},
                "bare": {"type": "string", "default": "k"},
            },
            "required": ["s", "b", "i", "x", "d", "dd", "l", "lt", "t", "st"],
        }
    )
    assert signature_schema(mod2.g) == {
        "type": "object",
        "properties": {"q": {"type": "string"}, "r": {"type": "integer", "default": 2}},
        "required": ["q"],
    }


def test_postponed_annotations_are_resolved_and_unserialisable_defaults_are_dropped():
    def f(a: int, b: dict = {"k": 1}, c: object = object(), d: list[str] | None = None) -> str:  # noqa: B006, B008
        return ""

    # This module uses `from __future__ import annotations`: every annotation above is a string.
    assert signature_schema(f) == snapshot(
        {
            "type": "object",
            "properties": {
                "a": {"type": "integer"},
                "b": {"type": "object", "default": {"k": 1}},
                "c": {"type": "string"},
                "d": {"type": "string", "default": None},
            },
            "required": ["a"],
        }
    )
    # The original SDK's reading (every string annotation is a string) stays available.
    assert signature_schema(f, resolve_string_annotations=False)["properties"]["a"] == {"type": "string"}


def test_add_under_postponed_annotations_takes_integers(tmp_path):
    path = tmp_path / "adder.py"
    path.write_text(
        "from __future__ import annotations\n\ndef add(a: int, b: int) -> int:\n    return a + b\n"
    )
    mod = _load(path, "adder")
    assert signature_schema(mod.add)["properties"] == {"a": {"type": "integer"}, "b": {"type": "integer"}}


def test_an_unresolvable_annotation_warns_naming_the_parameter(tmp_path):
    path = tmp_path / "lazy_types.py"
    path.write_text(
        textwrap.dedent("""
        from __future__ import annotations
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from decimal import Decimal

        def price(amount: Decimal, count: int, note: "str" = "") -> Missing:
            return amount
    """)
    )
    mod = _load(path, "lazy_types")
    with pytest.warns(
        UnresolvedAnnotationWarning, match=r"parameter 'amount' cannot be resolved \(NameError"
    ):
        schema = signature_schema(mod.price)
    assert schema["properties"] == {
        "amount": {"type": "string"},
        "count": {"type": "integer"},
        "note": {"type": "string", "default": ""},
    }


def _write_module(path: Path, n: int) -> None:
    parts = ["def deco(*a, **k):\n    return lambda fn: fn\n\n"]
    for i in range(n):
        parts.append(
            f'@deco(\n    "multi-line",\n    n={i},\n)\n@deco()\n'
            f'def fn_{i}(x: int = {i}) -> int:\n    """Doc {i}."""\n    return x + {i}\n\n\n'
        )
    parts.append("class K:\n    @deco()\n    def method(self):\n        if True:\n            return 1\n")
    path.write_text("".join(parts))


def test_function_source_parses_each_file_once_and_strips_multiline_decorators(tmp_path, monkeypatch):
    path = tmp_path / "many_fns.py"
    _write_module(path, 50)
    mod = _load(path, "many_fns")
    calls = []
    real_parse = ast.parse
    monkeypatch.setattr(
        sig.ast,  # pyright: ignore[reportPrivateImportUsage]
        "parse",
        lambda *a, **k: calls.append(a[1] if len(a) > 1 else "") or real_parse(*a, **k),
    )
    sources = [function_source(getattr(mod, f"fn_{i}")) for i in range(50)]
    assert len(calls) == 1
    assert sources[7] == 'def fn_7(x: int = 7) -> int:\n    """Doc 7."""\n    return x + 7\n'
    assert function_source(mod.K.method) == "def method(self):\n    if True:\n        return 1\n"
    assert len(calls) == 1


def test_function_source_reparses_a_changed_file(tmp_path):
    path = tmp_path / "changing.py"
    path.write_text("def f():\n    return 1\n")
    first = _load(path, "changing")
    assert function_source(first.f) == "def f():\n    return 1\n"
    path.write_text("# a comment shifts the lines\n\ndef f():\n    return 22\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = _load(path, "changing")
    assert function_source(second.f) == "def f():\n    return 22\n"


def test_function_source_errors_name_the_decorator():
    namespace: dict = {}
    exec("def dyn(x):\n    return x\n", namespace)  # noqa: S102 - a dynamic def has no source file
    with pytest.raises(
        DeclarationError, match=r"^@app\.tool requires source-visible functions \(no lambdas/dynamic defs\)$"
    ):
        function_source(namespace["dyn"], decorator="@app.tool")
    with pytest.raises(DeclarationError, match=r"^@app\.agent requires source-visible functions"):
        function_source(lambda x: x)

    async def coro(x):
        return x

    with pytest.raises(DeclarationError, match=r"^@app\.tool only supports standard def functions$"):
        function_source(coro, decorator="@app.tool")
    with pytest.raises(DeclarationError, match="source-visible"):
        function_source(len)  # a builtin has no __code__


def test_nested_function_is_dedented():
    def outer():
        def inner(a: str) -> str:
            return a.upper()

        return inner

    assert function_source(outer()) == "def inner(a: str) -> str:\n    return a.upper()\n"
