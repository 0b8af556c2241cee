"""`ara_sdk.core`: the module earlier SDK generations exported; it holds the same names as `ara_sdk`."""

from __future__ import annotations

from typing import Any

import ara_sdk as _sdk

__all__ = [name for name in _sdk.__all__ if name != "core"]  # pyright: ignore[reportUnsupportedDunderAll]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(_sdk, name)
    raise AttributeError(f"module 'ara_sdk.core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
