"""validate_manifest, the JSON Schema file, argument coercion and signatures."""

import json
from pathlib import Path

import pytest
from ara_core import (
    ArgumentError,
    DeclarationError,
    ManifestError,
    coerce_arguments,
    function_source,
    manifest_json_schema,
    signature_schema,
    validate_manifest,
)

REPO = Path(__file__).resolve().parents[3]


def _manifest(**over):
    base = {
        "name": "x",
        "slug": "x",
        "agent": {"agents": [{"id": "a"}], "default_agent_id": "a"},
        "workflows": [{"id": "a", "mode": "task", "agent_id": "a", "trigger": {"type": "api"}}],
    }
    base.update(over)
    return base


def test_valid_manifest_is_typed_and_the_raw_document_keeps_unknown_fields():
    doc = validate_manifest(json.dumps(_manifest(extra_field={"k": 1})))
    assert doc.raw["extra_field"] == {"k": 1}
    assert doc.raw["interfaces"] == {} and doc.raw["runtime_profile"] == {} and doc.raw["description"] == ""
    assert doc.manifest.name == "x"
    assert not hasattr(doc.manifest, "extra_field")


@pytest.mark.parametrize(
    ("manifest", "path", "fragment"),
    [
        (
            _manifest(
                workflows=[
                    {"id": "a"},
                    {"id": "b"},
                    {"id": "c", "trigger": {"type": "cron", "cron": "0 5-5 * * * *"}},
                ]
            ),
            "$.workflows[2].trigger.cron",
            "expected 5 fields",
        ),
        (_manifest(agent={"agents": [{"id": 3}]}), "$.agent.agents[0].id", "Expected `str`, got `int`"),
        (_manifest(name=""), "$.name", "non-empty"),
        (_manifest(workflows=[{"id": "r", "mode": "run"}]), "$.workflows[0].run.command", "need a command"),
        (
            _manifest(workflows=[{"id": "w", "agent_id": "ghost"}]),
            "$.workflows[0].agent_id",
            "names no agent",
        ),
        (
            _manifest(agent={"agents": [{"id": "a"}, {"id": "a"}]}),
            "$.agent.agents[1].id",
            "duplicate agent id",
        ),
    ],
)
def test_errors_carry_json_paths(manifest, path, fragment):
    with pytest.raises(ManifestError) as info:
        validate_manifest(manifest)
    paths = dict(info.value.errors)
    assert path in paths, info.value.errors
    assert fragment in paths[path]
    assert path in str(info.value)


def test_not_json():
    with pytest.raises(ManifestError, match="not valid JSON"):
        validate_manifest("{nope")


def test_schema_file_is_current():
    committed = json.loads((REPO / "docs" / "manifest.schema.json").read_text())
    assert committed == manifest_json_schema(), (
        "run: uv run python -m ara_core.schema > docs/manifest.schema.json"
    )


def test_coerce_arguments():
    schema = {
        "properties": {
            "i": {"type": "integer"},
            "f": {"type": "number"},
            "b": {"type": "boolean"},
            "o": {"type": "object"},
            "a": {"type": "array"},
            "s": {"type": "string"},
        }
    }
    assert coerce_arguments(
        schema, {"i": "2", "f": "1.5", "b": "yes", "o": '{"k": 1}', "a": "[1]", "s": 3, "x": "kept"}
    ) == {"i": 2, "f": 1.5, "b": True, "o": {"k": 1}, "a": [1], "s": "3", "x": "kept"}
    with pytest.raises(ArgumentError, match=r"`\$.i` must be integer, got 'two'"):
        coerce_arguments(schema, {"i": "two"})
    with pytest.raises(ArgumentError, match=r"`\$.b` must be boolean"):
        coerce_arguments(schema, {"b": "maybe"})


def sample(  # noqa: B006, B008
    a: int,
    b: float = 1.0,
    *args,
    c: bool = False,
    d: dict | None = None,
    e: list[int] = [],  # noqa: B006
    f=object(),  # noqa: B008
    **kw,  # noqa: B006, B008
) -> str:
    return ""


def test_signature_schema():
    assert signature_schema(sample) == {
        "type": "object",
        "properties": {
            "a": {"type": "integer"},
            "b": {"type": "number", "default": 1.0},
            "c": {"type": "boolean", "default": False},
            "d": {"type": "string", "default": None},
            "e": {"type": "array", "default": []},
            "f": {"type": "string"},
        },
        "required": ["a"],
    }


def test_function_source_strips_decorators_and_dedents():
    def deco(fn):
        return fn

    class Holder:
        @deco
        @deco
        def method(self, x):
            return x

    assert function_source(Holder.method) == "def method(self, x):\n    return x\n"
    with pytest.raises(DeclarationError, match="no lambdas"):
        function_source(lambda: 1)
