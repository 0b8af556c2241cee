"""Captured sources end where Python's own block finder ends them, without a trailing newline."""

from __future__ import annotations

import importlib.util
import inspect
import textwrap
from pathlib import Path
from types import ModuleType

import pytest
from ara_sdk._source import function_source

SHAPES = Path(__file__).parent / "apps" / "source_shapes.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("source_shapes", SHAPES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reference(fn: object) -> str:
    lines, _ = inspect.getsourcelines(fn)  # type: ignore[arg-type]
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("def "))
    return textwrap.dedent("".join(lines[start:])).strip()


@pytest.mark.parametrize("name", list("abcdefghk"))
def test_source_matches_the_block_finder(name: str) -> None:
    fn = getattr(_module(), name)
    assert function_source(fn, decorator="@app.tool") == _reference(fn)


def test_lambdas_and_async_functions_are_rejected() -> None:
    async def coro() -> None:
        pass

    with pytest.raises(ValueError, match="source-visible"):
        function_source(lambda: None, decorator="@app.tool")
    with pytest.raises(ValueError, match="only supports standard def functions"):
        function_source(coro, decorator="@app.tool")
