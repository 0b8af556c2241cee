"""Each package's `__all__` is sorted, complete for its public names, and importable (httpx style)."""

import importlib

import pytest

PACKAGES = ["ara_core", "ara_http", "ara_sdk", "ara_server", "ara_server.engine"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_importable(name):
    module = importlib.import_module(name)
    exported = module.__all__
    assert exported == sorted(exported)
    assert len(set(exported)) == len(exported)
    for member in exported:
        assert hasattr(module, member), f"{name}.{member}"
    public = {
        n
        for n in vars(module)
        if not n.startswith("_") and not isinstance(getattr(module, n), type(importlib))
    }
    assert public <= set(exported), (
        f"public names missing from {name}.__all__: {sorted(public - set(exported))}"
    )
