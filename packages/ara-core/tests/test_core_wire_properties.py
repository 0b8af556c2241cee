"""Property: any manifest whose keys follow the wire order survives decode → encode byte for byte,
and validation of it never raises anything but ManifestError."""

from __future__ import annotations

from typing import Any

import msgspec
from ara_core import ManifestError, decode_manifest, encode_manifest, validate_manifest
from hypothesis import given, settings
from hypothesis import strategies as st

_ids = st.text(alphabet="abcdefghij-_0123", min_size=1, max_size=8)
_text = st.text(max_size=12)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)


def _ordered(*fields: tuple[str, st.SearchStrategy[Any], bool]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict with the given keys in order; keys marked optional may be left out."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, strategy, optional in fields:
            if optional and draw(st.booleans()):
                continue
            out[key] = draw(strategy)
        return out

    return build()


_run = st.one_of(
    _ordered(("type", st.just("agent"), False), ("agent_id", _ids, False), ("input", _json, True)),
    _ordered(
        ("type", st.just("tool"), False),
        ("tool_name", _ids, False),
        ("args", st.dictionaries(_ids, _json, max_size=2), False),
    ),
)
_schedule = _ordered(
    ("id", _ids, False),
    ("kind", st.sampled_from(["cron", "every"]), False),
    ("cron", st.just("0 9 * * *"), True),
    ("timezone", st.sampled_from(["UTC", "Europe/London"]), True),
    ("every_seconds", st.integers(60, 10_000), True),
    ("run", _run, True),
    ("one_shot_at", st.just("2030-01-02T03:04:05Z"), True),
)
_trigger = _ordered(
    ("type", st.sampled_from(["api", "cron"]), False),
    ("event", _ids, True),
    ("cron", st.just("0 * * * *"), True),
    ("schedule", st.just("0 * * * *"), True),
    ("timezone", st.just("UTC"), True),
    ("one_shot_at", st.just("2030-01-02T03:04:05Z"), True),
)
_step = _ordered(
    ("id", _ids, False),
    ("kind", st.sampled_from(["tool", "agent"]), False),
    ("tool_name", _ids, True),
    ("agent_id", _ids, True),
    ("args", st.dictionaries(_ids, _json, max_size=2), True),
    ("input", _json, True),
)
_workflow = _ordered(
    ("id", _ids, False),
    ("mode", st.sampled_from(["task", "run", "pipeline"]), True),
    ("agent_id", _ids, True),
    ("task", _text, True),
    ("run", _ordered(("command", _text, True)), True),
    ("pipeline", st.lists(_step, max_size=2), True),
    ("schedule", st.sampled_from(["", "0 9 * * *"]), True),
    ("trigger", _trigger, True),
)
_agent = _ordered(
    ("id", _ids, False),
    ("task", _text, True),
    ("instructions", _text, True),
    ("persona", _text, True),
    ("schedules", st.lists(_schedule, max_size=2), True),
    ("handoff_to", st.lists(_ids, max_size=2), True),
    ("always_on", st.booleans(), True),
    ("entrypoint", st.booleans(), True),
    (
        "prompt_factory",
        _ordered(
            ("function_name", _ids, False), ("source", _text, False), ("parameters", st.just({}), False)
        ),
        True,
    ),
    ("skills", st.lists(_ids, max_size=2), True),
    ("runtime", st.dictionaries(_ids, _json, max_size=2), True),
    ("sandbox", st.dictionaries(_ids, _json, max_size=2), True),
)
_tool = _ordered(
    ("type", st.just("function"), True),
    (
        "function",
        _ordered(("name", _ids, False), ("description", _text, False), ("parameters", st.just({}), False)),
        True,
    ),
    ("function_name", _ids, True),
    ("source", _text, True),
    ("schedules", st.lists(_schedule, max_size=1), True),
    ("required_env", st.lists(_ids, max_size=2), True),
    ("id", _ids, True),
)
_manifest = _ordered(
    ("name", _text, False),
    ("slug", _ids, True),
    ("description", _text, True),
    (
        "agent",
        _ordered(
            ("agents", st.lists(_agent, max_size=3), True),
            ("default_agent_id", _ids, True),
            ("tools", st.lists(_tool, max_size=2), True),
        ),
        True,
    ),
    ("workflows", st.lists(_workflow, max_size=3), True),
    ("interfaces", st.dictionaries(_ids, _json, max_size=2), True),
    ("runtime_profile", st.dictionaries(_ids, _json, max_size=2), True),
)


@settings(max_examples=300, deadline=None)
@given(_manifest)
def test_wire_ordered_manifests_round_trip(document: dict[str, Any]) -> None:
    raw = msgspec.json.encode(document)
    assert encode_manifest(decode_manifest(raw)) == raw


@settings(max_examples=300, deadline=None)
@given(_manifest)
def test_validation_raises_only_manifest_errors_with_paths(document: dict[str, Any]) -> None:
    try:
        doc = validate_manifest(document)
    except ManifestError as exc:
        assert exc.errors and all(path.startswith("$") and message for path, message in exc.errors)
    else:
        assert msgspec.json.encode(doc.manifest) == msgspec.json.encode(document)
