"""Our manifests equal the original SDK's byte for byte.

The golden files were produced by the published ara-sdk (0.1.30, 0.1.45, 0.1.58) loading the same
fixture apps, used as a black box (`golden/make_golden.py`); both sides are printed with the
same `json.dumps` options.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "golden"))

from ara_sdk import load_app  # noqa: E402
from golden_cases import CASES, Case, dumps  # noqa: E402  # pyright: ignore[reportMissingImports]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.name}-{c.version}" for c in CASES])
def test_manifest_equals_the_originals_byte_for_byte(case: Case) -> None:
    expected = case.golden.read_text()
    assert dumps(load_app(case.app).manifest) == expected


def test_every_generation_is_covered() -> None:
    assert {c.version for c in CASES} == {"0.1.30", "0.1.45", "0.1.58"}
    assert all(c.golden.is_file() for c in CASES)


def test_no_captured_source_ends_with_a_newline() -> None:
    for case in CASES:
        manifest = load_app(case.app).manifest
        rows = [*manifest["agent"].get("tools", []), *manifest["agent"].get("agents", [])]
        sources = [r.get("source") or r.get("prompt_factory", {}).get("source") for r in rows]
        sources = [s for s in sources if s is not None]
        assert sources and all(s.startswith("def ") and s == s.strip() for s in sources), case.name


@pytest.mark.parametrize("case", CASES, ids=[f"{c.name}-{c.version}" for c in CASES])
def test_the_typed_manifest_validates_and_encodes_to_the_same_bytes(case: Case) -> None:
    import json

    from ara_core import encode_manifest
    from ara_sdk._compiler import wire_manifest

    app = load_app(case.app)
    document = app.validate()
    wire = wire_manifest(app.manifest)
    assert document.raw == wire
    if "model" in wire["agent"]:  # a key of the user's own `App(agent=...)`: kept in `raw` only
        return
    assert encode_manifest(document.manifest) == json.dumps(wire, separators=(",", ":")).encode()
